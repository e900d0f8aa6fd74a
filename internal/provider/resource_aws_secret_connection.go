package provider

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
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

	_ secretBackend[awsSecretConnectionModel] = awsSecretStore{}
)

// NewAWSSecretConnectionResource returns the
// airflowiam_aws_secret_connection resource.
func NewAWSSecretConnectionResource() resource.Resource {
	return &awsSecretConnectionResource{secretConnectionResource[awsSecretConnectionModel]{
		spec: awsSecretSpec, backend: awsSecretStore{},
	}}
}

// awsSecretConnectionResource is the shared body driving awsSecretStore.
type awsSecretConnectionResource struct {
	secretConnectionResource[awsSecretConnectionModel]
}

type awsSecretConnectionModel struct {
	secretConnectionModel
	ID                   types.String `tfsdk:"id"`
	KMSKeyID             types.String `tfsdk:"kms_key_id"`
	RecoveryWindowInDays types.Int64  `tfsdk:"recovery_window_in_days"`
	Tags                 types.Map    `tfsdk:"tags"`
	SecretARN            types.String `tfsdk:"secret_arn"`
	SecretName           types.String `tfsdk:"secret_name"`
	Readers              types.Set    `tfsdk:"readers"`        // secret_readers.go
	Administrators       types.Set    `tfsdk:"administrators"` // secret_readers.go
}

var awsSecretSpec = &secretSpec{
	typeName:          "airflowiam_aws_secret_connection",
	name:              "AWS Secrets Manager",
	defaultPrefix:     awssecrets.DefaultPrefix,
	defaultSeparator:  awssecrets.DefaultSeparator,
	checkNamePart:     awssecrets.CheckNamePart,
	nameRule:          awssecrets.NameChars,
	checkConnectionID: awssecrets.CheckConnectionID,
	idRule:            awssecrets.ConnectionIDChars,
	checkName:         awssecrets.CheckName,
	decode:            decodeAWSSecretValue,
	errExists:         awssecrets.ErrExists,
	errNotFound:       awssecrets.ErrNotFound,
	errorDetail:       awsErrorDetail,
}

// decodeAWSSecretValue reads a value as SecretsManagerBackend does: its
// JSON form takes the backend's aliases of the field names.
func decodeAWSSecretValue(value string) (*airflow.Connection, string, error) {
	if airflow.SecretValueFormat(value) == airflow.FormatJSON {
		std, err := airflow.StandardizeAWSSecretJSON(value)
		if err != nil {
			return nil, "", err
		}
		c, err := airflow.ParseConnectionJSON(std)
		return c, airflow.FormatJSON, err
	}
	return airflow.DecodeSecretValue(value)
}

func (r *awsSecretConnectionResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_aws_secret_connection"
}

func (r *awsSecretConnectionResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := awsSecretSpec.connectionAttributes()
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
		Validators: []validator.Int64{recoveryWindowValidator{}},
	}
	attrs["tags"] = schema.MapAttribute{
		ElementType:         types.StringType,
		Optional:            true,
		Computed:            true,
		Default:             mapdefault.StaticValue(types.MapValueMust(types.StringType, nil)),
		MarkdownDescription: "Tags on the secret, exclusively. Default: none.",
	}
	maps.Copy(attrs, awsReadersAttributes())
	resp.Schema = schema.Schema{
		MarkdownDescription: "One Airflow connection kept in AWS Secrets Manager, named and written as Airflow's " +
			"`SecretsManagerBackend` (from `apache-airflow-providers-amazon`) reads it: the secret `" + awssecrets.DefaultPrefix +
			awssecrets.DefaultSeparator + "<connection_id>` holds the connection's URI or JSON form.\n\n" +
			"Secrets need not be in state: `password_wo` and `extra_wo` (secret extra keys, merged into `extra` in the secret " +
			"value) are write-only.\n\n" +
			"An update writes a new secret version, which becomes `AWSCURRENT`; Secrets Manager keeps the superseded one as " +
			"`AWSPREVIOUS` (it has no disabled state for versions). Nothing is deleted until the resource is destroyed.\n\n" +
			"Drift is read from the `AWSCURRENT` value as Airflow reads it: any field changed out of band (the password too " +
			"when it is kept in state with `password`), the KMS key, the tags, and a deleted secret all show in the next plan. " +
			"The connection's `description` is not kept: the URI form has no place for it and `SecretsManagerBackend` drops " +
			"it from the JSON form.",
		Attributes: attrs,
	}
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
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("secret_name"), awsSecretSpec.secretName(&plan.secretConnectionModel))...)
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
	store := newAWSSecretStore(r.data, func(string, string) {})
	if store == nil {
		return // unconfigured: Create says so
	}
	if _, err := store.client.KeyARN(ctx, plan.KMSKeyID.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("kms_key_id"), "KMS Key Not Usable",
			fmt.Sprintf("kms_key_id: %s. Create the key first (or fix the reference), in the region of the provider's aws block.", err))
	}
}

// awsSecretStore is the secretBackend of airflowiam_aws_secret_connection,
// over Secrets Manager. Its zero value has no client and serves only the
// methods that need none.
type awsSecretStore struct {
	client *awssecrets.Client
}

// newAWSSecretStore binds a store to the provider's AWS clients, or adds an
// error and returns nil when the aws block is missing. It is the one place
// this resource reaches into them.
func newAWSSecretStore(data *providerData, addError func(string, string)) *awsSecretStore {
	c := awsSecretsClientFrom(data, addError)
	if c == nil {
		return nil
	}
	return &awsSecretStore{client: c}
}

func (awsSecretStore) connect(data *providerData, addError func(string, string)) (secretBackend[awsSecretConnectionModel], bool) {
	if s := newAWSSecretStore(data, addError); s != nil {
		return *s, true
	}
	return nil, false
}

func (awsSecretStore) model(m *awsSecretConnectionModel) *secretConnectionModel {
	return &m.secretConnectionModel
}

func (awsSecretStore) importID(m *awsSecretConnectionModel) string {
	return awsSecretSpec.secretName(&m.secretConnectionModel)
}

func (s awsSecretStore) create(ctx context.Context, m *awsSecretConnectionModel, value string) (diag.Diagnostics, error) {
	tags, diags := stringMap(ctx, m.Tags)
	if diags.HasError() {
		return diags, nil
	}
	name := s.importID(m)
	tflog.Debug(ctx, "creating Secrets Manager secret", map[string]any{"secret_name": name})
	secret, err := s.client.Create(ctx, awssecrets.CreateInput{Name: name, Value: value, KMSKeyID: m.KMSKeyID.ValueString(), Tags: tags})
	if err != nil {
		return diags, err
	}
	m.ID = types.StringValue(secret.ARN)
	m.SecretARN = types.StringValue(secret.ARN)
	m.SecretName = types.StringValue(secret.Name)
	return diags, s.createReaders(ctx, m)
}

// read records what Secrets Manager holds: the AWSCURRENT value, the key
// and the tags.
func (s awsSecretStore) read(ctx context.Context, m *awsSecretConnectionModel) (diags diag.Diagnostics, err error) {
	secret, err := s.client.Read(ctx, m.ID.ValueString())
	if err != nil {
		return nil, err
	}
	m.ID = types.StringValue(secret.ARN)
	m.SecretARN = types.StringValue(secret.ARN)
	m.SecretName = types.StringValue(secret.Name)
	if want := awsSecretSpec.secretName(&m.secretConnectionModel); want != secret.Name {
		diags.AddError("Secret Name Does Not Match",
			fmt.Sprintf("Secret %s is named %q, but prefix %q, separator %q and connection_id %q name %q. "+
				"When importing a secret with a custom prefix or separator, use the ID form PREFIX,SEPARATOR,CONNECTION_ID.",
				secret.ARN, secret.Name, m.Prefix.ValueString(), m.Separator.ValueString(), m.ConnectionID.ValueString(), want))
		return diags, nil
	}
	if same, err := s.client.SameKey(ctx, m.KMSKeyID.ValueString(), secret.KMSKeyID); err != nil {
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
	if err := s.readReaders(ctx, m); err != nil {
		return diags, err
	}
	if err := awsSecretSpec.applyValue(&m.secretConnectionModel, secret.Value); err != nil {
		diags.AddError("Secret Is Not A Connection",
			fmt.Sprintf("Airflow could not read the current value of secret %s as a connection: %s. "+
				"The next apply writes the configured connection as a new version.", secret.Name, err))
	}
	return diags, nil
}

// rewrites is false: a new key encrypts the versions written after it,
// and the value is written only when it changes.
func (awsSecretStore) rewrites(_, _ *awsSecretConnectionModel) bool { return false }

// update sets the key first, so that a new version is written with it,
// then writes the value as the new AWSCURRENT version, then the tags.
func (s awsSecretStore) update(ctx context.Context, plan, prior *awsSecretConnectionModel, value *string) (diag.Diagnostics, error) {
	have, diags := stringMap(ctx, prior.Tags)
	want, d := stringMap(ctx, plan.Tags)
	if diags.Append(d...); diags.HasError() {
		return diags, nil
	}
	arn := prior.SecretARN.ValueString()
	if !plan.KMSKeyID.Equal(prior.KMSKeyID) {
		if err := s.client.SetKMSKey(ctx, arn, plan.KMSKeyID.ValueString()); err != nil {
			return diags, err
		}
	}
	if value != nil {
		tflog.Debug(ctx, "writing a new secret version", map[string]any{"secret_name": prior.SecretName.ValueString()})
		if _, err := s.client.PutValue(ctx, arn, *value); err != nil {
			return diags, err
		}
	}
	if err := s.client.SetTags(ctx, arn, have, want); err != nil {
		return diags, err
	}
	if err := s.updateReaders(ctx, plan, prior); err != nil {
		return diags, err
	}
	plan.ID, plan.SecretARN, plan.SecretName = prior.ID, prior.SecretARN, prior.SecretName
	return diags, nil
}

func (s awsSecretStore) delete(ctx context.Context, m *awsSecretConnectionModel) error {
	if err := s.deleteReaders(ctx, m); err != nil {
		return err
	}
	return s.client.Delete(ctx, m.SecretARN.ValueString(), m.RecoveryWindowInDays.ValueInt64())
}

// importAttributes takes the secret's name or ARN, whose last "/" separates
// prefix and connection ID, or PREFIX,SEPARATOR,CONNECTION_ID for any other
// separator.
func (awsSecretStore) importAttributes(importID string) (map[string]any, error) {
	prefix, separator, id, secretID, err := parseAWSSecretImportID(importID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"id": secretID, "prefix": prefix, "separator": separator, "connection_id": id,
		"recovery_window_in_days": 30}, nil
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
	if arn.IsARN(importID) {
		// arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX
		a, err := arn.Parse(importID)
		resName, isSecret := strings.CutPrefix(a.Resource, "secret:")
		if err != nil || a.Service != "secretsmanager" || !isSecret {
			return "", "", "", "", fmt.Errorf("%q is not a Secrets Manager secret ARN: %s", importID, forms)
		}
		name = resName
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
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid KMS Key", fmt.Sprintf("%s: %s.", req.Path, err))
	}
}

// recoveryWindowValidator is Secrets Manager's rule for the recovery
// window, in one message: 0 (ForceDeleteWithoutRecovery) or 7 to 30 days.
type recoveryWindowValidator struct{}

func (recoveryWindowValidator) Description(context.Context) string {
	return "value must be 0 (delete at once) or from 7 to 30"
}

func (v recoveryWindowValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (recoveryWindowValidator) ValidateInt64(_ context.Context, req validator.Int64Request, resp *validator.Int64Response) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if n := req.ConfigValue.ValueInt64(); n != 0 && (n < 7 || n > 30) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Recovery Window",
			fmt.Sprintf("%s must be 0 (delete the secret at once) or from 7 to 30 days, got %d.", req.Path, n))
	}
}
