package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/exchange"
)

var (
	_ datasource.DataSource                     = (*tokenExchangeDataSource)(nil)
	_ datasource.DataSourceWithConfigure        = (*tokenExchangeDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*tokenExchangeDataSource)(nil)
)

const defaultPropagationTimeout = 2 * time.Minute

// NewTokenExchangeDataSource returns the airflowiam_token_exchange data source.
func NewTokenExchangeDataSource() datasource.DataSource {
	return &tokenExchangeDataSource{}
}

type tokenExchangeDataSource struct {
	data *providerData
}

type tokenExchangeModel struct {
	ID                    types.String      `tfsdk:"id"`
	RoleARN               types.String      `tfsdk:"role_arn"`
	Audience              types.String      `tfsdk:"audience"`
	ServiceAccount        types.String      `tfsdk:"service_account"`
	Delegates             types.List        `tfsdk:"delegates"`
	AirflowConnectionID   types.String      `tfsdk:"airflow_connection_id"`
	GCPImpersonationChain types.List        `tfsdk:"gcp_impersonation_chain"`
	GCPConnectionID       types.String      `tfsdk:"gcp_connection_id"`
	SessionName           types.String      `tfsdk:"session_name"`
	PropagationTimeout    types.String      `tfsdk:"propagation_timeout"`
	AssumedRoleARN        types.String      `tfsdk:"assumed_role_arn"`
	AWSAccountID          types.String      `tfsdk:"aws_account_id"`
	Expiration            timetypes.RFC3339 `tfsdk:"expiration"`
	Claims                *claimsModel      `tfsdk:"claims"`
	Steps                 []stepModel       `tfsdk:"steps"`
}

// claimsModel is the verified ID token's claims; nil when no token was
// minted.
type claimsModel struct {
	Aud   types.String `tfsdk:"aud"`
	Azp   types.String `tfsdk:"azp"`
	Sub   types.String `tfsdk:"sub"`
	Email types.String `tfsdk:"email"`
}

type stepModel struct {
	Name    types.String `tfsdk:"name"`
	Status  types.String `tfsdk:"status"`
	Finding types.String `tfsdk:"finding"`
}

func (d *tokenExchangeDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_token_exchange"
}

func (d *tokenExchangeDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Walks the credential path of an Airflow task for real, during plan, and fails with one " +
			"precise error naming the broken hop and the fix:\n\n" +
			"1. `" + exchange.StepCaller + "`: who the provider's Google credentials are (tokeninfo).\n" +
			"2. `" + exchange.StepConnection + "` (with `airflow_connection_id`): the connection's extra uses web identity, " +
			"Google federation, an audience and the role under test; role and audience may come from it.\n" +
			"3. `" + exchange.StepIDToken + "`: a Google ID token for `service_account` through `delegates` (IAM Credentials " +
			"`generateIdToken`), with the audience under test.\n" +
			"4. `" + exchange.StepVerifyToken + "`: its signature against Google's keys, and its `aud`, `azp`, `sub`, `email`.\n" +
			"5. `" + exchange.StepTrustPolicy + "`: the role's trust policy judged against those claims, as AWS would " +
			"(every condition operator AWS documents, `...IfExists`, `ForAllValues:` / `ForAnyValue:` and policy variables). " +
			"The policy is read only when the provider's AWS identity is in the role's account. The step is skipped, " +
			"with the reason, and STS decides, when the role is in another account, `iam:GetRole` is not allowed, IAM " +
			"does not find the role, or the verdict depends on something only AWS knows (such as `aws:SourceIp`).\n" +
			"6. `" + exchange.StepAssumeRole + "` and `" + exchange.StepCallerIdentity + "`: STS exchanges the token and the " +
			"temporary credentials prove themselves.\n" +
			"7. `" + exchange.StepGCPConnection + "` (with `gcp_connection_id`): the Google connection's `impersonation_chain`, " +
			"read as Airflow's Google hook reads it (a comma-separated string or a list); a connection with a key field " +
			"(`key_path`, `keyfile_dict`, `credential_config_file`, `key_secret_name`) fails, as its chain starts from the key.\n" +
			"8. `" + exchange.StepGCPImpersonated + "` (with `gcp_impersonation_chain` or `gcp_connection_id`): an access token " +
			"for the chain's target, as Airflow's Google operators mint it.\n\n" +
			"On a denial it reads each hop's account and IAM policy, and its project's policy when it may (grants are " +
			"inherited from the project), and says per hop what is held and what is needed: Google requires " +
			"`roles/iam.serviceAccountTokenCreator` (`iam.serviceAccounts.implicitDelegation`) on every delegate of a chain, " +
			"and the token's own permission only on the last account. It names a role that mints nothing, a role too " +
			"narrow for its position, a condition false now (IAM conditions are evaluated with CEL over `request.time`), a " +
			"missing or disabled account, and delegates whose grants exist in another order; each `gcloud` fix names the " +
			"role that works at that position. A hop it cannot judge (a grant through a group, a custom role, a condition " +
			"on other attributes, a policy it may not read) is named as one that may be broken, with the reason. When " +
			"every grant is there, IAM may still be propagating a new one: it retries with backoff for up to " +
			"`propagation_timeout` and says how long it waited.\n\n" +
			"Inside a `check` block a failure is a warning, so `terraform plan -detailed-exitcode` in CI reports a broken " +
			"path without blocking applies. No token or credential is ever stored in state or logged.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The role tested, or the GCP chain's target when only that is tested.",
			},
			"role_arn": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "ARN of the AWS role to assume. May come from the connection's `role_arn` instead; when " +
					"both are given they must agree.",
				Validators: []validator.String{stringvalidator.RegexMatches(roleARNPattern, "must be an IAM role ARN, such as arn:aws:iam::123456789012:role/airflow")},
			},
			"audience": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Audience of the ID token, as the role's trust policy expects it in `accounts.google.com:oaud`. " +
					"May come from the connection's `assume_role_with_web_identity_federation_audience` instead; when both are " +
					"given they must agree.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"service_account": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Email of the Google service account Airflow's workers run as: the identity AWS must trust " +
					"and the start of `gcp_impersonation_chain`. The provider's own identity reaches it through `delegates`: it " +
					"needs OpenID Token Creator (or Token Creator) on it for the ID token, and Token Creator when " +
					"`gcp_impersonation_chain` is set, because the account is then a delegate of that chain. When unset, the provider's own identity is tested, as " +
					"Airflow's AWS hook uses the worker's own credentials; that needs a service-account key or " +
					"`impersonate_service_account` in the google block.",
				Validators: []validator.String{serviceAccountEmailValidator()},
			},
			"delegates": schema.ListAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Service accounts between the provider's identity and `service_account`, in order (not " +
					"part of Airflow's path).",
				Validators: []validator.List{
					listvalidator.ValueStringsAre(serviceAccountEmailValidator()),
					listvalidator.UniqueValues(),
					listvalidator.AlsoRequires(path.MatchRoot("service_account")),
				},
			},
			"airflow_connection_id": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "An Airflow AWS connection to check (needs the provider's airflow block): its extra must " +
					"have `assume_role_method = assume_role_with_web_identity`, federation `google`, an audience and a role.",
				Validators: connectionIDValidators(),
			},
			"gcp_connection_id": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "An Airflow Google connection whose `impersonation_chain` is the chain to check (needs the " +
					"provider's airflow block), as Airflow's Google hook reads it; with `gcp_impersonation_chain` too, both must " +
					"name the same chain.",
				Validators: connectionIDValidators(),
			},
			"gcp_impersonation_chain": schema.ListAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Airflow's `impersonation_chain` (delegates, then the target), for example " +
					"`airflowiam_impersonation_chain.x.airflow_impersonation_chain`: checked by minting an access token for the " +
					"target from `service_account` (or the provider's identity) through the others.",
				Validators: []validator.List{
					listvalidator.SizeAtLeast(1),
					listvalidator.ValueStringsAre(serviceAccountEmailValidator()),
				},
			},
			"session_name": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The STS role session name. Default: the connection's `assume_role_kwargs.RoleSessionName`, as Airflow's AWS hook " +
					"uses it, else `" + exchange.DefaultSessionName + "`.",
				Validators: []validator.String{
					stringvalidator.LengthBetween(2, 64),
					stringvalidator.RegexMatches(sessionNamePattern, "must be 2 to 64 letters, digits and =,.@-_"),
				},
			},
			// A string with durationValidator rather than timetypes.GoDuration:
			// the custom type validates first, and its message names neither
			// the attribute nor that the duration may not be negative.
			"propagation_timeout": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "How long to keep retrying when every IAM grant is in place but Google still denies, as " +
					"a new grant can take minutes to take effect: a Go duration such as `2m` or `45s`. Default `2m`; `0s` never waits.",
				Validators: []validator.String{durationValidator{}},
			},
			"assumed_role_arn": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The assumed-role ARN the temporary credentials act as (`GetCallerIdentity`).",
			},
			"aws_account_id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The AWS account of the assumed role.",
			},
			"expiration": schema.StringAttribute{
				CustomType:          timetypes.RFC3339Type{},
				Computed:            true,
				MarkdownDescription: "When the temporary credentials expire (RFC 3339). The credentials themselves are discarded.",
			},
			"claims": schema.SingleNestedAttribute{
				Computed:            true,
				MarkdownDescription: "Claims of the verified ID token. The token itself is discarded.",
				Attributes: map[string]schema.Attribute{
					"aud":   schema.StringAttribute{Computed: true, MarkdownDescription: "The audience; AWS checks it as `accounts.google.com:oaud`."},
					"azp":   schema.StringAttribute{Computed: true, MarkdownDescription: "The service account's numeric unique ID; AWS checks it as `accounts.google.com:aud`."},
					"sub":   schema.StringAttribute{Computed: true, MarkdownDescription: "The service account's numeric unique ID; AWS checks it as `accounts.google.com:sub`."},
					"email": schema.StringAttribute{Computed: true, MarkdownDescription: "The service account's email."},
				},
			},
			"steps": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "Every step in order, with its verdict.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"name":    schema.StringAttribute{Computed: true, MarkdownDescription: "The step."},
						"status":  schema.StringAttribute{Computed: true, MarkdownDescription: "`ok`, `failed` or `skipped`."},
						"finding": schema.StringAttribute{Computed: true, MarkdownDescription: "What the step found, in one line."},
					},
				},
			},
		},
	}
}

func (d *tokenExchangeDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.AtLeastOneOf(
			path.MatchRoot("role_arn"), path.MatchRoot("airflow_connection_id"), path.MatchRoot("gcp_impersonation_chain"),
			path.MatchRoot("gcp_connection_id"),
		),
	}
}

func (d *tokenExchangeDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *tokenExchangeDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg tokenExchangeModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := cfg.input(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	checker := d.checker(in, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	res := checker.Run(ctx, in)
	for _, s := range res.Steps {
		tflog.Debug(ctx, "token exchange step", map[string]any{"step": s.Name, "status": string(s.Status), "finding": s.Finding})
	}
	if res.Failure != nil {
		resp.Diagnostics.AddError(res.Failure.Summary, res.Failure.Detail+"\n\nSteps:\n"+stepsText(res.Steps))
		return
	}

	state := cfg
	state.ID = types.StringValue(res.RoleARN)
	if res.RoleARN == "" && len(res.GCPChain) > 0 {
		state.ID = types.StringValue(res.GCPChain[len(res.GCPChain)-1])
	}
	state.AssumedRoleARN = stringOrNull(res.AssumedRoleARN)
	state.AWSAccountID = stringOrNull(res.AccountID)
	state.Expiration = timetypes.NewRFC3339Null()
	if !res.Expiration.IsZero() {
		state.Expiration = timetypes.NewRFC3339TimeValue(res.Expiration.UTC())
	}
	state.Claims = nil
	if c := res.Claims; c != nil {
		state.Claims = &claimsModel{Aud: types.StringValue(c.Audience), Azp: types.StringValue(c.AZP),
			Sub: types.StringValue(c.Subject), Email: stringOrNull(c.Email)}
	}
	state.Steps = make([]stepModel, len(res.Steps))
	for i, s := range res.Steps {
		state.Steps[i] = stepModel{Name: types.StringValue(s.Name), Status: types.StringValue(string(s.Status)), Finding: types.StringValue(s.Finding)}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// input is what the configuration asks to check.
func (m *tokenExchangeModel) input(ctx context.Context, diags *diag.Diagnostics) exchange.Input {
	in := exchange.Input{
		RoleARN:            m.RoleARN.ValueString(),
		Audience:           m.Audience.ValueString(),
		ServiceAccount:     m.ServiceAccount.ValueString(),
		ConnectionID:       m.AirflowConnectionID.ValueString(),
		GCPConnectionID:    m.GCPConnectionID.ValueString(),
		SessionName:        m.SessionName.ValueString(),
		PropagationTimeout: defaultPropagationTimeout,
	}
	if !m.PropagationTimeout.IsNull() {
		in.PropagationTimeout, _ = time.ParseDuration(m.PropagationTimeout.ValueString()) // validated
	}
	diags.Append(m.Delegates.ElementsAs(ctx, &in.Delegates, true)...)
	diags.Append(m.GCPImpersonationChain.ElementsAs(ctx, &in.GCPChain, true)...)
	return in
}

// checker holds the clients the input needs; a missing block is an error
// naming it.
func (d *tokenExchangeDataSource) checker(in exchange.Input, diags *diag.Diagnostics) *exchange.Checker {
	checker := &exchange.Checker{}
	if d.data != nil {
		checker.Shared = &d.data.checks
	}
	if g := googleClientFrom(d.data, diags.AddError); g != nil {
		checker.Google = g
	}
	if in.RoleARN != "" || in.ConnectionID != "" {
		if a := awsClientFrom(d.data, diags.AddError); a != nil {
			checker.AWS = a
		}
	}
	if in.ConnectionID != "" || in.GCPConnectionID != "" {
		if af := airflowClientFrom(d.data, diags.AddError); af != nil {
			checker.Airflow = af
		}
	}
	return checker
}

// stepsText lists the verdicts, one per line.
func stepsText(steps []exchange.Step) string {
	out := ""
	for _, s := range steps {
		out += fmt.Sprintf("  %-8s %s: %s\n", s.Status, s.Name, s.Finding)
	}
	return out
}

// durationValidator accepts a non-negative Go duration.
type durationValidator struct{}

func (durationValidator) Description(context.Context) string {
	return "value must be a Go duration such as 2m or 45s"
}

func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (durationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	d, err := time.ParseDuration(req.ConfigValue.ValueString())
	if err != nil || d < 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Duration",
			fmt.Sprintf("%s must be a non-negative Go duration such as 2m or 45s; got %q.", req.Path, req.ConfigValue.ValueString()))
	}
}
