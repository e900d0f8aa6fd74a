package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpsecrets"
)

var (
	_ resource.Resource                   = (*gcpSecretConnectionResource)(nil)
	_ resource.ResourceWithConfigure      = (*gcpSecretConnectionResource)(nil)
	_ resource.ResourceWithImportState    = (*gcpSecretConnectionResource)(nil)
	_ resource.ResourceWithValidateConfig = (*gcpSecretConnectionResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*gcpSecretConnectionResource)(nil)
)

// NewGCPSecretConnectionResource returns the
// airflowiam_gcp_secret_connection resource.
func NewGCPSecretConnectionResource() resource.Resource {
	return &gcpSecretConnectionResource{}
}

type gcpSecretConnectionResource struct {
	data *providerData
}

type gcpSecretConnectionModel struct {
	secretConnectionModel
	ID          types.String `tfsdk:"id"`
	Project     types.String `tfsdk:"project"`
	KMSKeyName  types.String `tfsdk:"kms_key_name"`
	Replication types.Object `tfsdk:"replication"`
	Labels      types.Map    `tfsdk:"labels"`
	SecretID    types.String `tfsdk:"secret_id"`
	SecretName  types.String `tfsdk:"secret_name"`
}

type replicationModel struct {
	Replicas []replicaModel `tfsdk:"replicas"`
}

type replicaModel struct {
	Location   types.String `tfsdk:"location"`
	KMSKeyName types.String `tfsdk:"kms_key_name"`
}

var (
	replicaAttrTypes     = map[string]attr.Type{"location": types.StringType, "kms_key_name": types.StringType}
	replicationAttrTypes = map[string]attr.Type{"replicas": types.ListType{ElemType: types.ObjectType{AttrTypes: replicaAttrTypes}}}
)

var gcpSecretBackend = &secretBackend{
	name:             "Secret Manager",
	defaultPrefix:    gcpsecrets.DefaultPrefix,
	defaultSeparator: gcpsecrets.DefaultSeparator,
	namePattern:      regexp.MustCompile(`^[A-Za-z0-9_-]*$`),
	nameRule:         "ASCII letters, digits, underscores and hyphens",
	idPattern:        regexp.MustCompile(`^[A-Za-z0-9_-]+$`),
	idRule:           "ASCII letters, digits, underscores and hyphens (no dots: Secret Manager IDs cannot hold them)",
	checkName:        gcpsecrets.CheckID,
	decode:           airflow.DecodeSecretValue,
}

// objectAsOptions reads a nested object into its model.
var objectAsOptions = basetypes.ObjectAsOptions{}

func (r *gcpSecretConnectionResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_gcp_secret_connection"
}

func (r *gcpSecretConnectionResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := gcpSecretBackend.connectionAttributes()
	attrs["id"] = schema.StringAttribute{
		Computed:            true,
		MarkdownDescription: "`projects/<project>/secrets/<secret_id>`.",
		PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
	attrs["project"] = schema.StringAttribute{
		Required:            true,
		MarkdownDescription: "The ID of the project that holds the secret. Changing it replaces the secret.",
		PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
		Validators:          []validator.String{stringvalidator.RegexMatches(projectIDPattern, "must be a project ID")},
	}
	attrs["kms_key_name"] = schema.StringAttribute{
		Optional: true,
		MarkdownDescription: "The Cloud KMS key (`" + gcpsecrets.KeyNameForm + "`, in location `global`) that encrypts the " +
			"versions of an automatically replicated secret. With `replication`, give each replica its own key instead. " +
			"Secret Manager encrypts only versions added after a key change, so a change of key also writes the connection " +
			"as a new version and disables the old one. Secret Manager's service agent " +
			"needs `roles/cloudkms.cryptoKeyEncrypterDecrypter` on the key.",
		Validators: []validator.String{
			kmsKeyNameValidator{location: "global"},
			stringvalidator.ConflictsWith(path.MatchRoot("replication")),
		},
	}
	attrs["replication"] = schema.SingleNestedAttribute{
		Optional: true,
		MarkdownDescription: "User-managed replication: the locations that hold the secret, each with an optional Cloud KMS key " +
			"in the same location. Unset, Secret Manager replicates automatically. Changing the locations replaces the secret " +
			"(Secret Manager cannot change them); changing only the keys writes a new version under the new keys.",
		Attributes: map[string]schema.Attribute{
			"replicas": schema.ListNestedAttribute{
				Required:            true,
				MarkdownDescription: "The replicas, at least one, each location once.",
				Validators:          []validator.List{listvalidator.SizeAtLeast(1)},
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"location": schema.StringAttribute{
							Required:            true,
							MarkdownDescription: "A Google Cloud location, for example `europe-west1`.",
							Validators:          []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^[a-z]+-[a-z]+\d+$`), "must be a location such as europe-west1")},
						},
						"kms_key_name": schema.StringAttribute{
							Optional:            true,
							MarkdownDescription: "The Cloud KMS key of this replica (`" + gcpsecrets.KeyNameForm + "`), in the replica's location.",
							Validators:          []validator.String{kmsKeyNameValidator{}},
						},
					},
				},
			},
		},
		PlanModifiers: []planmodifier.Object{objectplanmodifier.RequiresReplaceIf(replicationLocationsChanged,
			"Secret Manager cannot change a secret's replication locations, so changing them replaces the secret.",
			"Secret Manager cannot change a secret's replication locations, so changing them replaces the secret.")},
	}
	attrs["labels"] = schema.MapAttribute{
		ElementType:         types.StringType,
		Optional:            true,
		Computed:            true,
		Default:             mapdefault.StaticValue(types.MapValueMust(types.StringType, nil)),
		MarkdownDescription: "Labels on the secret, exclusively. Default: none.",
	}
	attrs["secret_id"] = schema.StringAttribute{
		Computed:            true,
		MarkdownDescription: "The secret's ID: `prefix`, `separator` and `connection_id`, as `CloudSecretManagerBackend` looks it up.",
		PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
	attrs["secret_name"] = schema.StringAttribute{
		Computed:            true,
		MarkdownDescription: "The secret's resource name as Google returns it (`projects/<number>/secrets/<secret_id>`), for IAM bindings.",
		PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "One Airflow connection kept in Google Secret Manager, named and written as Airflow's " +
			"`CloudSecretManagerBackend` (from `apache-airflow-providers-google`) reads it: the secret `" + gcpsecrets.DefaultPrefix +
			gcpsecrets.DefaultSeparator + "<connection_id>` holds the connection's URI or JSON form in its latest version.\n\n" +
			"An update adds a version and then disables the one it supersedes; nothing is destroyed until the resource is " +
			"destroyed, which deletes the secret with its versions.\n\n" +
			"Drift is read from the `latest` version, as Airflow reads it: any field changed out of band (the password too when " +
			"it is kept in state with `password`), a latest version that was disabled, the keys, the labels, and a deleted " +
			"secret all show in the next plan. The connection's `description` is not kept: the URI form has no place for it.",
		Attributes: attrs,
	}
}

// replicationLocationsChanged requires replacement when the replication's
// kind or locations change; a change of keys alone is an update.
func replicationLocationsChanged(ctx context.Context, req planmodifier.ObjectRequest, resp *objectplanmodifier.RequiresReplaceIfFuncResponse) {
	if req.State.Raw.IsNull() || req.PlanValue.IsUnknown() {
		return
	}
	prior, d1 := replicasOf(ctx, req.StateValue)
	planned, d2 := replicasOf(ctx, req.PlanValue)
	resp.Diagnostics.Append(d1...)
	resp.Diagnostics.Append(d2...)
	resp.RequiresReplace = !gcpsecrets.SameLocations(prior, planned)
}

// replicasOf turns a replication value into replicas; nil means automatic.
func replicasOf(ctx context.Context, v types.Object) ([]gcpsecrets.Replica, diag.Diagnostics) {
	if v.IsNull() || v.IsUnknown() {
		return nil, nil
	}
	var m replicationModel
	diags := v.As(ctx, &m, objectAsOptions)
	out := []gcpsecrets.Replica{}
	for _, r := range m.Replicas {
		out = append(out, gcpsecrets.Replica{Location: r.Location.ValueString(), KMSKeyName: r.KMSKeyName.ValueString()})
	}
	return out, diags
}

func replicationValue(replicas []gcpsecrets.Replica) (types.Object, diag.Diagnostics) {
	if replicas == nil {
		return types.ObjectNull(replicationAttrTypes), nil
	}
	m := replicationModel{Replicas: []replicaModel{}}
	for _, r := range replicas {
		key := types.StringNull()
		if r.KMSKeyName != "" {
			key = types.StringValue(r.KMSKeyName)
		}
		m.Replicas = append(m.Replicas, replicaModel{Location: types.StringValue(r.Location), KMSKeyName: key})
	}
	return types.ObjectValueFrom(context.Background(), replicationAttrTypes, m)
}

func (r *gcpSecretConnectionResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *gcpSecretConnectionResource) client(addError func(string, string)) *gcpsecrets.Client {
	return gcpSecretsClientFrom(r.data, addError)
}

func (r *gcpSecretConnectionResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var config gcpSecretConnectionModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(gcpSecretBackend.validate(config.secretConnectionModel)...)
	if config.Replication.IsNull() || config.Replication.IsUnknown() {
		return
	}
	var m replicationModel
	resp.Diagnostics.Append(config.Replication.As(ctx, &m, objectAsOptions)...)
	seen := map[string]bool{}
	for i, rep := range m.Replicas {
		if rep.Location.IsUnknown() || rep.KMSKeyName.IsUnknown() {
			continue
		}
		at := path.Root("replication").AtName("replicas").AtListIndex(i)
		loc := rep.Location.ValueString()
		if seen[loc] {
			resp.Diagnostics.AddAttributeError(at.AtName("location"), "Duplicate Replica Location",
				fmt.Sprintf("replication.replicas[%d].location: %q appears more than once; each location holds one replica.", i, loc))
		}
		seen[loc] = true
		if rep.KMSKeyName.IsNull() {
			continue
		}
		if keyLoc, err := gcpsecrets.KeyLocation(rep.KMSKeyName.ValueString()); err == nil && keyLoc != loc {
			resp.Diagnostics.AddAttributeError(at.AtName("kms_key_name"), "Key In Another Location",
				fmt.Sprintf("replication.replicas[%d].kms_key_name: the key of the replica in %q is in %q; Secret Manager needs a key in the replica's own location.", i, loc, keyLoc))
		}
	}
}

// ModifyPlan shows the secret ID and the ID in the plan.
func (r *gcpSecretConnectionResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan gcpSecretConnectionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !known(plan.ConnectionID, plan.Prefix, plan.Separator, plan.Project) {
		return
	}
	secretID := gcpSecretBackend.secretName(&plan.secretConnectionModel)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("secret_id"), secretID)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), gcpsecrets.SecretPath(plan.Project.ValueString(), secretID))...)
}

func (r *gcpSecretConnectionResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	client := r.client(resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var plan gcpSecretConnectionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var passwordWO types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("password_wo"), &passwordWO)...)
	labels := map[string]string{}
	resp.Diagnostics.Append(plan.Labels.ElementsAs(ctx, &labels, false)...)
	replicas, d := replicasOf(ctx, plan.Replication)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	value, err := plan.value(passwordWO)
	if err != nil {
		resp.Diagnostics.AddError("Connection Cannot Be Written", err.Error())
		return
	}
	secretID := gcpSecretBackend.secretName(&plan.secretConnectionModel)
	tflog.Debug(ctx, "creating Secret Manager secret", map[string]any{"project": plan.Project.ValueString(), "secret_id": secretID})
	secret, err := client.Create(ctx, gcpsecrets.CreateInput{
		Project: plan.Project.ValueString(), SecretID: secretID, KMSKeyName: plan.KMSKeyName.ValueString(),
		Replicas: replicas, Labels: labels, Value: value,
	})
	if err != nil {
		if errors.Is(err, gcpsecrets.ErrExists) {
			resp.Diagnostics.AddAttributeError(path.Root("connection_id"), "Secret Already Exists",
				fmt.Sprintf("%s.\n\nTo manage an existing secret with Terraform, import it: "+
					"terraform import airflowiam_gcp_secret_connection.NAME %s", err, gcpsecrets.SecretPath(plan.Project.ValueString(), secretID)))
			return
		}
		resp.Diagnostics.AddError("Error Creating Secret", googleErrorDetail(err))
		return
	}
	state := plan
	state.ID = types.StringValue(gcpsecrets.SecretPath(plan.Project.ValueString(), secretID))
	state.SecretID = types.StringValue(secretID)
	state.SecretName = types.StringValue(secret.Name)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *gcpSecretConnectionResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	client := r.client(resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var state gcpSecretConnectionModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	secretPath := gcpsecrets.SecretPath(state.Project.ValueString(), gcpSecretBackend.secretName(&state.secretConnectionModel))
	secret, err := client.Get(ctx, secretPath)
	if errors.Is(err, gcpsecrets.ErrNotFound) {
		tflog.Warn(ctx, "secret no longer exists; removing it from state", map[string]any{"secret": secretPath})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Error Reading Secret", googleErrorDetail(err))
		return
	}
	state.ID = types.StringValue(secretPath)
	state.SecretID = types.StringValue(gcpSecretBackend.secretName(&state.secretConnectionModel))
	state.SecretName = types.StringValue(secret.Name)
	state.KMSKeyName = types.StringNull()
	if secret.KMSKeyName != "" {
		state.KMSKeyName = types.StringValue(secret.KMSKeyName)
	}
	replication, d := replicationValue(secret.Replicas)
	resp.Diagnostics.Append(d...)
	state.Replication = replication
	labels, d := types.MapValueFrom(ctx, types.StringType, secret.Labels)
	resp.Diagnostics.Append(d...)
	if secret.Labels == nil {
		labels = types.MapValueMust(types.StringType, map[string]attr.Value{})
	}
	state.Labels = labels

	version, value, err := client.Latest(ctx, secret.Name)
	switch {
	case errors.Is(err, gcpsecrets.ErrNoReadableVersion):
		what := "has no version"
		if version != nil {
			what = fmt.Sprintf("has its latest version %s in state %s", version.Name, version.State)
		}
		resp.Diagnostics.AddWarning("Secret Not Readable By Airflow",
			fmt.Sprintf("Secret %s %s, so Airflow cannot read the connection. The next apply writes it as a new version.", secretPath, what))
		state.ConnType = types.StringNull() // plans the new version
	case err != nil:
		resp.Diagnostics.AddError("Error Reading Secret", googleErrorDetail(err))
		return
	default:
		if err := gcpSecretBackend.applyValue(&state.secretConnectionModel, value); err != nil {
			resp.Diagnostics.AddWarning("Secret Is Not A Connection",
				fmt.Sprintf("Airflow could not read the latest version of secret %s as a connection: %s. "+
					"The next apply writes the configured connection as a new version.", secretPath, err))
			state.ConnType = types.StringNull()
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *gcpSecretConnectionResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	client := r.client(resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var plan, prior gcpSecretConnectionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	var passwordWO types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("password_wo"), &passwordWO)...)
	labels := map[string]string{}
	resp.Diagnostics.Append(plan.Labels.ElementsAs(ctx, &labels, false)...)
	replicas, d := replicasOf(ctx, plan.Replication)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := prior.SecretName.ValueString()
	// The keys first, so that the new version is written with them.
	keysChanged := !plan.KMSKeyName.Equal(prior.KMSKeyName) || !plan.Replication.Equal(prior.Replication)
	if keysChanged {
		if err := client.SetEncryption(ctx, name, plan.KMSKeyName.ValueString(), replicas); err != nil {
			resp.Diagnostics.AddError("Error Updating Secret", googleErrorDetail(err))
			return
		}
	}
	if !plan.Labels.Equal(prior.Labels) {
		if err := client.SetLabels(ctx, name, labels); err != nil {
			resp.Diagnostics.AddError("Error Updating Secret", googleErrorDetail(err))
			return
		}
	}
	// Secret Manager encrypts only versions added after a key change: write
	// one, so that the connection Airflow reads is under the new key.
	if plan.valueChanged(&prior.secretConnectionModel) || keysChanged {
		value, err := plan.value(passwordWO)
		if err != nil {
			resp.Diagnostics.AddError("Connection Cannot Be Written", err.Error())
			return
		}
		tflog.Debug(ctx, "adding a secret version", map[string]any{"secret": name})
		if err := client.Supersede(ctx, name, value); err != nil {
			resp.Diagnostics.AddError("Error Updating Secret", googleErrorDetail(err))
			return
		}
	}
	state := plan
	state.ID, state.SecretID, state.SecretName = prior.ID, prior.SecretID, prior.SecretName
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *gcpSecretConnectionResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	client := r.client(resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var state gcpSecretConnectionModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := client.Delete(ctx, state.ID.ValueString()); err != nil {
		resp.Diagnostics.AddError("Error Deleting Secret", googleErrorDetail(err))
	}
}

// ImportState takes projects/PROJECT/secrets/SECRET_ID (or
// PROJECT/SECRET_ID) for a secret named with the default prefix and
// separator, or PROJECT/PREFIX,SEPARATOR,CONNECTION_ID for any other.
func (r *gcpSecretConnectionResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	project, prefix, separator, id, err := parseGCPSecretImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", err.Error())
		return
	}
	for attr, v := range map[string]string{"project": project, "prefix": prefix, "separator": separator, "connection_id": id,
		"id": gcpsecrets.SecretPath(project, prefix+separator+id), "format": airflow.FormatURI} {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), v)...)
	}
}

func parseGCPSecretImportID(importID string) (project, prefix, separator, id string, err error) {
	const forms = "expected projects/PROJECT/secrets/SECRET_ID or PROJECT/SECRET_ID (SECRET_ID starting with " +
		gcpsecrets.DefaultPrefix + gcpsecrets.DefaultSeparator + "), or PROJECT/PREFIX,SEPARATOR,CONNECTION_ID"
	rest := importID
	if p, ok := strings.CutPrefix(rest, "projects/"); ok {
		project, rest, ok = strings.Cut(p, "/secrets/")
		if !ok {
			return "", "", "", "", fmt.Errorf("%q: %s", importID, forms)
		}
	} else {
		var ok bool
		if project, rest, ok = strings.Cut(rest, "/"); !ok {
			return "", "", "", "", fmt.Errorf("%q: %s", importID, forms)
		}
	}
	if project == "" || strings.Contains(rest, "/") {
		return "", "", "", "", fmt.Errorf("%q: %s", importID, forms)
	}
	if parts := strings.Split(rest, ","); len(parts) == 3 && parts[2] != "" {
		return project, parts[0], parts[1], parts[2], nil
	}
	if id, ok := strings.CutPrefix(rest, gcpsecrets.DefaultPrefix+gcpsecrets.DefaultSeparator); ok && id != "" && !strings.Contains(id, ",") {
		return project, gcpsecrets.DefaultPrefix, gcpsecrets.DefaultSeparator, id, nil
	}
	return "", "", "", "", fmt.Errorf("%q: %s", importID, forms)
}

// kmsKeyNameValidator accepts Cloud KMS key names, in location when set.
type kmsKeyNameValidator struct{ location string }

func (v kmsKeyNameValidator) Description(context.Context) string {
	if v.location != "" {
		return "must be a Cloud KMS key name (" + gcpsecrets.KeyNameForm + ") in location " + v.location
	}
	return "must be a Cloud KMS key name (" + gcpsecrets.KeyNameForm + ")"
}

func (v kmsKeyNameValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v kmsKeyNameValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	loc, err := gcpsecrets.KeyLocation(req.ConfigValue.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Cloud KMS Key", err.Error()+".")
		return
	}
	if v.location != "" && loc != v.location {
		resp.Diagnostics.AddAttributeError(req.Path, "Key In Another Location",
			fmt.Sprintf("The key is in location %q; an automatically replicated secret needs a key in %q. "+
				"For regional keys, set replication with one replica per location.", loc, v.location))
	}
}
