package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
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

	_ secretBackend[gcpSecretConnectionModel]         = gcpSecretStore{}
	_ secretConfigValidator[gcpSecretConnectionModel] = gcpSecretStore{}
)

// NewGCPSecretConnectionResource returns the
// airflowiam_gcp_secret_connection resource.
func NewGCPSecretConnectionResource() resource.Resource {
	return &gcpSecretConnectionResource{secretConnectionResource[gcpSecretConnectionModel]{
		spec: gcpSecretSpec, backend: gcpSecretStore{},
	}}
}

// gcpSecretConnectionResource is the shared body driving gcpSecretStore.
type gcpSecretConnectionResource struct {
	secretConnectionResource[gcpSecretConnectionModel]
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
	Readers     types.Set    `tfsdk:"readers"` // secret_readers.go
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

var gcpSecretSpec = &secretSpec{
	typeName:          "airflowiam_gcp_secret_connection",
	name:              "Secret Manager",
	defaultPrefix:     gcpsecrets.DefaultPrefix,
	defaultSeparator:  gcpsecrets.DefaultSeparator,
	checkNamePart:     gcpsecrets.CheckIDPart,
	nameRule:          gcpsecrets.IDChars,
	checkConnectionID: gcpsecrets.CheckConnectionID,
	idRule:            gcpsecrets.ConnectionIDChars,
	checkName:         gcpsecrets.CheckID,
	decode:            airflow.DecodeSecretValue,
	errExists:         gcpsecrets.ErrExists,
	errNotFound:       gcpsecrets.ErrNotFound,
	errorDetail:       googleErrorDetail,
}

// objectAsOptions reads a nested object into its model.
var objectAsOptions = basetypes.ObjectAsOptions{}

func (r *gcpSecretConnectionResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_gcp_secret_connection"
}

func (r *gcpSecretConnectionResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := gcpSecretSpec.connectionAttributes()
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
		MarkdownDescription: "Labels on the secret, exclusively. Default: none. " + gcpLabelRule + ".",
		Validators:          []validator.Map{gcpLabelsValidator{}},
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
	attrs["readers"] = gcpReadersAttribute()
	resp.Schema = schema.Schema{
		MarkdownDescription: "One Airflow connection kept in Google Secret Manager, named and written as Airflow's " +
			"`CloudSecretManagerBackend` (from `apache-airflow-providers-google`) reads it: the secret `" + gcpsecrets.DefaultPrefix +
			gcpsecrets.DefaultSeparator + "<connection_id>` holds the connection's URI or JSON form in its latest version.\n\n" +
			"Secrets need not be in state: `password_wo` and `extra_wo` (secret extra keys, merged into `extra` in the secret " +
			"value) are write-only.\n\n" +
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
	secretID := gcpSecretSpec.secretName(&plan.secretConnectionModel)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("secret_id"), secretID)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), gcpsecrets.SecretPath(plan.Project.ValueString(), secretID))...)
}

// gcpSecretStore is the secretBackend of airflowiam_gcp_secret_connection,
// over Secret Manager. Its zero value has no client and serves only the
// methods that need none.
type gcpSecretStore struct {
	client *gcpsecrets.Client
}

// connect binds a store to the provider's Secret Manager client, which the
// provider builds with its google identity.
func (gcpSecretStore) connect(data *providerData, addError func(string, string)) (secretBackend[gcpSecretConnectionModel], bool) {
	c := gcpSecretsClientFrom(data, addError)
	if c == nil {
		return nil, false
	}
	return gcpSecretStore{client: c}, true
}

func (gcpSecretStore) model(m *gcpSecretConnectionModel) *secretConnectionModel {
	return &m.secretConnectionModel
}

// importID is the secret's path, projects/PROJECT/secrets/SECRET_ID.
func (gcpSecretStore) importID(m *gcpSecretConnectionModel) string {
	return gcpsecrets.SecretPath(m.Project.ValueString(), gcpSecretSpec.secretName(&m.secretConnectionModel))
}

func (s gcpSecretStore) create(ctx context.Context, m *gcpSecretConnectionModel, value string) (diag.Diagnostics, error) {
	labels, diags := stringMap(ctx, m.Labels)
	replicas, d := replicasOf(ctx, m.Replication)
	if diags.Append(d...); diags.HasError() {
		return diags, nil
	}
	secretID := gcpSecretSpec.secretName(&m.secretConnectionModel)
	tflog.Debug(ctx, "creating Secret Manager secret", map[string]any{"project": m.Project.ValueString(), "secret_id": secretID})
	secret, err := s.client.Create(ctx, gcpsecrets.CreateInput{
		Project: m.Project.ValueString(), SecretID: secretID, KMSKeyName: m.KMSKeyName.ValueString(),
		Replicas: replicas, Labels: labels, Value: value,
	})
	if err != nil {
		return diags, err
	}
	m.ID = types.StringValue(s.importID(m))
	m.SecretID = types.StringValue(secretID)
	m.SecretName = types.StringValue(secret.Name)
	return diags, s.createReaders(ctx, m)
}

// read records what Secret Manager holds: the secret's keys and labels,
// then the latest version, which is what Airflow reads.
func (s gcpSecretStore) read(ctx context.Context, m *gcpSecretConnectionModel) (diag.Diagnostics, error) {
	secretPath := s.importID(m)
	secret, err := s.client.Get(ctx, secretPath)
	if err != nil {
		return nil, err
	}
	m.ID = types.StringValue(secretPath)
	m.SecretID = types.StringValue(gcpSecretSpec.secretName(&m.secretConnectionModel))
	m.SecretName = types.StringValue(secret.Name)
	m.KMSKeyName = types.StringNull()
	if secret.KMSKeyName != "" {
		m.KMSKeyName = types.StringValue(secret.KMSKeyName)
	}
	replication, diags := replicationValue(secret.Replicas)
	m.Replication = replication
	labels, d := types.MapValueFrom(ctx, types.StringType, secret.Labels)
	diags.Append(d...)
	if secret.Labels == nil {
		labels = types.MapValueMust(types.StringType, map[string]attr.Value{})
	}
	m.Labels = labels
	if err := s.readReaders(ctx, m, secret.Name); err != nil {
		return diags, err
	}
	return diags, s.readLatest(ctx, m, secret.Name, &diags)
}

// readLatest records the latest version's connection in m. A version
// Airflow cannot read is a warning, and clears conn_type so that the next
// plan writes a new version.
func (s gcpSecretStore) readLatest(ctx context.Context, m *gcpSecretConnectionModel, name string, diags *diag.Diagnostics) error {
	secretPath := m.ID.ValueString()
	version, value, err := s.client.Latest(ctx, name)
	switch {
	case errors.Is(err, gcpsecrets.ErrNoReadableVersion):
		what := "has no version"
		if version != nil {
			what = fmt.Sprintf("has its latest version %s in state %s", version.Name, version.State)
		}
		diags.AddWarning("Secret Not Readable By Airflow",
			fmt.Sprintf("Secret %s %s, so Airflow cannot read the connection. The next apply writes it as a new version.", secretPath, what))
		m.ConnType = types.StringNull()
	case err != nil:
		return err
	default:
		if err := gcpSecretSpec.applyValue(&m.secretConnectionModel, value); err != nil {
			diags.AddWarning("Secret Is Not A Connection",
				fmt.Sprintf("Airflow could not read the latest version of secret %s as a connection: %s. "+
					"The next apply writes the configured connection as a new version.", secretPath, err))
			m.ConnType = types.StringNull()
		}
	}
	return nil
}

// rewrites is true when the keys change: Secret Manager encrypts only
// versions added after a key change, so the connection Airflow reads is
// written again under the new key.
func (gcpSecretStore) rewrites(plan, prior *gcpSecretConnectionModel) bool {
	return keysChanged(plan, prior)
}

// keysChanged says whether the plan changes the secret's key or its
// replicas' keys (locations that change replace the secret).
func keysChanged(plan, prior *gcpSecretConnectionModel) bool {
	return !plan.KMSKeyName.Equal(prior.KMSKeyName) || !plan.Replication.Equal(prior.Replication)
}

// update sets the keys first, so that a new version is written with them,
// then the labels, then adds the value as a version and disables the one
// it supersedes.
func (s gcpSecretStore) update(ctx context.Context, plan, prior *gcpSecretConnectionModel, value *string) (diag.Diagnostics, error) {
	labels, diags := stringMap(ctx, plan.Labels)
	replicas, d := replicasOf(ctx, plan.Replication)
	if diags.Append(d...); diags.HasError() {
		return diags, nil
	}
	name := prior.SecretName.ValueString()
	if keysChanged(plan, prior) {
		if err := s.client.SetEncryption(ctx, name, plan.KMSKeyName.ValueString(), replicas); err != nil {
			return diags, err
		}
	}
	if !plan.Labels.Equal(prior.Labels) {
		if err := s.client.SetLabels(ctx, name, labels); err != nil {
			return diags, err
		}
	}
	if err := s.updateReaders(ctx, plan, prior); err != nil {
		return diags, err
	}
	if value != nil {
		tflog.Debug(ctx, "adding a secret version", map[string]any{"secret": name})
		if err := s.client.Supersede(ctx, name, *value); err != nil {
			return diags, err
		}
	}
	plan.ID, plan.SecretID, plan.SecretName = prior.ID, prior.SecretID, prior.SecretName
	return diags, nil
}

func (s gcpSecretStore) delete(ctx context.Context, m *gcpSecretConnectionModel) error {
	return s.client.Delete(ctx, m.ID.ValueString())
}

// validateConfig checks that each replica has its own location, and a key
// in that location.
func (gcpSecretStore) validateConfig(ctx context.Context, config *gcpSecretConnectionModel) (diags diag.Diagnostics) {
	if config.Replication.IsNull() || config.Replication.IsUnknown() {
		return nil
	}
	var m replicationModel
	diags.Append(config.Replication.As(ctx, &m, objectAsOptions)...)
	seen := map[string]bool{}
	for i, rep := range m.Replicas {
		if rep.Location.IsUnknown() || rep.KMSKeyName.IsUnknown() {
			continue
		}
		at := path.Root("replication").AtName("replicas").AtListIndex(i)
		loc := rep.Location.ValueString()
		if seen[loc] {
			diags.AddAttributeError(at.AtName("location"), "Duplicate Replica Location",
				fmt.Sprintf("replication.replicas[%d].location: %q appears more than once; each location holds one replica.", i, loc))
		}
		seen[loc] = true
		if rep.KMSKeyName.IsNull() {
			continue
		}
		if keyLoc, err := gcpsecrets.KeyLocation(rep.KMSKeyName.ValueString()); err == nil && keyLoc != loc {
			diags.AddAttributeError(at.AtName("kms_key_name"), "Key In Another Location",
				fmt.Sprintf("replication.replicas[%d].kms_key_name: the key of the replica in %q is in %q; Secret Manager needs a key in the replica's own location.", i, loc, keyLoc))
		}
	}
	return diags
}

// importAttributes takes projects/PROJECT/secrets/SECRET_ID (or
// PROJECT/SECRET_ID) for a secret named with the default prefix and
// separator, or PROJECT/PREFIX,SEPARATOR,CONNECTION_ID for any other.
func (gcpSecretStore) importAttributes(importID string) (map[string]any, error) {
	project, prefix, separator, id, err := parseGCPSecretImportID(importID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"project": project, "prefix": prefix, "separator": separator, "connection_id": id,
		"id": gcpsecrets.SecretPath(project, prefix+separator+id)}, nil
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
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Cloud KMS Key", fmt.Sprintf("%s: %s.", req.Path, err))
		return
	}
	if v.location != "" && loc != v.location {
		resp.Diagnostics.AddAttributeError(req.Path, "Key In Another Location",
			fmt.Sprintf("%s: the key is in location %q; an automatically replicated secret needs a key in %q. "+
				"For regional keys, set replication with one replica per location.", req.Path, loc, v.location))
	}
}

// Google's rule for a secret's labels, from the labels field of the Secret
// resource (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets,
// see also https://cloud.google.com/secret-manager/docs/labels).
const gcpLabelRule = "Keys start with a lowercase letter and contain only lowercase letters, digits, underscores (`_`) and " +
	"hyphens (`-`), 1 to 63 characters (international lowercase letters allowed); values contain the same characters, " +
	"at most 63; at most 64 labels"

var (
	gcpLabelKeyPattern   = regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	gcpLabelValuePattern = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
)

const (
	maxGCPLabels     = 64
	maxGCPLabelBytes = 128 // of UTF-8, for keys and values alike
)

// gcpLabelsValidator applies Google's label rule at plan time.
type gcpLabelsValidator struct{}

func (gcpLabelsValidator) Description(context.Context) string { return gcpLabelRule }

func (v gcpLabelsValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (gcpLabelsValidator) ValidateMap(ctx context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if n := len(req.ConfigValue.Elements()); n > maxGCPLabels {
		resp.Diagnostics.AddAttributeError(req.Path, "Too Many Labels",
			fmt.Sprintf("%s has %d labels; Secret Manager allows at most %d.", req.Path, n, maxGCPLabels))
	}
	for _, key := range slices.Sorted(maps.Keys(req.ConfigValue.Elements())) {
		if !gcpLabelKeyPattern.MatchString(key) || len(key) > maxGCPLabelBytes {
			resp.Diagnostics.AddAttributeError(req.Path.AtMapKey(key), "Invalid Label Key",
				fmt.Sprintf("%s: the key %q is not one Secret Manager accepts. %s.", req.Path, key, gcpLabelRule))
			continue
		}
		v, ok := req.ConfigValue.Elements()[key].(types.String)
		if !ok || v.IsNull() || v.IsUnknown() {
			continue
		}
		if s := v.ValueString(); !gcpLabelValuePattern.MatchString(s) || len(s) > maxGCPLabelBytes {
			resp.Diagnostics.AddAttributeError(req.Path.AtMapKey(key), "Invalid Label Value",
				fmt.Sprintf("%s: the value of label %q is not one Secret Manager accepts. %s.", req.Path, key, gcpLabelRule))
		}
	}
}
