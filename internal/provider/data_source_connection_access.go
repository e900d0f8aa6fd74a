package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"golang.org/x/oauth2"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpsecrets"
)

var (
	_ datasource.DataSource              = (*connectionAccessDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*connectionAccessDataSource)(nil)
)

// Values of expect.
const (
	expectAllowed = "allowed"
	expectDenied  = "denied"
)

// How a verdict was reached.
const judgedObserved = "observed"

var (
	gcpSecretNamePattern = regexp.MustCompile(`^projects/[^/]+/secrets/[A-Za-z0-9_-]+$`)
	// awsSecretPattern is a Secrets Manager secret ARN or name.
	awsSecretPattern = regexp.MustCompile(`^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+|[A-Za-z0-9/_+=.@-]{1,512})$`)
)

// NewConnectionAccessDataSource returns the airflowiam_connection_access
// data source.
func NewConnectionAccessDataSource() datasource.DataSource {
	return &connectionAccessDataSource{}
}

type connectionAccessDataSource struct {
	data *providerData
}

type connectionAccessModel struct {
	ID             types.String `tfsdk:"id"`
	Secret         types.String `tfsdk:"secret"`
	ServiceAccount types.String `tfsdk:"service_account"`
	RoleARN        types.String `tfsdk:"role_arn"`
	Audience       types.String `tfsdk:"audience"`
	Expect         types.String `tfsdk:"expect"`
	Readable       types.Bool   `tfsdk:"readable"`
	Judged         types.String `tfsdk:"judged"`
	Finding        types.String `tfsdk:"finding"`
}

func (d *connectionAccessDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_connection_access"
}

func (d *connectionAccessDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Proves, during plan, who can read one secret connection: it mints the credentials of an identity " +
			"the way a worker would and reads the connection's secret as that identity, as Airflow's secrets backend does. " +
			"With `expect = \"" + expectAllowed + "\"` (the default) the read must succeed; with `expect = \"" + expectDenied +
			"\"` it must be refused.\n\n" +
			"Google Secret Manager: the provider's Google identity impersonates `service_account` (it needs " +
			"`roles/iam.serviceAccountTokenCreator` on it) and calls `versions.access` on the secret's `latest` version, as " +
			"`CloudSecretManagerBackend` does. The verdict is Google's own (`judged = \"" + judgedObserved + "\"`). When it " +
			"is not the one expected, the secret's IAM policy and its project's are read to say why: the missing " +
			"`" + gcpsecrets.RoleSecretAccessor + "` grant and how to add it, a grant that exists but is conditional or " +
			"not in effect yet (IAM changes can take minutes to propagate), or each grant that lets a non-reader read " +
			"(on the secret, or project-wide) and how to remove it. Grants through groups, folders, organizations and " +
			"custom roles cannot be seen and are said to be so.\n\n" +
			"AWS Secrets Manager (`secret` is an ARN or a name, with `role_arn` and `audience`): the provider's Google " +
			"identity mints an ID token for `service_account` with `audience` (IAM Credentials `generateIdToken`), STS " +
			"exchanges it for the role's credentials (`AssumeRoleWithWebIdentity`), as the worker's AWS connection does, " +
			"and `GetSecretValue` is called with them, as `SecretsManagerBackend` does. When Secrets Manager refuses, " +
			"the refusal decides (`judged = \"" + judgedObserved + "\"`). When it answers, the verdict is **evaluated, " +
			"not observed** (`judged = \"" + judgedEvaluated + "\"`): a test environment such as moto enforces neither " +
			"resource policies nor KMS grants, so the successful read proves only that the credentials work. The " +
			"project's policy evaluator judges, as AWS does for a request within one account (an explicit Deny anywhere " +
			"wins, otherwise an Allow in the secret's resource policy or the role's identity policies allows), " +
			"`secretsmanager:GetSecretValue` over the secret's resource policy and the role's inline and attached " +
			"policies, and `kms:Decrypt` over the secret's key: the AWS managed key `aws/secretsmanager` needs nothing, " +
			"a customer managed key needs a grant to the role for `Decrypt` whose constraint every version of the secret " +
			"meets (none, or `EncryptionContextSubset` on `SecretARN`), or its key policy's allow. The provider's AWS " +
			"identity needs `iam:ListRolePolicies`, `iam:GetRolePolicy`, `iam:ListAttachedRolePolicies`, " +
			"`iam:GetPolicy`, `iam:GetPolicyVersion`, `secretsmanager:DescribeSecret`, " +
			"`secretsmanager:GetResourcePolicy`, `kms:DescribeKey`, `kms:GetKeyPolicy` and `kms:ListGrants`. A failure " +
			"names the statement or grant at fault and the fix: a reader without the resource-policy allow, a reader " +
			"without its key grant, or each statement and grant that lets a non-reader read. Permissions boundaries, " +
			"service control policies and session policies are not evaluated.\n\n" +
			"Inside a `check` block a failure is a warning. The secret's value is never stored in state or logged.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`SECRET|IDENTITY`.",
			},
			"secret": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "The connection's secret: for Secret Manager `projects/PROJECT/secrets/SECRET_ID`, the " +
					"`secret_name` of an `airflowiam_gcp_secret_connection`; for Secrets Manager the secret's ARN or name, the " +
					"`secret_arn` of an `airflowiam_aws_secret_connection`. Both are known only once the secret exists, so the " +
					"proof waits for the secret (an `id` is known at plan time, before the secret is created).",
				Validators: []validator.String{stringvalidator.Any(
					stringvalidator.RegexMatches(gcpSecretNamePattern, "must be a Secret Manager secret name, projects/PROJECT/secrets/SECRET_ID"),
					stringvalidator.RegexMatches(awsSecretPattern, "must be a Secrets Manager secret ARN or name"),
				)},
			},
			"service_account": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Email of the Google service account the task runs as (for example " +
					"`airflowiam_task_identity.x.google_service_account`). The provider's identity impersonates it; on AWS it " +
					"mints the account's ID token, which `role_arn` trusts.",
				Validators: []validator.String{serviceAccountEmailValidator()},
			},
			"role_arn": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Secrets Manager only, and required there: the reader role the task's ID token is " +
					"exchanged for (for example `airflowiam_web_identity_role.x.arn`), in the secret's account.",
				Validators: []validator.String{stringvalidator.RegexMatches(roleARNPattern, "must be an IAM role ARN, such as arn:aws:iam::123456789012:role/airflow")},
			},
			"audience": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Secrets Manager only, and required there: the audience of the ID token, as the role's trust " +
					"policy expects it (the `audience` of the `airflowiam_web_identity_role`).",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"expect": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "`" + expectAllowed + "` (the default): the identity must read the connection; `" +
					expectDenied + "`: it must be refused.",
				Validators: []validator.String{stringvalidator.OneOf(expectAllowed, expectDenied)},
			},
			"readable": schema.BoolAttribute{
				Computed:            true,
				MarkdownDescription: "Whether the identity read the connection.",
			},
			"judged": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "How the verdict was reached: `" + judgedObserved + "` when the service itself decided " +
					"(Google; a refusal by Secrets Manager), `" + judgedEvaluated + "` when the policy evaluator did (a read " +
					"Secrets Manager did not refuse).",
			},
			"finding": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "What was found, in words.",
			},
		},
	}
}

func (d *connectionAccessDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *connectionAccessDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg connectionAccessModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	expect := cfg.Expect.ValueString()
	if expect == "" {
		expect = expectAllowed
	}
	var v accessVerdict
	var identity string
	var failure *accessFailure
	if gcpSecretNamePattern.MatchString(cfg.Secret.ValueString()) {
		identity, v, failure = d.readGCP(ctx, cfg, expect, &resp.Diagnostics)
	} else {
		identity, v, failure = d.readAWS(ctx, cfg, expect, &resp.Diagnostics)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	tflog.Debug(ctx, "connection access", map[string]any{"secret": cfg.Secret.ValueString(), "identity": identity, "readable": v.readable, "judged": v.judged})
	if failure != nil {
		resp.Diagnostics.AddError(failure.summary, failure.detail)
		return
	}
	state := cfg
	state.ID = types.StringValue(cfg.Secret.ValueString() + "|" + identity)
	state.Readable = types.BoolValue(v.readable)
	state.Judged = types.StringValue(v.judged)
	state.Finding = types.StringValue(v.finding)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// awsOnly are the attributes of a Secrets Manager proof, by name.
func (m connectionAccessModel) awsOnly() map[string]types.String {
	return map[string]types.String{"role_arn": m.RoleARN, "audience": m.Audience}
}

func (d *connectionAccessDataSource) readGCP(ctx context.Context, cfg connectionAccessModel, expect string, diags *diag.Diagnostics) (string, accessVerdict, *accessFailure) {
	for name, v := range cfg.awsOnly() {
		if !v.IsNull() {
			diags.AddAttributeError(path.Root(name), "Attribute Not For Secret Manager", name+" is for a Secrets Manager secret only.")
		}
	}
	google := googleClientFrom(d.data, diags.AddError)
	secrets := gcpSecretsClientFrom(d.data, diags.AddError)
	if google == nil || secrets == nil || diags.HasError() {
		return "", accessVerdict{}, nil
	}
	p := gcpAccessProof{google: google, secrets: secrets, secret: cfg.Secret.ValueString(), account: cfg.ServiceAccount.ValueString()}
	readable, finding, failure := p.run(ctx, expect)
	return p.member(), accessVerdict{readable: readable, judged: judgedObserved, finding: finding}, failure
}

func (d *connectionAccessDataSource) readAWS(ctx context.Context, cfg connectionAccessModel, expect string, diags *diag.Diagnostics) (string, accessVerdict, *accessFailure) {
	for name, v := range cfg.awsOnly() {
		if v.IsNull() {
			diags.AddAttributeError(path.Root(name), "Missing Attribute", name+" is required for a Secrets Manager secret.")
		}
	}
	google := googleClientFrom(d.data, diags.AddError)
	iam := awsClientFrom(d.data, diags.AddError)
	secrets := awsSecretsClientFrom(d.data, diags.AddError)
	if google == nil || iam == nil || secrets == nil || diags.HasError() {
		return "", accessVerdict{}, nil
	}
	p := awsAccessProof{google: google, iam: iam, secrets: secrets, secret: cfg.Secret.ValueString(), role: cfg.RoleARN.ValueString(),
		account: cfg.ServiceAccount.ValueString(), audience: cfg.Audience.ValueString()}
	v, failure := p.run(ctx, expect)
	return p.role, v, failure
}

// accessFailure is the one error of a proof that did not hold.
type accessFailure struct{ summary, detail string }

// gcpAccessProof reads one Secret Manager secret as one service account.
type gcpAccessProof struct {
	google  *gcpiam.Client
	secrets *gcpsecrets.Client
	secret  string
	account string
}

func (p gcpAccessProof) member() string { return "serviceAccount:" + p.account }

// run reads the secret as the account and compares the outcome with
// expect: whether it read, what was found, and the failure when the
// outcome is not the one expected.
func (p gcpAccessProof) run(ctx context.Context, expect string) (bool, string, *accessFailure) {
	tok, err := p.google.GenerateAccessToken(ctx, p.account, nil, nil)
	if err != nil {
		return false, "", &accessFailure{"Cannot Act As The Identity", fmt.Sprintf(
			"The provider's Google identity could not mint an access token for %s, so the read cannot be tried: %s.\n\n"+
				"The proof acts as the task's service account through the provider's identity, which needs "+
				"roles/iam.serviceAccountTokenCreator on it:\n  gcloud iam service-accounts add-iam-policy-binding %s "+
				"--member=PROVIDER_MEMBER --role=roles/iam.serviceAccountTokenCreator", p.account, gcpiam.OneLine(err), p.account)}
	}
	reader, err := p.secrets.As(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return false, "", &accessFailure{"Cannot Act As The Identity", err.Error()}
	}
	_, err = reader.Access(ctx, p.secret)
	switch {
	case err == nil, errors.Is(err, gcpsecrets.ErrNoReadableVersion):
		// A version that is disabled or missing is refused only after the
		// permission check: the identity may read.
		return p.readable(ctx, expect, err)
	case errors.Is(err, gcpsecrets.ErrDenied):
		return p.denied(ctx, expect)
	case errors.Is(err, gcpsecrets.ErrNotFound):
		return false, "", &accessFailure{"Secret Not Found", fmt.Sprintf(
			"Secret %s does not exist, or has no version: nothing can be proven about who reads it. Create the "+
				"airflowiam_gcp_secret_connection first, and reference its secret_name, which is known only once the secret exists, so that the proof waits for it.", p.secret)}
	default:
		return false, "", &accessFailure{"Error Reading Secret As The Identity", fmt.Sprintf("Reading %s as %s: %s", p.secret, p.account, googleErrorDetail(err))}
	}
}

func (p gcpAccessProof) readable(ctx context.Context, expect string, versionErr error) (bool, string, *accessFailure) {
	finding := fmt.Sprintf("%s read the latest version of %s", p.member(), p.secret)
	if versionErr != nil {
		finding = fmt.Sprintf("%s may read %s, but its latest version is not enabled", p.member(), p.secret)
		if expect == expectAllowed {
			return true, finding, &accessFailure{"Connection Has No Readable Version", finding +
				": Airflow would find no connection. Write the connection again (apply its airflowiam_gcp_secret_connection)."}
		}
	}
	if expect == expectAllowed {
		return true, finding, nil
	}
	grants, unread := p.grants(ctx)
	return true, finding, &accessFailure{"Connection Readable By A Non-Reader", fmt.Sprintf(
		"%s can read %s, but expect = %q.\n\n%s", p.member(), p.secret, expectDenied, grantsThatRead(p.member(), p.secret, grants, unread))}
}

func (p gcpAccessProof) denied(ctx context.Context, expect string) (bool, string, *accessFailure) {
	finding := fmt.Sprintf("%s was refused %s on %s", p.member(), gcpsecrets.PermissionAccess, p.secret)
	if expect == expectDenied {
		return false, finding, nil
	}
	grants, unread := p.grants(ctx)
	return false, finding, &accessFailure{"Connection Not Readable", fmt.Sprintf(
		"%s cannot read %s: Google refused %s.\n\n%s", p.member(), p.secret, gcpsecrets.PermissionAccess, missingGrant(p.member(), p.secret, grants, unread))}
}

// grants reads the secret's policy and its project's with the provider's
// identity, and lists the grants that read secrets naming the member.
// unread says which policy could not be read, and why.
func (p gcpAccessProof) grants(ctx context.Context) ([]gcpsecrets.Grant, []string) {
	var unread []string
	sp, err := p.secrets.Policy(ctx, p.secret)
	if err != nil {
		unread = append(unread, "the secret's IAM policy ("+gcpiam.OneLine(err)+")")
	}
	project := gcpsecrets.ProjectOf(p.secret)
	pp, err := p.google.ProjectPolicy(ctx, project)
	if err != nil {
		unread = append(unread, "project "+project+"'s IAM policy ("+gcpiam.OneLine(err)+")")
	}
	return gcpsecrets.AccessGrants(p.member(), sp, project, pp), unread
}

// missingGrant explains a refused read: no grant, a conditional one, or one
// not in effect yet.
func missingGrant(member, secret string, grants []gcpsecrets.Grant, unread []string) string {
	var b strings.Builder
	for _, g := range grants {
		switch {
		case g.Unconditional():
			fmt.Fprintf(&b, "%s holds %s %s, but Google does not apply it yet: IAM changes can take minutes to "+
				"propagate. Plan again in a few minutes.\n", g.Member, g.Role, grantPlace(g))
		default:
			fmt.Fprintf(&b, "%s holds %s %s only under the condition %q, which did not grant this read.\n", g.Member, g.Role, grantPlace(g), g.Condition)
		}
	}
	if b.Len() == 0 {
		fmt.Fprintf(&b, "%s holds no role that reads secrets (%s) on the secret or its project.\n", member, strings.Join(gcpsecrets.AccessRoles, ", "))
	}
	fmt.Fprintf(&b, "\nFix: add %q to the readers of the airflowiam_gcp_secret_connection that writes %s, or grant it yourself:\n"+
		"  gcloud secrets add-iam-policy-binding %s --project=%s --member=%s --role=%s",
		member, secret, gcpsecrets.SecretIDOf(secret), gcpsecrets.ProjectOf(secret), member, gcpsecrets.RoleSecretAccessor)
	return b.String() + unreadNote(unread)
}

// grantsThatRead explains an allowed read that should have been refused,
// naming each grant and how to remove it.
func grantsThatRead(member, secret string, grants []gcpsecrets.Grant, unread []string) string {
	var b strings.Builder
	for _, g := range grants {
		fmt.Fprintf(&b, "- %s %s, to %s", g.Role, grantPlace(g), g.Member)
		if !g.Unconditional() {
			fmt.Fprintf(&b, " (condition %q)", g.Condition)
		}
		switch {
		case g.Project != "":
			fmt.Fprintf(&b, ": gcloud projects remove-iam-policy-binding %s --member=%s --role=%s\n", g.Project, g.Member, g.Role)
		case g.Role == gcpsecrets.RoleSecretAccessor && g.Unconditional():
			fmt.Fprintf(&b, ": take %q out of the readers of the airflowiam_gcp_secret_connection that writes %s\n", g.Member, secret)
		default:
			fmt.Fprintf(&b, ": gcloud secrets remove-iam-policy-binding %s --project=%s --member=%s --role=%s\n",
				gcpsecrets.SecretIDOf(secret), gcpsecrets.ProjectOf(secret), g.Member, g.Role)
		}
	}
	if b.Len() == 0 {
		return "No grant that reads secrets names " + member + " on the secret or its project: it reads through a grant " +
			"the provider cannot see (a group it belongs to, a folder or organization, or a custom role)." + unreadNote(unread)
	}
	return "The grants that let it read:\n" + b.String() + unreadNote(unread)
}

func grantPlace(g gcpsecrets.Grant) string {
	if g.Project != "" {
		return "on project " + g.Project + " (every secret of the project)"
	}
	return "on the secret"
}

func unreadNote(unread []string) string {
	if len(unread) == 0 {
		return ""
	}
	return "\n\nNot read, so grants there are not shown: " + strings.Join(unread, "; ") + "."
}
