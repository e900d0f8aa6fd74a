package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/attr/xattr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
)

// The fields of an Airflow connection as every object that writes or reads
// one takes them: airflowiam_connection, the connection data source and
// the secret-connection resources.

// connectionFieldsModel holds the fields the resource and the data source
// share: everything Airflow returns except the password.
type connectionFieldsModel struct {
	ID           types.String `tfsdk:"id"`
	ConnectionID types.String `tfsdk:"connection_id"`
	ConnType     types.String `tfsdk:"conn_type"`
	Description  types.String `tfsdk:"description"`
	Host         types.String `tfsdk:"host"`
	Login        types.String `tfsdk:"login"`
	Schema       types.String `tfsdk:"schema"`
	Port         types.Number `tfsdk:"port"`
	Extra        extraValue   `tfsdk:"extra"`
}

// setFromAPI copies what Airflow returned, extra included as returned.
func (m *connectionFieldsModel) setFromAPI(conn *airflow.Connection) {
	m.ID = types.StringValue(conn.ConnectionID)
	m.ConnectionID = types.StringValue(conn.ConnectionID)
	m.ConnType = types.StringValue(conn.ConnType)
	m.Description = types.StringPointerValue(conn.Description)
	m.Host = types.StringPointerValue(conn.Host)
	m.Login = types.StringPointerValue(conn.Login)
	m.Schema = types.StringPointerValue(conn.Schema)
	m.Port = portNumber(conn.Port)
	m.Extra = newExtraPointer(conn.Extra)
}

// passwordSchema is the password of a resource that writes a connection:
// `password`, kept in state, or the write-only `password_wo` with
// `password_wo_version`, never both. The descriptions say what the
// resource does with them; the plan modifiers are its own.
type passwordSchema struct {
	password, passwordWO, passwordWOVersion string
	passwordPlan                            []planmodifier.String
	versionPlan                             []planmodifier.Int64
}

func (p passwordSchema) attributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"password": schema.StringAttribute{
			Optional:            true,
			Sensitive:           true,
			MarkdownDescription: p.password,
			Validators: []validator.String{
				stringvalidator.LengthAtLeast(1),
				stringvalidator.ConflictsWith(path.MatchRoot("password_wo")),
			},
			PlanModifiers: p.passwordPlan,
		},
		"password_wo": schema.StringAttribute{
			Optional:            true,
			Sensitive:           true,
			WriteOnly:           true,
			MarkdownDescription: p.passwordWO,
			Validators: []validator.String{
				stringvalidator.LengthAtLeast(1),
				stringvalidator.ConflictsWith(path.MatchRoot("password")),
				stringvalidator.AlsoRequires(path.MatchRoot("password_wo_version")),
			},
		},
		"password_wo_version": schema.Int64Attribute{
			Optional:            true,
			MarkdownDescription: p.passwordWOVersion,
			Validators:          []validator.Int64{int64validator.AlsoRequires(path.MatchRoot("password_wo"))},
			PlanModifiers:       p.versionPlan,
		},
	}
}

// connectionFieldAttributes are the connection fields both the Airflow and
// the secrets-backend resources take: conn_type, host, login, schema, port.
func connectionFieldAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"conn_type": schema.StringAttribute{
			Required:            true,
			MarkdownDescription: "The connection type, for example `aws`, `google_cloud_platform`, `postgres` or `http`.",
			Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
		},
		"host": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "Host name or URL.",
		},
		"login": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "Login (user name).",
		},
		"schema": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "Schema (for databases, usually the database name).",
		},
		"port": schema.NumberAttribute{
			Optional:            true,
			MarkdownDescription: fmt.Sprintf("Port, a whole number from %d to %d.", minPort, maxPort),
			Validators:          []validator.Number{portValidator{}},
		},
	}
}

// extraWOAttributes are `extra_wo`, a JSON object of secret extra keys that
// is merged into `extra` on write and never stored, and `extra_wo_version`,
// the trigger to write it again. what says what the resource writes to.
func extraWOAttributes(what string) map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"extra_wo": schema.StringAttribute{
			Optional:  true,
			Sensitive: true,
			WriteOnly: true,
			MarkdownDescription: "Secret extra keys, write-only: a JSON object, for example `jsonencode({ api_key = var.api_key })`, " +
				"whose keys are merged into `extra` when " + what + " is written, but never stored in plan or state (Terraform 1.11+, " +
				"OpenTofu 1.11+). It may not repeat a key of `extra`. It is written on create, whenever `extra_wo_version` changes, " +
				"and with every other change of the connection (the extra is written as a whole). The provider remembers only the " +
				"key names, in private state, so that they never show as drift in `extra`; a key removed out of band makes the " +
				"next plan write it again, but a value changed out of band cannot be seen. Requires `extra_wo_version`.",
			Validators: []validator.String{
				extraWOValidator{},
				stringvalidator.AlsoRequires(path.MatchRoot("extra_wo_version")),
			},
		},
		"extra_wo_version": schema.Int64Attribute{
			Optional: true,
			MarkdownDescription: "Version of `extra_wo`. Change it (for example increment it) to write the current `extra_wo` " +
				"when nothing else changes. Removing it together with `extra_wo` writes the extra without those keys.",
			Validators: []validator.Int64{int64validator.AlsoRequires(path.MatchRoot("extra_wo"))},
		},
	}
}

// extraWOValidator requires extra_wo to be a JSON object without duplicate
// keys that shares no key with the configured extra. Neither value is ever
// echoed; key names are.
type extraWOValidator struct{}

var _ validator.String = extraWOValidator{}

func (extraWOValidator) Description(context.Context) string {
	return "value must be a JSON object whose keys are not in extra"
}

func (v extraWOValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (extraWOValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	secret, d := parseExtraObject(req.Path, req.ConfigValue.ValueString())
	if resp.Diagnostics.Append(d...); d.HasError() {
		return
	}
	var extra extraValue
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("extra"), &extra)...)
	if extra.IsNull() || extra.IsUnknown() {
		return
	}
	plain, err := airflow.ExtraObject(extra.ValueString())
	if err != nil {
		return // extra's own validator reports it
	}
	for _, key := range slices.Sorted(maps.Keys(secret)) {
		if _, dup := plain[key]; dup {
			resp.Diagnostics.AddAttributeError(req.Path, "Key In Both Extra And Extra_wo",
				fmt.Sprintf("The key %q is in both extra and extra_wo. Each key goes in one of them: secret values in extra_wo "+
					"(never stored), the others in extra.", key))
		}
	}
}

// parseExtraObject reads a configured extra (or extra_wo) as a JSON object,
// with an error naming the attribute when it is not one.
func parseExtraObject(at path.Path, s string) (map[string]any, diag.Diagnostics) {
	var diags diag.Diagnostics
	obj, err := airflow.ExtraObject(s)
	if err != nil {
		diags.AddAttributeError(at, "Invalid Extra",
			fmt.Sprintf("%s must be a JSON object, for example jsonencode({ region_name = \"eu-west-1\" }): %s.", at, err))
	}
	return obj, diags
}

// privateExtraWOKeys is the private-state key under which a resource keeps
// the names (never the values) of the extra keys that came from extra_wo.
const privateExtraWOKeys = "extra_wo_keys"

// privateGetter and privateSetter are the parts of the framework's private
// state a resource uses.
type (
	privateGetter interface {
		GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
	}
	privateSetter interface {
		SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
	}
)

// extraWOKeys are the sorted key names of a configured extra_wo; none when
// it is null.
func extraWOKeys(extraWO types.String) ([]string, error) {
	if extraWO.IsNull() || extraWO.IsUnknown() {
		return nil, nil
	}
	obj, err := airflow.ExtraObject(extraWO.ValueString())
	if err != nil {
		return nil, fmt.Errorf("extra_wo must be a JSON object: %w", err)
	}
	return slices.Sorted(maps.Keys(obj)), nil
}

// saveExtraWOKeys records the key names in private state.
func saveExtraWOKeys(ctx context.Context, p privateSetter, keys []string) diag.Diagnostics {
	if keys == nil {
		keys = []string{}
	}
	b, err := json.Marshal(keys)
	if err != nil {
		var diags diag.Diagnostics
		diags.AddError("Error Saving Private State", err.Error())
		return diags
	}
	return p.SetKey(ctx, privateExtraWOKeys, b)
}

// loadExtraWOKeys reads the key names saveExtraWOKeys recorded.
func loadExtraWOKeys(ctx context.Context, p privateGetter) ([]string, diag.Diagnostics) {
	b, diags := p.GetKey(ctx, privateExtraWOKeys)
	if diags.HasError() || len(b) == 0 {
		return nil, diags
	}
	var keys []string
	if err := json.Unmarshal(b, &keys); err != nil {
		diags.AddError("Error Reading Private State", fmt.Sprintf("The names of the extra_wo keys could not be read: %s", err))
	}
	return keys, diags
}

// mergeExtraWO is extra with the keys of extraWO added; extra unchanged
// when extraWO is null.
func mergeExtraWO(extra *string, extraWO types.String) (*string, error) {
	if extraWO.IsNull() || extraWO.IsUnknown() {
		return extra, nil
	}
	merged, err := airflow.MergeExtra(derefOr(extra, ""), extraWO.ValueString())
	if err != nil {
		return nil, err
	}
	return &merged, nil
}

// stripExtraWO removes keys from an extra read back, and says whether one
// of them was missing (removed out of band). The result is nil when the
// extra is nil, "{}" when nothing else is left.
func stripExtraWO(extra *string, keys []string) (*string, bool, error) {
	if extra == nil || len(keys) == 0 {
		return extra, extra == nil && len(keys) > 0, nil
	}
	stripped, missing, err := airflow.WithoutExtraKeys(*extra, keys)
	if err != nil {
		return nil, false, err
	}
	return &stripped, missing, nil
}

func derefOr(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

// extraType is the type of a connection's `extra`: JSON compared
// semantically, as jsontypes.Normalized is, but checked with the
// provider's own rule (one JSON object, each key once), whose message
// names the attribute and says where the text goes wrong without
// echoing it. The jsontypes check would stop validation first with a
// message that quotes the whole value, secrets included.
type extraType struct {
	jsontypes.NormalizedType
}

var (
	_ basetypes.StringTypable                    = extraType{}
	_ basetypes.StringValuableWithSemanticEquals = extraValue{}
	_ xattr.ValidateableAttribute                = extraValue{}
)

func (t extraType) String() string { return "extraType" }

func (t extraType) Equal(o attr.Type) bool {
	_, ok := o.(extraType)
	return ok
}

func (t extraType) ValueType(context.Context) attr.Value { return extraValue{} }

func (t extraType) ValueFromString(_ context.Context, in basetypes.StringValue) (basetypes.StringValuable, diag.Diagnostics) {
	return extraValue{Normalized: jsontypes.Normalized{StringValue: in}}, nil
}

func (t extraType) ValueFromTerraform(ctx context.Context, in tftypes.Value) (attr.Value, error) {
	v, err := t.StringType.ValueFromTerraform(ctx, in)
	if err != nil {
		return nil, err
	}
	s, ok := v.(basetypes.StringValue)
	if !ok {
		return nil, fmt.Errorf("unexpected value type %T", v)
	}
	out, diags := t.ValueFromString(ctx, s)
	if diags.HasError() {
		return nil, fmt.Errorf("converting a string to extra: %v", diags)
	}
	return out, nil
}

// extraValue is a value of extraType.
type extraValue struct {
	jsontypes.Normalized
}

func newExtraValue(s string) extraValue {
	return extraValue{Normalized: jsontypes.NewNormalizedValue(s)}
}

func newExtraPointer(s *string) extraValue {
	return extraValue{Normalized: jsontypes.NewNormalizedPointerValue(s)}
}

func newExtraNull() extraValue { return extraValue{Normalized: jsontypes.NewNormalizedNull()} }

func (v extraValue) Type(context.Context) attr.Type { return extraType{} }

func (v extraValue) Equal(o attr.Value) bool {
	other, ok := o.(extraValue)
	return ok && v.StringValue.Equal(other.StringValue)
}

func (v extraValue) StringSemanticEquals(ctx context.Context, newValuable basetypes.StringValuable) (bool, diag.Diagnostics) {
	var diags diag.Diagnostics
	other, ok := newValuable.(extraValue)
	if !ok {
		diags.AddError("Semantic Equality Check Error", fmt.Sprintf("Expected an extra value, got %T.", newValuable))
		return false, diags
	}
	return v.Normalized.StringSemanticEquals(ctx, other.Normalized)
}

// ValidateAttribute requires one JSON object with each key once.
func (v extraValue) ValidateAttribute(_ context.Context, req xattr.ValidateAttributeRequest, resp *xattr.ValidateAttributeResponse) {
	if v.IsNull() || v.IsUnknown() {
		return
	}
	_, diags := parseExtraObject(req.Path, v.ValueString())
	resp.Diagnostics.Append(diags...)
}
