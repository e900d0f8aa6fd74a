package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/helpers/validatordiag"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
)

// This file holds what airflowiam_aws_secret_connection and
// airflowiam_gcp_secret_connection share: the resource body that drives a
// backend adapter (secretBackend), the connection fields, how they become a
// secret value, the plan-time check that Airflow reads the value back as
// configured, and drift detection on the value a backend reads.

// secretConnectionModel is the connection part of both resources.
type secretConnectionModel struct {
	ConnectionID      types.String `tfsdk:"connection_id"`
	ConnType          types.String `tfsdk:"conn_type"`
	Host              types.String `tfsdk:"host"`
	Login             types.String `tfsdk:"login"`
	Schema            types.String `tfsdk:"schema"`
	Port              types.Number `tfsdk:"port"`
	Extra             extraValue   `tfsdk:"extra"`
	Password          types.String `tfsdk:"password"`
	PasswordWO        types.String `tfsdk:"password_wo"`
	PasswordWOVersion types.Int64  `tfsdk:"password_wo_version"`
	ExtraWO           types.String `tfsdk:"extra_wo"`
	ExtraWOVersion    types.Int64  `tfsdk:"extra_wo_version"`
	Prefix            types.String `tfsdk:"prefix"`
	Separator         types.String `tfsdk:"separator"`
	Format            types.String `tfsdk:"format"`
	// woKeys are the names of the extra keys that came from extra_wo, from
	// private state: the value read back is compared without them.
	woKeys []string `tfsdk:"-"`
}

// secretBackend is one secrets manager as the shared body of the
// secret-connection resources drives it. M is the resource's model: an
// adapter reads and writes its own attributes in it and leaves the
// connection fields to the body. The zero adapter serves the methods that
// need no client; connect returns one bound to the provider's client.
type secretBackend[M any] interface {
	// connect returns the adapter bound to the provider's client, or false
	// after adding an error that names the missing provider block.
	connect(data *providerData, addError func(summary, detail string)) (secretBackend[M], bool)
	// model is the connection part of m.
	model(m *M) *secretConnectionModel
	// importID is what `terraform import` takes for m's secret.
	importID(m *M) string
	// importAttributes parses an import ID into the attributes it sets
	// (besides format, which is always uri).
	importAttributes(id string) (map[string]any, error)
	// create creates the secret holding value and records the computed
	// attributes in m.
	create(ctx context.Context, m *M, value string) (diag.Diagnostics, error)
	// read records in m what the secret holds. The error is the client's
	// (wrapping the spec's errNotFound when the secret is gone).
	read(ctx context.Context, m *M) (diag.Diagnostics, error)
	// rewrites says whether the backend's own changes need the value
	// written again even when the connection is unchanged.
	rewrites(plan, prior *M) bool
	// update changes the secret from prior to plan, writes value as a new
	// version when it is not nil, and keeps prior's computed attributes in
	// plan.
	update(ctx context.Context, plan, prior *M, value *string) (diag.Diagnostics, error)
	delete(ctx context.Context, m *M) error
}

// secretConfigValidator is a secretBackend with checks of its own
// attributes at validation time.
type secretConfigValidator[M any] interface {
	validateConfig(ctx context.Context, config *M) diag.Diagnostics
}

// secretConnectionResource is the body of a secret-connection resource:
// Configure, ValidateConfig, Create, Read, Update, Delete and ImportState.
// A resource embeds it and adds Metadata, Schema and ModifyPlan.
type secretConnectionResource[M any] struct {
	data    *providerData
	spec    *secretSpec
	backend secretBackend[M]
}

func (r *secretConnectionResource[M]) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *secretConnectionResource[M]) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var config M
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(r.spec.validate(*r.backend.model(&config))...)
	if v, ok := r.backend.(secretConfigValidator[M]); ok {
		resp.Diagnostics.Append(v.validateConfig(ctx, &config)...)
	}
}

func (r *secretConnectionResource[M]) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	b, ok := r.backend.connect(r.data, resp.Diagnostics.AddError)
	if !ok {
		return
	}
	var plan M
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	value, ok := r.value(ctx, req.Config, b.model(&plan), &resp.Diagnostics)
	if !ok {
		return
	}
	diags, err := b.create(ctx, &plan, value)
	resp.Diagnostics.Append(diags...)
	if errors.Is(err, r.spec.errExists) {
		resp.Diagnostics.AddAttributeError(path.Root("connection_id"), "Secret Already Exists",
			fmt.Sprintf("%s.\n\nTo manage an existing secret with Terraform, import it: "+
				"terraform import %s.NAME %s", err, r.spec.typeName, b.importID(&plan)))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Error Creating Secret", r.spec.errorDetail(err))
		return
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(saveExtraWOKeys(ctx, resp.Private, b.model(&plan).woKeys)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// value renders the secret value of m with the configured write-only
// password and extra keys, and records those keys' names in m; false when
// it cannot, after adding the error.
func (r *secretConnectionResource[M]) value(ctx context.Context, config tfsdk.Config, m *secretConnectionModel, diags *diag.Diagnostics) (string, bool) {
	var passwordWO, extraWO types.String
	diags.Append(config.GetAttribute(ctx, path.Root("password_wo"), &passwordWO)...)
	diags.Append(config.GetAttribute(ctx, path.Root("extra_wo"), &extraWO)...)
	if diags.HasError() {
		return "", false
	}
	keys, err := extraWOKeys(extraWO)
	if err != nil {
		diags.AddAttributeError(path.Root("extra_wo"), "Invalid Extra", err.Error())
		return "", false
	}
	m.woKeys = keys
	value, err := m.value(passwordWO, extraWO)
	if err != nil {
		diags.AddError("Connection Cannot Be Written", err.Error())
		return "", false
	}
	return value, true
}

func (r *secretConnectionResource[M]) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	b, ok := r.backend.connect(r.data, resp.Diagnostics.AddError)
	if !ok {
		return
	}
	var state M
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	woKeys, d := loadExtraWOKeys(ctx, req.Private)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	b.model(&state).woKeys = woKeys
	diags, err := b.read(ctx, &state)
	resp.Diagnostics.Append(diags...)
	if errors.Is(err, r.spec.errNotFound) {
		tflog.Warn(ctx, "secret no longer exists or is scheduled for deletion; removing it from state", map[string]any{"secret": b.importID(&state), "error": err.Error()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Error Reading Secret", r.spec.errorDetail(err))
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *secretConnectionResource[M]) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	b, ok := r.backend.connect(r.data, resp.Diagnostics.AddError)
	if !ok {
		return
	}
	var plan, prior M
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var value *string
	if b.model(&plan).valueChanged(b.model(&prior)) || b.rewrites(&plan, &prior) {
		v, ok := r.value(ctx, req.Config, b.model(&plan), &resp.Diagnostics)
		if !ok {
			return
		}
		value = &v
	}
	diags, err := b.update(ctx, &plan, &prior, value)
	resp.Diagnostics.Append(diags...)
	if err != nil {
		resp.Diagnostics.AddError("Error Updating Secret", r.spec.errorDetail(err))
		return
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if value != nil {
		resp.Diagnostics.Append(saveExtraWOKeys(ctx, resp.Private, b.model(&plan).woKeys)...)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *secretConnectionResource[M]) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	b, ok := r.backend.connect(r.data, resp.Diagnostics.AddError)
	if !ok {
		return
	}
	var state M
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := b.delete(ctx, &state); err != nil {
		resp.Diagnostics.AddError("Error Deleting Secret", r.spec.errorDetail(err))
	}
}

// ImportState sets what the import ID names. The password is not imported:
// it stays out of state until configured.
func (r *secretConnectionResource[M]) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	attrs, err := r.backend.importAttributes(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", err.Error())
		return
	}
	attrs["format"] = airflow.FormatURI
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(name), attrs[name])...)
	}
}

// secretSpec describes how one backend names and reads secrets, and how
// its API reports the errors the shared body handles. The naming rules
// live in the backend's API package; these fields point at them.
type secretSpec struct {
	typeName         string // "airflowiam_aws_secret_connection", for messages
	name             string // "AWS Secrets Manager"
	defaultPrefix    string
	defaultSeparator string
	// checkNamePart checks a prefix or a separator; nameRule says in words
	// what it allows.
	checkNamePart func(s string) error
	nameRule      string
	// checkConnectionID checks a connection ID that Airflow and the backend
	// both allow; idRule says in words what it allows.
	checkConnectionID func(id string) error
	idRule            string
	// checkName validates a whole secret name.
	checkName func(name string) error
	// decode reads a secret value as the backend hands it to Airflow.
	decode func(value string) (*airflow.Connection, string, error)
	// errExists and errNotFound are what the backend's client wraps when a
	// name is taken and when a secret is gone; errorDetail renders any of
	// its errors for a diagnostic.
	errExists, errNotFound error
	errorDetail            func(err error) string
}

func (b *secretSpec) secretName(m *secretConnectionModel) string {
	return m.Prefix.ValueString() + m.Separator.ValueString() + m.ConnectionID.ValueString()
}

// connectionAttributes are the schema attributes of secretConnectionModel.
func (b *secretSpec) connectionAttributes() map[string]schema.Attribute {
	attrs := map[string]schema.Attribute{
		"connection_id": schema.StringAttribute{
			Required: true,
			MarkdownDescription: fmt.Sprintf("The connection's ID, as tasks refer to it: %s, 1 to %d characters. "+
				"Changing it replaces the secret.", b.idRule, maxConnectionIDLength),
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			Validators: []validator.String{
				stringvalidator.LengthBetween(1, maxConnectionIDLength),
				ruleValidator{check: b.checkConnectionID, description: "must be an Airflow connection ID that " + b.name + " can name: " + b.idRule},
			},
		},
		"extra": schema.StringAttribute{
			CustomType: extraType{},
			Optional:   true,
			MarkdownDescription: "Extra parameters as a JSON object, each key once, for example `jsonencode({ region_name = \"eu-west-1\" })`. " +
				"Secret keys belong in `extra_wo`, which keeps them out of plan and state. " +
				"Compared semantically: key order and white space never produce a diff.",
		},
		"prefix": schema.StringAttribute{
			Optional: true,
			Computed: true,
			Default:  stringdefault.StaticString(b.defaultPrefix),
			MarkdownDescription: fmt.Sprintf("The backend's `connections_prefix`. Defaults to `%s`. Changing it replaces the secret.",
				b.defaultPrefix),
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			Validators:    []validator.String{ruleValidator{check: b.checkNamePart, description: "may contain only " + b.nameRule}},
		},
		"separator": schema.StringAttribute{
			Optional: true,
			Computed: true,
			Default:  stringdefault.StaticString(b.defaultSeparator),
			MarkdownDescription: fmt.Sprintf("The backend's `sep`, between prefix and connection ID. Defaults to `%s`. "+
				"Changing it replaces the secret.", b.defaultSeparator),
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			Validators:    []validator.String{ruleValidator{check: b.checkNamePart, description: "may contain only " + b.nameRule}},
		},
		"format": schema.StringAttribute{
			Optional: true,
			Computed: true,
			Default:  stringdefault.StaticString(airflow.FormatURI),
			MarkdownDescription: "How the connection is written: `uri` (the form of `AIRFLOW_CONN_` variables, as `connection_uri()` " +
				"renders it) or `json` (as `connection_json()` renders it). Defaults to `uri`. A value the URI form cannot carry " +
				"exactly (for example an upper-case `conn_type`) is refused at plan time; use `json` for it.",
			Validators: []validator.String{stringvalidator.OneOf(airflow.FormatURI, airflow.FormatJSON)},
		},
	}
	maps.Copy(attrs, connectionFieldAttributes())
	maps.Copy(attrs, secretPasswordSchema.attributes())
	maps.Copy(attrs, extraWOAttributes("the secret"))
	return attrs
}

// secretPasswordSchema documents the password attributes of both
// secret-connection resources.
var secretPasswordSchema = passwordSchema{
	password: "Password. Stored in state (marked sensitive), where a change made to the secret out of band shows " +
		"in the next plan. Prefer `password_wo`. Conflicts with `password_wo`.",
	passwordWO: "Password, write-only: written into the secret but never stored in plan or state (Terraform 1.11+). " +
		"Every new version of the secret is written with the configured value; change `password_wo_version` to write a new " +
		"password when nothing else changes. A password changed out of band cannot be seen; one removed out of band can. " +
		"Requires `password_wo_version`; conflicts with `password`.",
	passwordWOVersion: "Version of `password_wo`. Change it (for example increment it) to write a new secret version with the current `password_wo`.",
}

// ruleValidator applies a naming rule kept in a backend's API package, with
// the diagnostic stringvalidator.RegexMatches would give.
type ruleValidator struct {
	check       func(string) error
	description string
}

func (v ruleValidator) Description(context.Context) string { return v.description }

func (v ruleValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v ruleValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if value := req.ConfigValue.ValueString(); v.check(value) != nil {
		resp.Diagnostics.Append(validatordiag.InvalidAttributeValueMatchDiagnostic(req.Path, v.description, value))
	}
}

// connection builds the connection from the model, with the write-only
// password when passwordWO is set. The write-only extra keys are added by
// value.
func (m *secretConnectionModel) connection(passwordWO types.String) *airflow.Connection {
	c := &airflow.Connection{
		ConnectionID: m.ConnectionID.ValueString(),
		ConnType:     m.ConnType.ValueString(),
		Host:         m.Host.ValueStringPointer(),
		Login:        m.Login.ValueStringPointer(),
		Schema:       m.Schema.ValueStringPointer(),
		Port:         portPointer(m.Port),
		Password:     m.Password.ValueStringPointer(),
		Extra:        m.Extra.ValueStringPointer(),
	}
	if !passwordWO.IsNull() && !passwordWO.IsUnknown() {
		c.Password = passwordWO.ValueStringPointer()
	}
	return c
}

// value renders the secret value, with the write-only password and extra
// keys.
func (m *secretConnectionModel) value(passwordWO, extraWO types.String) (string, error) {
	c, err := m.withExtraWO(passwordWO, extraWO)
	if err != nil {
		return "", err
	}
	return airflow.EncodeSecretValue(c, m.Format.ValueString())
}

// withExtraWO is the connection with the write-only password and extra
// keys.
func (m *secretConnectionModel) withExtraWO(passwordWO, extraWO types.String) (*airflow.Connection, error) {
	c := m.connection(passwordWO)
	extra, err := mergeExtraWO(c.Extra, extraWO)
	if err != nil {
		return nil, fmt.Errorf("extra_wo cannot be merged into extra: %w", err)
	}
	c.Extra = extra
	return c, nil
}

// validate is the plan-time part both resources share, on the
// configuration: the secret name fits the backend, and Airflow reads the
// value back exactly as configured. Unknown values skip the checks that
// need them.
func (b *secretSpec) validate(config secretConnectionModel) (diags diag.Diagnostics) {
	m := &config
	// Defaults are not in the configuration.
	if m.Prefix.IsNull() {
		m.Prefix = types.StringValue(b.defaultPrefix)
	}
	if m.Separator.IsNull() {
		m.Separator = types.StringValue(b.defaultSeparator)
	}
	if m.Format.IsNull() {
		m.Format = types.StringValue(airflow.FormatURI)
	}
	if known(m.ConnectionID, m.Prefix, m.Separator) {
		if err := b.checkName(b.secretName(m)); err != nil {
			diags.AddAttributeError(path.Root("connection_id"), "Invalid Secret Name",
				fmt.Sprintf("With prefix %q and separator %q, the secret would be named %q, which %s does not allow: %s.",
					m.Prefix.ValueString(), m.Separator.ValueString(), b.secretName(m), b.name, err))
		}
	}
	if !known(m.ConnType, m.Host, m.Login, m.Schema, m.Password, m.PasswordWO, m.ExtraWO, m.Format) || m.Port.IsUnknown() || m.Extra.IsUnknown() {
		return diags
	}
	if !validPort(m.Port) {
		return diags // the port's validator reports it
	}
	diags.Append(b.checkRoundTrip(m)...)
	return diags
}

// checkRoundTrip refuses a configuration that Airflow would read back
// differently from the secret value.
func (b *secretSpec) checkRoundTrip(m *secretConnectionModel) (diags diag.Diagnostics) {
	want, err := m.withExtraWO(m.PasswordWO, m.ExtraWO)
	if err != nil {
		return diags // extra_wo's validator reports it
	}
	format := m.Format.ValueString()
	value, err := airflow.EncodeSecretValue(want, format)
	if err != nil {
		attr := "conn_type"
		if strings.Contains(err.Error(), "extra") {
			attr = "extra"
		}
		diags.AddAttributeError(path.Root(attr), "Connection Cannot Be Written",
			fmt.Sprintf("The connection cannot be written in the %s form: %s.", format, err))
		return diags
	}
	got, _, err := b.decode(value)
	if err != nil {
		diags.AddAttributeError(path.Root("format"), "Connection Cannot Be Read Back",
			fmt.Sprintf("Airflow could not read back the %s form of this connection: %s. Try format = %q.", format, err, otherFormat(format)))
		return diags
	}
	field := airflow.DifferingField(want, got, true)
	if field == "" {
		return diags
	}
	attr := field
	if field == airflow.FieldPassword && !m.PasswordWO.IsNull() {
		attr = "password_wo"
	}
	if field == airflow.FieldExtra && !m.ExtraWO.IsNull() {
		attr = "extra_wo" // or extra: the merged extra is not kept
	}
	detail := fmt.Sprintf("Airflow would read %s back from the %s form as %q, not as configured", field, format, airflow.FieldValue(got, field))
	if field == airflow.FieldPassword || field == airflow.FieldExtra {
		// Neither is echoed: an extra may hold secrets too.
		detail = fmt.Sprintf("Airflow would not read the %s back from the %s form as configured", field, format)
	}
	diags.AddAttributeError(path.Root(attr), "Value Not Kept By The Secret Format",
		fmt.Sprintf("%s, so every plan would show a change. Write it as Airflow reads it, or use format = %q.", detail, otherFormat(format)))
	return diags
}

func otherFormat(format string) string {
	if format == airflow.FormatURI {
		return airflow.FormatJSON
	}
	return airflow.FormatURI
}

// applyValue records in m (the prior state) what a backend reads from
// value: fields that Airflow would see differently take the value read;
// fields it sees the same keep their configured form. The password is
// compared only when it is in state; a write-only password that was
// removed out of band clears password_wo_version, so the next plan writes
// it again. It returns an error when the value cannot be read at all.
func (b *secretSpec) applyValue(m *secretConnectionModel, value string) error {
	got, format, err := b.decode(value)
	if err != nil {
		return err
	}
	if m.Format.ValueString() != format {
		m.Format = types.StringValue(format)
	}
	extra, missing, err := stripExtraWO(got.Extra, m.woKeys)
	if err != nil {
		return err
	}
	got.Extra = extra
	if missing {
		m.ExtraWOVersion = types.Int64Null() // removed out of band: write it again
	}
	// What Airflow reads from the prior state's own value.
	m.applyFields(b.readBack(m.connection(types.StringNull()), format), got)
	return nil
}

// readBack is what Airflow reads from c written in format, or c itself
// when that cannot be written or read.
func (b *secretSpec) readBack(c *airflow.Connection, format string) *airflow.Connection {
	rendered, err := airflow.EncodeSecretValue(c, format)
	if err != nil {
		return c
	}
	if w, _, err := b.decode(rendered); err == nil {
		return w
	}
	return c
}

// applyFields takes from got each field that Airflow reads differently
// from want, the prior state's connection as Airflow reads it.
func (m *secretConnectionModel) applyFields(want, got *airflow.Connection) {
	same := airflow.SameField
	if !same(want, got, airflow.FieldConnType) {
		m.ConnType = types.StringValue(got.ConnType)
	}
	if !same(want, got, airflow.FieldHost) {
		m.Host = nonEmpty(got.Host)
	}
	if !same(want, got, airflow.FieldLogin) {
		m.Login = nonEmpty(got.Login)
	}
	if !same(want, got, airflow.FieldSchema) {
		m.Schema = nonEmpty(got.Schema)
	}
	if !same(want, got, airflow.FieldPort) {
		m.Port = portNumber(got.Port)
	}
	if !same(want, got, airflow.FieldExtra) {
		m.Extra = newExtraNull()
		if e := nonEmpty(got.Extra); !e.IsNull() && e.ValueString() != "{}" {
			m.Extra = newExtraValue(e.ValueString())
		}
	}
	switch {
	case !m.Password.IsNull():
		if !same(want, got, airflow.FieldPassword) {
			m.Password = nonEmpty(got.Password)
		}
	case !m.PasswordWOVersion.IsNull():
		if got.Password == nil {
			m.PasswordWOVersion = types.Int64Null()
		}
	}
}

// valueChanged says whether the plan writes a new secret value: a
// connection field, the format or the password changed.
func (m *secretConnectionModel) valueChanged(prior *secretConnectionModel) bool {
	return !m.ConnType.Equal(prior.ConnType) || !m.Host.Equal(prior.Host) || !m.Login.Equal(prior.Login) ||
		!m.Schema.Equal(prior.Schema) || !m.Port.Equal(prior.Port) || !m.Extra.Equal(prior.Extra) ||
		!m.Password.Equal(prior.Password) || !m.PasswordWOVersion.Equal(prior.PasswordWOVersion) ||
		!m.ExtraWOVersion.Equal(prior.ExtraWOVersion) || !m.Format.Equal(prior.Format)
}
