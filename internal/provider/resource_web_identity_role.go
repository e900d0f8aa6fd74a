package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awspolicy"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

var (
	_ resource.Resource                = (*webIdentityRoleResource)(nil)
	_ resource.ResourceWithConfigure   = (*webIdentityRoleResource)(nil)
	_ resource.ResourceWithImportState = (*webIdentityRoleResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*webIdentityRoleResource)(nil)

	_ roleHooks[webIdentityRoleModel] = (*webIdentityRoleResource)(nil)
)

var googleUniqueIDPattern = regexp.MustCompile(`^[0-9]{1,32}$`)

// NewWebIdentityRoleResource returns the airflowiam_web_identity_role resource.
func NewWebIdentityRoleResource() resource.Resource {
	r := &webIdentityRoleResource{}
	r.roleBlock = roleBlock[webIdentityRoleModel, *webIdentityRoleModel]{typeName: "airflowiam_web_identity_role", hooks: r}
	return r
}

// webIdentityRoleResource is a role-shaped resource: the role block
// supplies Configure, ModifyPlan, Create, Read, Update, Delete and
// ImportState; this file adds what is Google-specific.
type webIdentityRoleResource struct {
	roleBlock[webIdentityRoleModel, *webIdentityRoleModel]
}

type webIdentityRoleModel struct {
	roleModel
	GoogleServiceAccount         types.String `tfsdk:"google_service_account"`
	GoogleServiceAccountUniqueID types.String `tfsdk:"google_service_account_unique_id"`
	Audience                     types.String `tfsdk:"audience"`
	AirflowConnectionExtra       types.String `tfsdk:"airflow_connection_extra"`
}

func (r *webIdentityRoleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_web_identity_role"
}

func (r *webIdentityRoleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
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
			roleAuthoritativeNote,
		Attributes: roleAttributes(map[string]schema.Attribute{
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
			"airflow_connection_extra": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "The extra of an Airflow AWS connection that uses this role: `role_arn`, `region_name` (the " +
					"provider's AWS region), `assume_role_method = assume_role_with_web_identity`, " +
					"`assume_role_with_web_identity_federation = google` and `assume_role_with_web_identity_federation_audience`. " +
					"Pass it to `airflowiam_connection.extra`.",
			},
		}),
	}
}

// trustPolicy is the Google trust policy the arguments ask for.
func (r *webIdentityRoleResource) trustPolicy(m *webIdentityRoleModel) (string, bool) {
	if m.GoogleServiceAccountUniqueID.IsUnknown() || m.GoogleServiceAccount.IsUnknown() || m.Audience.IsUnknown() {
		return "", false
	}
	return awspolicy.GoogleTrust(m.GoogleServiceAccountUniqueID.ValueString(), m.GoogleServiceAccount.ValueString(), m.Audience.ValueString()).JSON(), true
}

// planArguments plans the unique ID when it is not configured (and rejects
// a missing one at plan time) and the connection extra.
func (r *webIdentityRoleResource) planArguments(ctx context.Context, req resource.ModifyPlanRequest, plan, state *webIdentityRoleModel, diags *diag.Diagnostics) {
	var configured types.String
	diags.Append(req.Config.GetAttribute(ctx, path.Root("google_service_account_unique_id"), &configured)...)
	if diags.HasError() {
		return
	}
	if configured.IsNull() {
		plan.GoogleServiceAccountUniqueID = r.lookUpUniqueID(ctx, plan.GoogleServiceAccount, state, diags)
		if diags.HasError() {
			return
		}
	}
	plan.AirflowConnectionExtra = types.StringUnknown()
	if !state.ARN.IsNull() && !plan.Audience.IsUnknown() {
		plan.AirflowConnectionExtra = types.StringValue(airflowAWSExtra(state.ARN.ValueString(), r.region(), plan.Audience.ValueString()))
	}
}

// region is the provider's AWS region, or "" without an aws block.
func (r *webIdentityRoleResource) region() string {
	if r.data == nil || r.data.aws == nil {
		return ""
	}
	return r.data.aws.Region
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

// readArguments fills the Google arguments from the trust policy where
// they are unknown (after an import only the name is), and the connection
// extra.
func (r *webIdentityRoleResource) readArguments(m *webIdentityRoleModel, role *awsiam.Role, region string) {
	if m.GoogleServiceAccount.IsNull() || m.Audience.IsNull() || m.GoogleServiceAccountUniqueID.IsNull() {
		found := googleTrustArguments(role.TrustPolicy)
		m.GoogleServiceAccount = nullOr(m.GoogleServiceAccount, found.email)
		m.GoogleServiceAccountUniqueID = nullOr(m.GoogleServiceAccountUniqueID, found.uniqueID)
		m.Audience = nullOr(m.Audience, found.audience)
	}
	m.AirflowConnectionExtra = types.StringValue(airflowAWSExtra(role.ARN, region, m.Audience.ValueString()))
}

// nullOr is have, or found when have is null and found is not empty.
func nullOr(have types.String, found string) types.String {
	if have.IsNull() && found != "" {
		return types.StringValue(found)
	}
	return have
}

// googleTrust holds the Google arguments read back from a trust policy.
type googleTrust struct {
	email, uniqueID, audience string
}

// googleTrustArguments reads the email, unique ID and audience back from a
// trust policy shaped like the one this resource writes.
func googleTrustArguments(doc string) googleTrust {
	var found googleTrust
	p, err := awspolicy.Parse(doc)
	if err != nil {
		return found
	}
	for _, st := range p.Statements {
		if !slices.Contains(st.Principal["Federated"], awspolicy.GoogleFederatedPrincipal) {
			continue
		}
		for _, keys := range st.Condition {
			for key, values := range keys {
				found.take(key, values)
			}
		}
	}
	return found
}

// take records what one condition key of a Google statement says.
func (g *googleTrust) take(key string, values []string) {
	switch strings.ToLower(key) {
	case awspolicy.KeyGoogleSub:
		if len(values) == 1 {
			g.uniqueID = values[0]
		}
	case awspolicy.KeyGoogleOaud:
		if len(values) == 1 {
			g.audience = values[0]
		}
	case awspolicy.KeyGoogleAud:
		for _, v := range values {
			if strings.Contains(v, "@") {
				g.email = v
			}
		}
	}
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
