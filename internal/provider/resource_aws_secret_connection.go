package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awssecrets"
)

var (
	_ resource.Resource                   = (*awsSecretConnectionResource)(nil)
	_ resource.ResourceWithConfigure      = (*awsSecretConnectionResource)(nil)
	_ resource.ResourceWithImportState    = (*awsSecretConnectionResource)(nil)
	_ resource.ResourceWithValidateConfig = (*awsSecretConnectionResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*awsSecretConnectionResource)(nil)
)

// NewAWSSecretConnectionResource returns the
// airflowiam_aws_secret_connection resource.
func NewAWSSecretConnectionResource() resource.Resource {
	return &awsSecretConnectionResource{}
}

type awsSecretConnectionResource struct {
	data *providerData
}

type awsSecretConnectionModel struct {
	secretConnectionModel
	ID                   types.String `tfsdk:"id"`
	KMSKeyID             types.String `tfsdk:"kms_key_id"`
	RecoveryWindowInDays types.Int64  `tfsdk:"recovery_window_in_days"`
	Tags                 types.Map    `tfsdk:"tags"`
	SecretARN            types.String `tfsdk:"secret_arn"`
	SecretName           types.String `tfsdk:"secret_name"`
}

var awsSecretBackend = &secretBackend{
	name:             "AWS Secrets Manager",
	defaultPrefix:    awssecrets.DefaultPrefix,
	defaultSeparator: awssecrets.DefaultSeparator,
	namePattern:      regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]*$`),
	nameRule:         "ASCII letters, digits and /_+=.@-",
	// Airflow's ^[\w.-]+$ within what a Secrets Manager name allows.
	idPattern: regexp.MustCompile(`^[A-Za-z0-9_.-]+$`),
	idRule:    "ASCII letters, digits, underscores, dots and hyphens",
	checkName: awssecrets.CheckName,
	decode: func(value string) (*airflow.Connection, string, error) {
		if airflow.SecretValueFormat(value) == airflow.FormatJSON {
			std, err := airflow.StandardizeAWSSecretJSON(value)
			if err != nil {
				return nil, "", err
			}
			c, err := airflow.ParseConnectionJSON(std)
			return c, airflow.FormatJSON, err
		}
		return airflow.DecodeSecretValue(value)
	},
}

func (r *awsSecretConnectionResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_aws_secret_connection"
}

func (r *awsSecretConnectionResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := awsSecretBackend.connectionAttributes()
	attrs["id"] = schema.StringAttribute{
		Computed:            true,
		MarkdownDescription: "The secret's ARN.",
		PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
	attrs["secret_arn"] = schema.StringAttribute{
		Computed:            true,
		MarkdownDescription: "The secret's ARN, for IAM policies that let workers read it.",
		PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
	attrs["secret_name"] = schema.StringAttribute{
		Computed:            true,
		MarkdownDescription: "The secret's name: `prefix`, `separator` and `connection_id`, as `SecretsManagerBackend` looks it up.",
		PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
	}
	attrs["kms_key_id"] = schema.StringAttribute{
		Optional: true,
		MarkdownDescription: "The customer managed KMS key that encrypts the secret: " + awssecrets.KMSKeyForms + ". " +
			"Checked to exist during plan. Unset, Secrets Manager uses the AWS managed key `aws/secretsmanager`. " +
			"Changing it updates the secret in place. Workers that read the secret need `kms:Decrypt` on this key.",
		Validators: []validator.String{kmsKeyIDValidator{}},
	}
	attrs["recovery_window_in_days"] = schema.Int64Attribute{
		Optional: true,
		Computed: true,
		Default:  int64default.StaticInt64(30),
		MarkdownDescription: "Days Secrets Manager keeps the secret recoverable after destroy: 7 to 30, or 0 to delete it at once " +
			"(then the name can be reused immediately). Defaults to 30.",
		Validators: []validator.Int64{int64validator.Any(int64validator.OneOf(0), int64validator.Between(7, 30))},
	}
	attrs["tags"] = schema.MapAttribute{
		ElementType:         types.StringType,
		Optional:            true,
		Computed:            true,
		Default:             mapdefault.StaticValue(types.MapValueMust(types.StringType, nil)),
		MarkdownDescription: "Tags on the secret, exclusively. Default: none.",
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "One Airflow connection kept in AWS Secrets Manager, named and written as Airflow's " +
			"`SecretsManagerBackend` (from `apache-airflow-providers-amazon`) reads it: the secret `" + awssecrets.DefaultPrefix +
			awssecrets.DefaultSeparator + "<connection_id>` holds the connection's URI or JSON form.\n\n" +
			"An update writes a new secret version, which becomes `AWSCURRENT`; Secrets Manager keeps the superseded one as " +
			"`AWSPREVIOUS` (it has no disabled state for versions). Nothing is deleted until the resource is destroyed.\n\n" +
			"Drift is read from the `AWSCURRENT` value as Airflow reads it: any field changed out of band (the password too " +
			"when it is kept in state with `password`), the KMS key, the tags, and a deleted secret all show in the next plan. " +
			"The connection's `description` is not kept: the URI form has no place for it and `SecretsManagerBackend` drops " +
			"it from the JSON form.",
		Attributes: attrs,
	}
}

func (r *awsSecretConnectionResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *awsSecretConnectionResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var config awsSecretConnectionModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(awsSecretBackend.validate(config.secretConnectionModel)...)
}

// ModifyPlan shows the secret name in the plan and checks during plan
// that a changed kms_key_id names a key that exists.
func (r *awsSecretConnectionResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan awsSecretConnectionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if known(plan.ConnectionID, plan.Prefix, plan.Separator) {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("secret_name"), awsSecretBackend.secretName(&plan.secretConnectionModel))...)
	}
	if plan.KMSKeyID.IsNull() || plan.KMSKeyID.IsUnknown() {
		return
	}
	if !req.State.Raw.IsNull() {
		var prior types.String
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("kms_key_id"), &prior)...)
		if prior.Equal(plan.KMSKeyID) {
			return
		}
	}
	if r.data == nil || r.data.aws == nil {
		return // unconfigured: Create says so
	}
	client := r.secretsClient()
	if _, err := client.KeyARN(ctx, plan.KMSKeyID.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("kms_key_id"), "KMS Key Not Usable",
			fmt.Sprintf("%s. Create the key first (or fix the reference), in the region of the provider's aws block.", err))
	}
}

func (r *awsSecretConnectionResource) secretsClient() *awssecrets.Client {
	return r.data.awssecrets
}

func (r *awsSecretConnectionResource) client(addError func(string, string)) *awssecrets.Client {
	return awsSecretsClientFrom(r.data, addError)
}

func (r *awsSecretConnectionResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	client := r.client(resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var plan awsSecretConnectionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var passwordWO types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("password_wo"), &passwordWO)...)
	tags := map[string]string{}
	resp.Diagnostics.Append(plan.Tags.ElementsAs(ctx, &tags, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	value, err := plan.value(passwordWO)
	if err != nil {
		resp.Diagnostics.AddError("Connection Cannot Be Written", err.Error())
		return
	}
	name := awsSecretBackend.secretName(&plan.secretConnectionModel)
	tflog.Debug(ctx, "creating Secrets Manager secret", map[string]any{"secret_name": name})
	secret, err := client.Create(ctx, awssecrets.CreateInput{Name: name, Value: value, KMSKeyID: plan.KMSKeyID.ValueString(), Tags: tags})
	if err != nil {
		if errors.Is(err, awssecrets.ErrExists) {
			resp.Diagnostics.AddAttributeError(path.Root("connection_id"), "Secret Already Exists",
				fmt.Sprintf("%s.\n\nTo manage an existing secret with Terraform, import it: "+
					"terraform import airflowiam_aws_secret_connection.NAME %s", err, name))
			return
		}
		resp.Diagnostics.AddError("Error Creating Secret", err.Error())
		return
	}
	state := plan
	state.ID = types.StringValue(secret.ARN)
	state.SecretARN = types.StringValue(secret.ARN)
	state.SecretName = types.StringValue(secret.Name)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *awsSecretConnectionResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	client := r.client(resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var state awsSecretConnectionModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	secret, err := client.Read(ctx, state.ID.ValueString())
	if errors.Is(err, awssecrets.ErrNotFound) {
		tflog.Warn(ctx, "secret no longer exists or is scheduled for deletion; removing it from state", map[string]any{"secret": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Error Reading Secret", err.Error())
		return
	}
	resp.Diagnostics.Append(r.applySecret(ctx, client, &state, secret)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// applySecret records what Secrets Manager holds in state.
func (r *awsSecretConnectionResource) applySecret(ctx context.Context, client *awssecrets.Client, m *awsSecretConnectionModel, secret *awssecrets.Secret) (diags diag.Diagnostics) {
	m.ID = types.StringValue(secret.ARN)
	m.SecretARN = types.StringValue(secret.ARN)
	m.SecretName = types.StringValue(secret.Name)
	if want := awsSecretBackend.secretName(&m.secretConnectionModel); want != secret.Name {
		diags.AddError("Secret Name Does Not Match",
			fmt.Sprintf("Secret %s is named %q, but prefix %q, separator %q and connection_id %q name %q. "+
				"When importing a secret with a custom prefix or separator, use the ID form PREFIX,SEPARATOR,CONNECTION_ID.",
				secret.ARN, secret.Name, m.Prefix.ValueString(), m.Separator.ValueString(), m.ConnectionID.ValueString(), want))
		return diags
	}
	if same, err := client.SameKey(ctx, m.KMSKeyID.ValueString(), secret.KMSKeyID); err != nil {
		diags.AddWarning("KMS Key Not Compared", fmt.Sprintf("Could not tell whether secret %s still uses kms_key_id: %s", secret.Name, err))
	} else if !same {
		m.KMSKeyID = types.StringNull()
		if secret.KMSKeyID != "" {
			m.KMSKeyID = types.StringValue(secret.KMSKeyID)
		}
	}
	tags, d := types.MapValueFrom(ctx, types.StringType, secret.Tags)
	diags.Append(d...)
	m.Tags = tags
	if err := awsSecretBackend.applyValue(&m.secretConnectionModel, secret.Value); err != nil {
		diags.AddError("Secret Is Not A Connection",
			fmt.Sprintf("Airflow could not read the current value of secret %s as a connection: %s. "+
				"The next apply writes the configured connection as a new version.", secret.Name, err))
	}
	return diags
}

func (r *awsSecretConnectionResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	client := r.client(resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var plan, prior awsSecretConnectionModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	var passwordWO types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("password_wo"), &passwordWO)...)
	have, want := map[string]string{}, map[string]string{}
	resp.Diagnostics.Append(prior.Tags.ElementsAs(ctx, &have, false)...)
	resp.Diagnostics.Append(plan.Tags.ElementsAs(ctx, &want, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	arn := prior.SecretARN.ValueString()
	// The key first, so that a new version is written with it.
	if !plan.KMSKeyID.Equal(prior.KMSKeyID) {
		if err := client.SetKMSKey(ctx, arn, plan.KMSKeyID.ValueString()); err != nil {
			resp.Diagnostics.AddError("Error Updating Secret", err.Error())
			return
		}
	}
	if plan.valueChanged(&prior.secretConnectionModel) {
		value, err := plan.value(passwordWO)
		if err != nil {
			resp.Diagnostics.AddError("Connection Cannot Be Written", err.Error())
			return
		}
		tflog.Debug(ctx, "writing a new secret version", map[string]any{"secret_name": prior.SecretName.ValueString()})
		if _, err := client.PutValue(ctx, arn, value, ""); err != nil {
			resp.Diagnostics.AddError("Error Updating Secret", err.Error())
			return
		}
	}
	if err := client.SetTags(ctx, arn, have, want); err != nil {
		resp.Diagnostics.AddError("Error Updating Secret", err.Error())
		return
	}
	state := plan
	state.ID, state.SecretARN, state.SecretName = prior.ID, prior.SecretARN, prior.SecretName
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *awsSecretConnectionResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	client := r.client(resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var state awsSecretConnectionModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := client.Delete(ctx, state.SecretARN.ValueString(), state.RecoveryWindowInDays.ValueInt64()); err != nil {
		resp.Diagnostics.AddError("Error Deleting Secret", err.Error())
	}
}

// ImportState takes the secret's name or ARN, whose last "/" separates
// prefix and connection ID, or PREFIX,SEPARATOR,CONNECTION_ID for any other
// separator. The password is not imported: it stays out of state until
// configured.
func (r *awsSecretConnectionResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	prefix, separator, id, secretID, err := parseAWSSecretImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", err.Error())
		return
	}
	for attr, v := range map[string]string{"id": secretID, "prefix": prefix, "separator": separator, "connection_id": id} {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), v)...)
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("format"), airflow.FormatURI)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("recovery_window_in_days"), 30)...)
}

func parseAWSSecretImportID(importID string) (prefix, separator, id, secretID string, err error) {
	const forms = "expected the secret's name (for example airflow/connections/my_db), its ARN, or PREFIX,SEPARATOR,CONNECTION_ID"
	if parts := strings.Split(importID, ","); len(parts) == 3 {
		prefix, separator, id = parts[0], parts[1], parts[2]
		if id == "" {
			return "", "", "", "", fmt.Errorf("%q has an empty connection ID: %s", importID, forms)
		}
		return prefix, separator, id, prefix + separator + id, nil
	} else if len(parts) != 1 {
		return "", "", "", "", fmt.Errorf("%q: %s", importID, forms)
	}
	name := importID
	if strings.HasPrefix(importID, "arn:") {
		// arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX
		fields := strings.SplitN(importID, ":", 7)
		if len(fields) != 7 || fields[2] != "secretsmanager" || fields[5] != "secret" {
			return "", "", "", "", fmt.Errorf("%q is not a Secrets Manager secret ARN: %s", importID, forms)
		}
		name = fields[6]
		if i := strings.LastIndex(name, "-"); i > 0 && len(name)-i == 7 {
			name = name[:i] // the random suffix AWS appends
		}
	}
	i := strings.LastIndex(name, awssecrets.DefaultSeparator)
	if i <= 0 || i == len(name)-1 {
		return "", "", "", "", fmt.Errorf("%q has no \"/\" between a prefix and a connection ID: %s", importID, forms)
	}
	return name[:i], awssecrets.DefaultSeparator, name[i+1:], importID, nil
}

// kmsKeyIDValidator accepts the forms of KMS key reference Secrets Manager
// takes.
type kmsKeyIDValidator struct{}

func (kmsKeyIDValidator) Description(context.Context) string {
	return "must be " + awssecrets.KMSKeyForms
}

func (v kmsKeyIDValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (kmsKeyIDValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := awssecrets.CheckKMSKeyID(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid KMS Key", err.Error()+".")
	}
}
