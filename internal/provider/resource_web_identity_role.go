package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awspolicy"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

var (
	_ resource.Resource                = (*webIdentityRoleResource)(nil)
	_ resource.ResourceWithConfigure   = (*webIdentityRoleResource)(nil)
	_ resource.ResourceWithImportState = (*webIdentityRoleResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*webIdentityRoleResource)(nil)
)

// Limits and forms from IAM's API reference.
const (
	minSessionDuration = 3600
	maxSessionDuration = 43200
)

var (
	roleNamePattern       = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	rolePathPattern       = regexp.MustCompile(`^/([\x21-\x7e]*/)?$`)
	policyARNPattern      = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\w+=,.@/-]+$`)
	googleSAEmailPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*@([a-z0-9][a-z0-9.:-]*\.iam|developer|appspot)\.gserviceaccount\.com$`)
	googleUniqueIDPattern = regexp.MustCompile(`^[0-9]{1,32}$`)
)

// NewWebIdentityRoleResource returns the airflowiam_web_identity_role resource.
func NewWebIdentityRoleResource() resource.Resource {
	return &webIdentityRoleResource{}
}

type webIdentityRoleResource struct {
	data *providerData
}

type webIdentityRoleModel struct {
	ID                           types.String `tfsdk:"id"`
	Name                         types.String `tfsdk:"name"`
	Path                         types.String `tfsdk:"path"`
	Description                  types.String `tfsdk:"description"`
	GoogleServiceAccount         types.String `tfsdk:"google_service_account"`
	GoogleServiceAccountUniqueID types.String `tfsdk:"google_service_account_unique_id"`
	Audience                     types.String `tfsdk:"audience"`
	MaxSessionDuration           types.Int64  `tfsdk:"max_session_duration"`
	PermissionsBoundary          types.String `tfsdk:"permissions_boundary"`
	ManagedPolicyARNs            types.Set    `tfsdk:"managed_policy_arns"`
	InlinePolicies               types.Map    `tfsdk:"inline_policies"`
	Tags                         types.Map    `tfsdk:"tags"`
	ARN                          types.String `tfsdk:"arn"`
	UniqueID                     types.String `tfsdk:"unique_id"`
	TrustPolicy                  types.String `tfsdk:"trust_policy"`
	AirflowConnectionExtra       types.String `tfsdk:"airflow_connection_extra"`
}

func (r *webIdentityRoleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_web_identity_role"
}

func (r *webIdentityRoleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	useState := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "An AWS IAM role that a Google service account assumes with a Google ID token " +
			"(`AssumeRoleWithWebIdentity` through the built-in `accounts.google.com` federation), plus the extra an Airflow AWS " +
			"connection needs to use it.\n\n" +
			"The trust policy allows `sts:AssumeRoleWithWebIdentity` for `{\"Federated\": \"accounts.google.com\"}` when " +
			"`accounts.google.com:aud` is the service account's numeric unique ID **or** its email, `accounts.google.com:sub` is " +
			"the unique ID, and `accounts.google.com:oaud` is the audience. AWS compares `accounts.google.com:aud` with the " +
			"token's `azp` claim, which is the numeric unique ID for tokens from the metadata server or the IAM Credentials API " +
			"(how Airflow's AWS hook gets them) and the email for tokens signed with a key file; trusting both makes both work. " +
			"A trust policy that lists only the email, as some published examples do, fails every keyless exchange with AccessDenied.\n\n" +
			"`managed_policy_arns`, `inline_policies` and `tags` are authoritative: what is attached out of band is removed on the next apply.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The role name.",
				PlanModifiers:       useState,
			},
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Role name: 1 to 64 letters, digits and `+=,.@_-`. Changing it replaces the role.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators: []validator.String{stringvalidator.RegexMatches(roleNamePattern,
					"must be 1 to 64 letters, digits and +=,.@_- (IAM's role name rule)")},
			},
			"path": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString("/"),
				MarkdownDescription: "Role path, `/` (the default) or `/something/`. Changing it replaces the role.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators: []validator.String{
					stringvalidator.LengthAtMost(512),
					stringvalidator.RegexMatches(rolePathPattern, "must be / or begin and end with /, like /airflow/"),
				},
			},
			"description": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Role description, 1 to 1000 characters.",
				Validators:          []validator.String{stringvalidator.LengthBetween(1, 1000)},
			},
			"google_service_account": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Email of the Google service account allowed to assume the role: the identity of the Airflow " +
					"workers (Airflow's AWS hook uses the worker's Application Default Credentials and applies no impersonation chain).",
				Validators: []validator.String{serviceAccountEmailValidator()},
			},
			"google_service_account_unique_id": schema.StringAttribute{
				Optional: true,
				Computed: true,
				MarkdownDescription: "The service account's numeric unique ID (the `sub` and `azp` of its ID tokens), as " +
					"`gcloud iam service-accounts describe EMAIL --format='value(uniqueId)'` prints it. When unset, the provider " +
					"looks it up during plan through its google block; without a google block it must be set.",
				Validators: []validator.String{stringvalidator.RegexMatches(googleUniqueIDPattern,
					"must be the service account's numeric unique ID (digits only), not its email")},
			},
			"audience": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The audience (`aud`) the ID tokens are requested for, checked as `accounts.google.com:oaud`. " +
					"Airflow has no default: the connection's `assume_role_with_web_identity_federation_audience` must equal it.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"max_session_duration": schema.Int64Attribute{
				Optional:            true,
				Computed:            true,
				Default:             int64default.StaticInt64(minSessionDuration),
				MarkdownDescription: fmt.Sprintf("Maximum session duration in seconds, from %d (the default) to %d.", minSessionDuration, maxSessionDuration),
				Validators:          []validator.Int64{int64validator.Between(minSessionDuration, maxSessionDuration)},
			},
			"permissions_boundary": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "ARN of the managed policy used as the role's permissions boundary.",
				Validators: []validator.String{stringvalidator.RegexMatches(policyARNPattern,
					"must be an IAM policy ARN, such as arn:aws:iam::123456789012:policy/boundary")},
			},
			"managed_policy_arns": schema.SetAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				Computed:            true,
				Default:             setdefault.StaticValue(types.SetValueMust(types.StringType, nil)),
				MarkdownDescription: "ARNs of the managed policies attached to the role, exclusively: others are detached. Default: none.",
				Validators: []validator.Set{setvalidator.ValueStringsAre(stringvalidator.RegexMatches(policyARNPattern,
					"must be an IAM policy ARN, such as arn:aws:iam::aws:policy/ReadOnlyAccess"))},
			},
			"inline_policies": schema.MapAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				Computed:            true,
				Default:             mapdefault.StaticValue(types.MapValueMust(types.StringType, nil)),
				MarkdownDescription: "Inline policies, name to JSON document, exclusively: others are deleted. Documents are compared semantically. Default: none.",
				Validators:          []validator.Map{mapvalidator.ValueStringsAre(policyDocumentValidator{})},
				PlanModifiers:       []planmodifier.Map{semanticPolicyMapPlan{}},
			},
			"tags": schema.MapAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				Computed:            true,
				Default:             mapdefault.StaticValue(types.MapValueMust(types.StringType, nil)),
				MarkdownDescription: "Tags on the role, exclusively. Default: none.",
			},
			"arn": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The role's ARN.",
				PlanModifiers:       useState,
			},
			"unique_id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The role's stable unique ID (`AROA...`).",
				PlanModifiers:       useState,
			},
			"trust_policy": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The role's trust policy as canonical JSON. A trust policy changed out of band shows as a change to this attribute in the next plan, and apply restores it.",
			},
			"airflow_connection_extra": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "The extra of an Airflow AWS connection that uses this role: `role_arn`, `region_name` (the " +
					"provider's AWS region), `assume_role_method = assume_role_with_web_identity`, " +
					"`assume_role_with_web_identity_federation = google` and `assume_role_with_web_identity_federation_audience`. " +
					"Pass it to `airflowiam_connection.extra`.",
			},
		},
	}
}

func (r *webIdentityRoleResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan plans the trust policy and the connection extra from the
// arguments, and rejects a missing unique ID at plan time.
func (r *webIdentityRoleResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var plan, state webIdentityRoleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	var configured types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("google_service_account_unique_id"), &configured)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if configured.IsNull() {
		plan.GoogleServiceAccountUniqueID = r.lookUpUniqueID(ctx, plan.GoogleServiceAccount, &state, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
	}

	if plan.GoogleServiceAccountUniqueID.IsUnknown() || plan.GoogleServiceAccount.IsUnknown() || plan.Audience.IsUnknown() {
		plan.TrustPolicy = types.StringUnknown()
	} else {
		desired := desiredTrustPolicy(&plan)
		if equal, err := awspolicy.Equal(state.TrustPolicy.ValueString(), desired); err == nil && equal {
			plan.TrustPolicy = state.TrustPolicy
		} else {
			plan.TrustPolicy = types.StringValue(desired)
		}
	}

	region := ""
	if r.data != nil && r.data.aws != nil {
		region = r.data.aws.Region
	}
	if !state.ARN.IsNull() && !plan.Audience.IsUnknown() {
		plan.AirflowConnectionExtra = types.StringValue(airflowAWSExtra(state.ARN.ValueString(), region, plan.Audience.ValueString()))
	} else {
		plan.AirflowConnectionExtra = types.StringUnknown()
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// lookUpUniqueID plans the unique ID of the service account when it is not
// configured: the prior state's while the email is unchanged, else what
// Google reports now.
func (r *webIdentityRoleResource) lookUpUniqueID(ctx context.Context, email types.String, state *webIdentityRoleModel, diags *diag.Diagnostics) types.String {
	if email.IsUnknown() {
		return types.StringUnknown()
	}
	if !state.GoogleServiceAccountUniqueID.IsNull() && state.GoogleServiceAccount.Equal(email) {
		return state.GoogleServiceAccountUniqueID
	}
	at := path.Root("google_service_account_unique_id")
	if r.data == nil || r.data.google == nil {
		reason := "the provider is not configured"
		if r.data != nil {
			reason = r.data.googleErr
		}
		diags.AddAttributeError(at, "Missing Google Service Account Unique ID",
			fmt.Sprintf("The unique ID of %s cannot be looked up because %s. Add a google block to the provider, or set "+
				"google_service_account_unique_id to the number `gcloud iam service-accounts describe %s --format='value(uniqueId)'` prints.",
				email.ValueString(), reason, email.ValueString()))
		return types.StringNull()
	}
	sa, err := r.data.google.ServiceAccount(ctx, email.ValueString())
	if err != nil {
		detail := googleErrorDetail(err)
		if gcpiam.IsNotFound(err) {
			detail = fmt.Sprintf("Service account %s does not exist (%s). Create it first, or fix google_service_account.", email.ValueString(), err)
		}
		diags.AddAttributeError(path.Root("google_service_account"), "Error Looking Up Service Account",
			fmt.Sprintf("Could not look up the unique ID of %s: %s", email.ValueString(), detail))
		return types.StringNull()
	}
	return types.StringValue(sa.UniqueID)
}

func (r *webIdentityRoleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	client := awsClientFrom(r.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var plan webIdentityRoleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	spec, diags := plan.spec(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	tflog.Debug(ctx, "creating IAM role", map[string]any{"name": spec.Name})
	role, err := client.CreateRole(ctx, spec)
	if err != nil {
		if awsiam.IsAlreadyExists(err) {
			resp.Diagnostics.AddAttributeError(path.Root("name"), "IAM Role Already Exists",
				fmt.Sprintf("An IAM role named %q already exists, so it was not created. To manage it with Terraform, import it: "+
					"`terraform import airflowiam_web_identity_role.NAME %s`, or choose another name.\n\nAWS said: %s", spec.Name, spec.Name, err))
			return
		}
		resp.Diagnostics.AddError("Error Creating IAM Role", fmt.Sprintf("Could not create IAM role %q: %s", spec.Name, awsErrorDetail(err)))
		return
	}
	state := plan
	resp.Diagnostics.Append(state.applyRole(ctx, role, client.Region)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *webIdentityRoleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	client := awsClientFrom(r.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var state webIdentityRoleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := state.ID.ValueString()
	role, err := client.GetRole(ctx, name)
	if awsiam.IsNotFound(err) {
		tflog.Warn(ctx, "IAM role no longer exists; removing it from state", map[string]any{"name": name})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Error Reading IAM Role", fmt.Sprintf("Could not read IAM role %q: %s", name, awsErrorDetail(err)))
		return
	}
	resp.Diagnostics.Append(state.applyRole(ctx, role, client.Region)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *webIdentityRoleResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	client := awsClientFrom(r.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var plan webIdentityRoleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	spec, diags := plan.spec(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	current, err := client.GetRole(ctx, spec.Name)
	if err != nil {
		resp.Diagnostics.AddError("Error Updating IAM Role", fmt.Sprintf("Could not read IAM role %q before updating it: %s", spec.Name, awsErrorDetail(err)))
		return
	}
	role, err := client.UpdateRole(ctx, current, spec)
	if err != nil {
		resp.Diagnostics.AddError("Error Updating IAM Role", fmt.Sprintf("Could not update IAM role %q: %s", spec.Name, awsErrorDetail(err)))
		return
	}
	state := plan
	resp.Diagnostics.Append(state.applyRole(ctx, role, client.Region)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *webIdentityRoleResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	client := awsClientFrom(r.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var state webIdentityRoleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := client.DeleteRole(ctx, state.ID.ValueString()); err != nil {
		resp.Diagnostics.AddError("Error Deleting IAM Role", fmt.Sprintf("Could not delete IAM role %q: %s", state.ID.ValueString(), awsErrorDetail(err)))
	}
}

// ImportState takes a role name. The Google arguments are read back from
// the role's trust policy.
func (r *webIdentityRoleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if !roleNamePattern.MatchString(req.ID) {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("%q is not an IAM role name: expected 1 to 64 letters, digits and +=,.@_-.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), req.ID)...)
}

// spec turns the plan into what the role should be.
func (m *webIdentityRoleModel) spec(ctx context.Context) (awsiam.RoleSpec, diag.Diagnostics) {
	var diags diag.Diagnostics
	spec := awsiam.RoleSpec{
		Name:                m.Name.ValueString(),
		Path:                m.Path.ValueString(),
		Description:         m.Description.ValueString(),
		TrustPolicy:         desiredTrustPolicy(m),
		MaxSessionDuration:  int32(m.MaxSessionDuration.ValueInt64()), //nolint:gosec // validated to 3600..43200
		PermissionsBoundary: m.PermissionsBoundary.ValueString(),
	}
	diags.Append(m.ManagedPolicyARNs.ElementsAs(ctx, &spec.ManagedPolicyARNs, false)...)
	diags.Append(m.InlinePolicies.ElementsAs(ctx, &spec.InlinePolicies, false)...)
	diags.Append(m.Tags.ElementsAs(ctx, &spec.Tags, false)...)
	return spec, diags
}

// applyRole copies what IAM reports into m, which holds the prior state or
// the plan. Values equal in meaning to what m has keep m's form.
func (m *webIdentityRoleModel) applyRole(ctx context.Context, role *awsiam.Role, region string) diag.Diagnostics {
	var diags diag.Diagnostics
	m.ID = types.StringValue(role.Name)
	m.Name = types.StringValue(role.Name)
	m.Path = types.StringValue(role.Path)
	m.Description = stringOrNull(role.Description)
	m.MaxSessionDuration = types.Int64Value(int64(role.MaxSessionDuration))
	m.PermissionsBoundary = stringOrNull(role.PermissionsBoundary)
	m.ARN = types.StringValue(role.ARN)
	m.UniqueID = types.StringValue(role.RoleID)

	if equal, err := awspolicy.Equal(m.TrustPolicy.ValueString(), role.TrustPolicy); err != nil || !equal {
		canonical, err := awspolicy.Canonical(role.TrustPolicy)
		if err != nil {
			canonical = role.TrustPolicy
		}
		m.TrustPolicy = types.StringValue(canonical)
	}
	// After an import only the name is known: the Google arguments come
	// from the trust policy.
	if m.GoogleServiceAccount.IsNull() || m.Audience.IsNull() || m.GoogleServiceAccountUniqueID.IsNull() {
		email, uniqueID, audience := googleTrustArguments(role.TrustPolicy)
		if m.GoogleServiceAccount.IsNull() && email != "" {
			m.GoogleServiceAccount = types.StringValue(email)
		}
		if m.GoogleServiceAccountUniqueID.IsNull() && uniqueID != "" {
			m.GoogleServiceAccountUniqueID = types.StringValue(uniqueID)
		}
		if m.Audience.IsNull() && audience != "" {
			m.Audience = types.StringValue(audience)
		}
	}

	// An empty list, not null: the attribute defaults to the empty set.
	managed, d := types.SetValueFrom(ctx, types.StringType, append([]string{}, role.ManagedPolicyARNs...))
	diags.Append(d...)
	m.ManagedPolicyARNs = managed

	prior := map[string]string{}
	if !m.InlinePolicies.IsNull() && !m.InlinePolicies.IsUnknown() {
		diags.Append(m.InlinePolicies.ElementsAs(ctx, &prior, false)...)
	}
	inline := map[string]attr.Value{}
	for name, doc := range role.InlinePolicies {
		if have, ok := prior[name]; ok {
			if equal, err := awspolicy.Equal(have, doc); err == nil && equal {
				inline[name] = types.StringValue(have)
				continue
			}
		}
		if canonical, err := awspolicy.Canonical(doc); err == nil {
			doc = canonical
		}
		inline[name] = types.StringValue(doc)
	}
	inlineValue, d := types.MapValue(types.StringType, inline)
	diags.Append(d...)
	m.InlinePolicies = inlineValue

	tags, d := types.MapValueFrom(ctx, types.StringType, role.Tags)
	diags.Append(d...)
	m.Tags = tags

	m.AirflowConnectionExtra = types.StringValue(airflowAWSExtra(role.ARN, region, m.Audience.ValueString()))
	return diags
}

// desiredTrustPolicy is the trust policy the arguments ask for.
func desiredTrustPolicy(m *webIdentityRoleModel) string {
	return awspolicy.GoogleTrust(m.GoogleServiceAccountUniqueID.ValueString(), m.GoogleServiceAccount.ValueString(), m.Audience.ValueString()).JSON()
}

// googleTrustArguments reads the email, unique ID and audience back from a
// trust policy shaped like the one this resource writes.
func googleTrustArguments(doc string) (email, uniqueID, audience string) {
	p, err := awspolicy.Parse(doc)
	if err != nil {
		return "", "", ""
	}
	for _, st := range p.Statements {
		if !slices.Contains(st.Principal["Federated"], awspolicy.GoogleFederatedPrincipal) {
			continue
		}
		for _, keys := range st.Condition {
			for key, values := range keys {
				switch strings.ToLower(key) {
				case awspolicy.KeyGoogleSub:
					if len(values) == 1 {
						uniqueID = values[0]
					}
				case awspolicy.KeyGoogleOaud:
					if len(values) == 1 {
						audience = values[0]
					}
				case awspolicy.KeyGoogleAud:
					for _, v := range values {
						if strings.Contains(v, "@") {
							email = v
						}
					}
				}
			}
		}
	}
	return email, uniqueID, audience
}

// airflowAWSExtra is the extra of an Airflow AWS connection that assumes
// the role with the worker's Google ID token.
func airflowAWSExtra(roleARN, region, audience string) string {
	extra := map[string]string{
		"role_arn":           roleARN,
		"assume_role_method": "assume_role_with_web_identity",
		"assume_role_with_web_identity_federation":          "google",
		"assume_role_with_web_identity_federation_audience": audience,
	}
	if region != "" {
		extra["region_name"] = region
	}
	b, _ := json.Marshal(extra) // a map of strings always encodes
	return string(b)
}

// policyDocumentValidator checks that a string is an IAM policy document.
type policyDocumentValidator struct{}

func (policyDocumentValidator) Description(context.Context) string {
	return "value must be an IAM policy document in JSON"
}

func (v policyDocumentValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (policyDocumentValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := awspolicy.Parse(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Policy Document",
			fmt.Sprintf("%s must be an IAM policy document in JSON, for example jsonencode({ Version = \"2012-10-17\", Statement = [...] }): %s", req.Path, err))
	}
}

func stringOrNull(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}
