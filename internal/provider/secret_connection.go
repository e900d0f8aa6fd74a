package provider

import (
	"fmt"
	"maps"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
)

// This file holds what airflowiam_aws_secret_connection and
// airflowiam_gcp_secret_connection share: the connection fields, how they
// become a secret value, the plan-time check that Airflow reads the value
// back as configured, and drift detection on the value a backend reads.

// secretConnectionModel is the connection part of both resources.
type secretConnectionModel struct {
	ConnectionID      types.String         `tfsdk:"connection_id"`
	ConnType          types.String         `tfsdk:"conn_type"`
	Host              types.String         `tfsdk:"host"`
	Login             types.String         `tfsdk:"login"`
	Schema            types.String         `tfsdk:"schema"`
	Port              types.Int64          `tfsdk:"port"`
	Extra             jsontypes.Normalized `tfsdk:"extra"`
	Password          types.String         `tfsdk:"password"`
	PasswordWO        types.String         `tfsdk:"password_wo"`
	PasswordWOVersion types.Int64          `tfsdk:"password_wo_version"`
	Prefix            types.String         `tfsdk:"prefix"`
	Separator         types.String         `tfsdk:"separator"`
	Format            types.String         `tfsdk:"format"`
}

// secretBackend describes how one backend names and reads secrets.
type secretBackend struct {
	name             string // "AWS Secrets Manager"
	defaultPrefix    string
	defaultSeparator string
	namePattern      *regexp.Regexp // characters the backend allows in a secret name
	nameRule         string         // namePattern in words
	idPattern        *regexp.Regexp // connection IDs both Airflow and the backend allow
	idRule           string         // idPattern in words
	// checkName validates a whole secret name.
	checkName func(name string) error
	// decode reads a secret value as the backend hands it to Airflow.
	decode func(value string) (*airflow.Connection, string, error)
}

func (b *secretBackend) secretName(m *secretConnectionModel) string {
	return m.Prefix.ValueString() + m.Separator.ValueString() + m.ConnectionID.ValueString()
}

// connectionAttributes are the schema attributes of secretConnectionModel.
func (b *secretBackend) connectionAttributes() map[string]schema.Attribute {
	attrs := map[string]schema.Attribute{
		"connection_id": schema.StringAttribute{
			Required: true,
			MarkdownDescription: fmt.Sprintf("The connection's ID, as tasks refer to it: %s, 1 to %d characters. "+
				"Changing it replaces the secret.", b.idRule, maxConnectionIDLength),
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			Validators: []validator.String{
				stringvalidator.LengthBetween(1, maxConnectionIDLength),
				stringvalidator.RegexMatches(b.idPattern, "must be an Airflow connection ID that "+b.name+" can name: "+b.idRule),
			},
		},
		"extra": schema.StringAttribute{
			CustomType: jsontypes.NormalizedType{},
			Optional:   true,
			MarkdownDescription: "Extra parameters as a JSON object, for example `jsonencode({ region_name = \"eu-west-1\" })`. " +
				"Compared semantically: key order and white space never produce a diff.",
			Validators: []validator.String{jsonObjectValidator{}},
		},
		"password": schema.StringAttribute{
			Optional:  true,
			Sensitive: true,
			MarkdownDescription: "Password. Stored in state (marked sensitive), where a change made to the secret out of band shows " +
				"in the next plan. Prefer `password_wo`. Conflicts with `password_wo`.",
			Validators: []validator.String{
				stringvalidator.LengthAtLeast(1),
				stringvalidator.ConflictsWith(path.MatchRoot("password_wo")),
			},
		},
		"password_wo": schema.StringAttribute{
			Optional:  true,
			Sensitive: true,
			WriteOnly: true,
			MarkdownDescription: "Password, write-only: written into the secret but never stored in plan or state (Terraform 1.11+). " +
				"Every new version of the secret is written with the configured value; change `password_wo_version` to write a new " +
				"password when nothing else changes. A password changed out of band cannot be seen; one removed out of band can. " +
				"Requires `password_wo_version`; conflicts with `password`.",
			Validators: []validator.String{
				stringvalidator.LengthAtLeast(1),
				stringvalidator.ConflictsWith(path.MatchRoot("password")),
				stringvalidator.AlsoRequires(path.MatchRoot("password_wo_version")),
			},
		},
		"password_wo_version": schema.Int64Attribute{
			Optional:            true,
			MarkdownDescription: "Version of `password_wo`. Change it (for example increment it) to write a new secret version with the current `password_wo`.",
			Validators:          []validator.Int64{int64validator.AlsoRequires(path.MatchRoot("password_wo"))},
		},
		"prefix": schema.StringAttribute{
			Optional: true,
			Computed: true,
			Default:  stringdefault.StaticString(b.defaultPrefix),
			MarkdownDescription: fmt.Sprintf("The backend's `connections_prefix`. Defaults to `%s`. Changing it replaces the secret.",
				b.defaultPrefix),
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			Validators:    []validator.String{stringvalidator.RegexMatches(b.namePattern, "may contain only "+b.nameRule)},
		},
		"separator": schema.StringAttribute{
			Optional: true,
			Computed: true,
			Default:  stringdefault.StaticString(b.defaultSeparator),
			MarkdownDescription: fmt.Sprintf("The backend's `sep`, between prefix and connection ID. Defaults to `%s`. "+
				"Changing it replaces the secret.", b.defaultSeparator),
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			Validators:    []validator.String{stringvalidator.RegexMatches(b.namePattern, "may contain only "+b.nameRule)},
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
	return attrs
}

// connection builds the connection from the model, with the write-only
// password when passwordWO is set.
func (m *secretConnectionModel) connection(passwordWO types.String) *airflow.Connection {
	c := &airflow.Connection{
		ConnectionID: m.ConnectionID.ValueString(),
		ConnType:     m.ConnType.ValueString(),
		Host:         m.Host.ValueStringPointer(),
		Login:        m.Login.ValueStringPointer(),
		Schema:       m.Schema.ValueStringPointer(),
		Port:         m.Port.ValueInt64Pointer(),
		Password:     m.Password.ValueStringPointer(),
		Extra:        m.Extra.ValueStringPointer(),
	}
	if !passwordWO.IsNull() && !passwordWO.IsUnknown() {
		c.Password = passwordWO.ValueStringPointer()
	}
	return c
}

// value renders the secret value.
func (m *secretConnectionModel) value(passwordWO types.String) (string, error) {
	return airflow.EncodeSecretValue(m.connection(passwordWO), m.Format.ValueString())
}

// validate is the plan-time part both resources share, on the
// configuration: the secret name fits the backend, and Airflow reads the
// value back exactly as configured. Unknown values skip the checks that
// need them.
func (b *secretBackend) validate(config secretConnectionModel) (diags diag.Diagnostics) {
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
	if !known(m.ConnType, m.Host, m.Login, m.Schema, m.Password, m.PasswordWO, m.Format) || m.Port.IsUnknown() || m.Extra.IsUnknown() {
		return diags
	}
	diags.Append(b.checkRoundTrip(m)...)
	return diags
}

// checkRoundTrip refuses a configuration that Airflow would read back
// differently from the secret value.
func (b *secretBackend) checkRoundTrip(m *secretConnectionModel) (diags diag.Diagnostics) {
	want := m.connection(m.PasswordWO)
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
	detail := fmt.Sprintf("Airflow would read %s back from the %s form as %q, not as configured", field, format, airflow.FieldValue(got, field))
	if field == airflow.FieldPassword {
		detail = fmt.Sprintf("Airflow would not read the password back from the %s form as configured", format)
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
func (b *secretBackend) applyValue(m *secretConnectionModel, value string) error {
	got, format, err := b.decode(value)
	if err != nil {
		return err
	}
	if m.Format.ValueString() != format {
		m.Format = types.StringValue(format)
	}
	// What Airflow reads from the prior state's own value.
	want := m.connection(types.StringNull())
	if rendered, err := airflow.EncodeSecretValue(want, format); err == nil {
		if w, _, err := b.decode(rendered); err == nil {
			want = w
		}
	}
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
		m.Port = types.Int64PointerValue(got.Port)
	}
	if !same(want, got, airflow.FieldExtra) {
		m.Extra = jsontypes.NewNormalizedNull()
		if e := nonEmpty(got.Extra); !e.IsNull() && e.ValueString() != "{}" {
			m.Extra = jsontypes.NewNormalizedValue(e.ValueString())
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
	return nil
}

// nonEmpty is a string value, null when s is nil or empty: the secret forms
// cannot tell an empty field from a missing one.
func nonEmpty(s *string) types.String {
	if s == nil || *s == "" {
		return types.StringNull()
	}
	return types.StringValue(*s)
}

// valueChanged says whether the plan writes a new secret value: a
// connection field, the format or the password changed.
func (m *secretConnectionModel) valueChanged(prior *secretConnectionModel) bool {
	return !m.ConnType.Equal(prior.ConnType) || !m.Host.Equal(prior.Host) || !m.Login.Equal(prior.Login) ||
		!m.Schema.Equal(prior.Schema) || !m.Port.Equal(prior.Port) || !m.Extra.Equal(prior.Extra) ||
		!m.Password.Equal(prior.Password) || !m.PasswordWOVersion.Equal(prior.PasswordWOVersion) ||
		!m.Format.Equal(prior.Format)
}

// known says whether every value is known (null counts as known).
func known(values ...types.String) bool {
	for _, v := range values {
		if v.IsUnknown() {
			return false
		}
	}
	return true
}
