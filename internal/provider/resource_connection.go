package provider

import (
	"context"
	"fmt"
	"maps"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
)

var (
	_ resource.Resource                = (*connectionResource)(nil)
	_ resource.ResourceWithConfigure   = (*connectionResource)(nil)
	_ resource.ResourceWithImportState = (*connectionResource)(nil)
)

// NewConnectionResource returns the airflowiam_connection resource.
func NewConnectionResource() resource.Resource {
	return &connectionResource{}
}

type connectionResource struct {
	data *providerData
}

type connectionResourceModel struct {
	connectionFieldsModel
	Password          types.String `tfsdk:"password"`
	PasswordWO        types.String `tfsdk:"password_wo"`
	PasswordWOVersion types.Int64  `tfsdk:"password_wo_version"`
	ExtraWO           types.String `tfsdk:"extra_wo"`
	ExtraWOVersion    types.Int64  `tfsdk:"extra_wo_version"`
}

func (r *connectionResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_connection"
}

func (r *connectionResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "An Airflow connection, managed through Airflow's REST API (Airflow 3 `/api/v2` or Airflow 2 `/api/v1`).\n\n" +
			"Secrets never need to be in state: use `password_wo` (write-only, Terraform 1.11+) with `password_wo_version`, " +
			"and `extra_wo` with `extra_wo_version` for secret extra keys such as an API key (see the example). " +
			"Airflow masks the password and sensitive `extra` keys (any key whose name contains `password`, `secret`, `token`, " +
			"`api_key`, `private_key`, `keyfile_dict`, and so on) as `***` when read back; for those fields the provider keeps the " +
			"configured value, so **drift of a masked value cannot be detected**. Adding, removing or changing any other field out " +
			"of band, or adding or removing a password on Airflow 3, shows in the next plan.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The connection ID (same as `connection_id`).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"connection_id": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The connection's ID, as tasks refer to it. " + connectionIDRule + ". " +
					"Changing it replaces the connection.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    connectionIDValidators(),
			},
			"description": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Free-text description shown in Airflow's UI.",
			},
			"extra": schema.StringAttribute{
				CustomType: extraType{},
				Optional:   true,
				// Computed only so that a reformatted configuration can plan
				// the prior state; semanticJSONPlan never plans an unknown.
				Computed:      true,
				PlanModifiers: []planmodifier.String{semanticJSONPlan{}},
				MarkdownDescription: "Extra parameters as a JSON object, each key once, for example `jsonencode({ region_name = \"eu-west-1\" })`. " +
					"Secret keys belong in `extra_wo`, which keeps them out of plan and state. Compared semantically: key order and white space never produce a diff. Values Airflow masks as `***` keep " +
					"their configured value.",
			},
		},
	}
	maps.Copy(resp.Schema.Attributes, connectionFieldAttributes())
	maps.Copy(resp.Schema.Attributes, connectionPasswordSchema.attributes())
	maps.Copy(resp.Schema.Attributes, extraWOAttributes("the connection"))
}

// connectionPasswordSchema documents the password attributes of
// airflowiam_connection, which replaces the connection when they are
// removed.
var connectionPasswordSchema = passwordSchema{
	password: "Password. Stored in state (marked sensitive); prefer `password_wo`. Conflicts with `password_wo`. " +
		"Airflow cannot unset a password through its API, so removing it replaces the connection.",
	passwordPlan: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(
		passwordClearedString, passwordClearedDescription, passwordClearedDescription)},
	passwordWO: "Password, write-only: sent to Airflow but never stored in plan or state (Terraform 1.11+). " +
		"It is sent on create and whenever `password_wo_version` changes. Requires `password_wo_version`; conflicts with `password`.",
	passwordWOVersion: "Version of `password_wo`. Change it (for example increment it) to send a new `password_wo`. " +
		"Removing it together with `password_wo` replaces the connection, because Airflow cannot unset a password.",
	versionPlan: []planmodifier.Int64{int64planmodifier.RequiresReplaceIf(
		passwordClearedInt64, passwordClearedDescription, passwordClearedDescription)},
}

const passwordClearedDescription = "Airflow's API cannot unset a password, so removing `password` (or `password_wo` and its version) replaces the connection."

// passwordClearedString and passwordClearedInt64 report whether the plan
// removes every password the prior state had: state held one, and the plan
// holds neither `password` nor `password_wo_version`.
func passwordClearedString(ctx context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
	if req.StateValue.IsNull() || !req.PlanValue.IsNull() {
		return
	}
	var version types.Int64
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("password_wo_version"), &version)...)
	resp.RequiresReplace = version.IsNull()
}

func passwordClearedInt64(ctx context.Context, req planmodifier.Int64Request, resp *int64planmodifier.RequiresReplaceIfFuncResponse) {
	if req.StateValue.IsNull() || !req.PlanValue.IsNull() {
		return
	}
	var password types.String
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("password"), &password)...)
	resp.RequiresReplace = password.IsNull()
}

func (r *connectionResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *connectionResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	client := airflowClientFrom(r.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var plan connectionResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var passwordWO types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("password_wo"), &passwordWO)...)
	if resp.Diagnostics.HasError() {
		return
	}

	id := plan.ConnectionID.ValueString()
	conn := plan.toAPI()
	if !passwordWO.IsNull() {
		conn.Password = passwordWO.ValueStringPointer()
	}
	woKeys, ok := withExtraWO(ctx, req.Config, conn, resp.Private, &resp.Diagnostics)
	if !ok {
		return
	}
	tflog.Debug(ctx, "creating Airflow connection", map[string]any{"connection_id": id})
	created, err := client.CreateConnection(ctx, conn)
	if err != nil {
		if airflow.IsConflict(err) {
			resp.Diagnostics.AddAttributeError(path.Root("connection_id"), "Connection Already Exists",
				fmt.Sprintf("Airflow at %s already has a connection %q, so it was not created. To manage the existing one with "+
					"Terraform, import it: add an import block { to = airflowiam_connection.NAME, id = %q } or run "+
					"`terraform import airflowiam_connection.NAME %s`. Otherwise choose another connection_id.\n\nAirflow said: %s",
					client.Endpoint(), id, id, id, err))
			return
		}
		resp.Diagnostics.AddError("Error Creating Airflow Connection",
			fmt.Sprintf("Could not create connection %q: %s", id, airflowErrorDetail(err)))
		return
	}

	state := plan
	resp.Diagnostics.Append(r.applyAPI(ctx, client, &state, created, woKeys)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *connectionResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	client := airflowClientFrom(r.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	// A refresh reads every connection: the flat codec spares each read the
	// framework's reflection.
	var state connectionResourceModel
	resp.Diagnostics.Append(getFlatState(ctx, req.State, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}

	id := state.ConnectionID.ValueString()
	conn, err := client.ReadConnection(ctx, id)
	if airflow.IsNotFound(err) {
		tflog.Warn(ctx, "Airflow connection no longer exists; removing it from state", map[string]any{"connection_id": id})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Error Reading Airflow Connection",
			fmt.Sprintf("Could not read connection %q: %s", id, airflowErrorDetail(err)))
		return
	}
	woKeys, diags := loadExtraWOKeys(ctx, req.Private)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(r.applyAPI(ctx, client, &state, conn, woKeys)...)
	resp.Diagnostics.Append(setFlatState(ctx, &resp.State, &state)...)
}

func (r *connectionResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	client := airflowClientFrom(r.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var plan, prior connectionResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	var passwordWO types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("password_wo"), &passwordWO)...)
	if resp.Diagnostics.HasError() {
		return
	}

	id := plan.ConnectionID.ValueString()
	conn := plan.toAPI()
	mask := []string{
		airflow.FieldConnType, airflow.FieldDescription, airflow.FieldHost, airflow.FieldLogin,
		airflow.FieldSchema, airflow.FieldPort, airflow.FieldExtra,
	}
	switch {
	case !plan.Password.IsNull() && !plan.Password.Equal(prior.Password):
		mask = append(mask, airflow.FieldPassword)
	case !passwordWO.IsNull() && !plan.PasswordWOVersion.Equal(prior.PasswordWOVersion):
		conn.Password = passwordWO.ValueStringPointer()
		mask = append(mask, airflow.FieldPassword)
	default:
		conn.Password = nil // unchanged: Airflow keeps the one it has
	}
	// The extra is written whole, so the write-only keys go with it.
	woKeys, ok := withExtraWO(ctx, req.Config, conn, resp.Private, &resp.Diagnostics)
	if !ok {
		return
	}
	tflog.Debug(ctx, "updating Airflow connection", map[string]any{"connection_id": id, "update_mask": mask})
	updated, err := client.UpdateConnection(ctx, conn, mask)
	if err != nil {
		resp.Diagnostics.AddError("Error Updating Airflow Connection",
			fmt.Sprintf("Could not update connection %q: %s", id, airflowErrorDetail(err)))
		return
	}
	state := plan
	resp.Diagnostics.Append(r.applyAPI(ctx, client, &state, updated, woKeys)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *connectionResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	client := airflowClientFrom(r.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var state connectionResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ConnectionID.ValueString()
	if err := client.DeleteConnection(ctx, id); err != nil && !airflow.IsNotFound(err) {
		resp.Diagnostics.AddError("Error Deleting Airflow Connection",
			fmt.Sprintf("Could not delete connection %q: %s", id, airflowErrorDetail(err)))
	}
}

func (r *connectionResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resp.Diagnostics.Append(validateConnectionID(req.ID, path.Root("connection_id"))...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("connection_id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}

// withExtraWO merges the configured extra_wo into conn's extra and records
// its key names in private state; false after adding an error.
func withExtraWO(ctx context.Context, config tfsdk.Config, conn *airflow.Connection, private privateSetter, diags *diag.Diagnostics) ([]string, bool) {
	var extraWO types.String
	diags.Append(config.GetAttribute(ctx, path.Root("extra_wo"), &extraWO)...)
	if diags.HasError() {
		return nil, false
	}
	keys, err := extraWOKeys(extraWO)
	if err == nil {
		conn.Extra, err = mergeExtraWO(conn.Extra, extraWO)
	}
	if err != nil {
		diags.AddAttributeError(path.Root("extra_wo"), "Invalid Extra", err.Error())
		return nil, false
	}
	diags.Append(saveExtraWOKeys(ctx, private, keys)...)
	return keys, !diags.HasError()
}

// toAPI builds the request body from the model. The password is set from
// `password` only; callers add a write-only one themselves.
func (m *connectionResourceModel) toAPI() *airflow.Connection {
	return &airflow.Connection{
		ConnectionID: m.ConnectionID.ValueString(),
		ConnType:     m.ConnType.ValueString(),
		Description:  m.Description.ValueStringPointer(),
		Host:         m.Host.ValueStringPointer(),
		Login:        m.Login.ValueStringPointer(),
		Schema:       m.Schema.ValueStringPointer(),
		Port:         portPointer(m.Port),
		Password:     m.Password.ValueStringPointer(),
		Extra:        m.Extra.ValueStringPointer(),
	}
}

// applyAPI copies what Airflow returned into m, which holds the prior state
// (or the plan, after a write). Masked values keep what m had, as the
// resource's documentation says. The extra keys that came from extra_wo
// (woKeys) are left out; when one of them is gone, extra_wo_version is
// cleared so that the next plan writes it again.
func (r *connectionResource) applyAPI(ctx context.Context, client *airflow.Client, m *connectionResourceModel, conn *airflow.Connection, woKeys []string) (diags diag.Diagnostics) {
	known := m.Extra.ValueString()
	returned, missing, err := stripExtraWO(conn.Extra, woKeys)
	if err != nil {
		diags.AddError("Unexpected Connection Extra", fmt.Sprintf("Airflow returned an extra for connection %q that is not JSON: %s", conn.ConnectionID, err))
		return diags
	}
	if missing {
		m.ExtraWOVersion = types.Int64Null()
	}
	stripped := *conn
	stripped.Extra = returned
	conn = &stripped
	if returned != nil && *returned == "{}" && m.Extra.IsNull() && len(woKeys) > 0 {
		conn.Extra = nil // only the write-only keys were there
	}
	m.setFromAPI(conn)
	if conn.Extra != nil {
		extra, err := airflow.UnmaskExtra(*conn.Extra, known)
		if err != nil {
			diags.AddError("Unexpected Connection Extra", fmt.Sprintf("Airflow returned an extra for connection %q that is not JSON: %s", conn.ConnectionID, err))
			return diags
		}
		m.Extra = newExtraValue(extra)
	}

	version, err := client.APIVersion(ctx)
	if err != nil {
		diags.AddError("Error Reading Airflow Connection", fmt.Sprintf("Could not determine Airflow's API version: %s", err))
		return diags
	}
	if version == airflow.VersionV2 {
		applyMaskedPassword(m, conn.Password)
	}
	// Airflow 2 never returns the password: nothing can be observed, so the
	// prior values stand.
	return diags
}

// applyMaskedPassword applies what Airflow 3 says about the password: "***"
// when one is set, null when none is.
func applyMaskedPassword(m *connectionResourceModel, returned *string) {
	hasPrior := !m.Password.IsNull() || !m.PasswordWOVersion.IsNull()
	switch {
	case returned == nil:
		// Removed out of band: drop what state claims so the plan re-sends it.
		m.Password = types.StringNull()
		m.PasswordWOVersion = types.Int64Null()
	case !hasPrior:
		// Set out of band (or imported): record that a password exists
		// without knowing it.
		m.Password = types.StringValue(airflow.MaskedValue)
	}
}
