// Package provider holds the Terraform glue of the airflowiam provider: the
// provider itself and one file per resource and data source. API logic lives
// in the packages beside it under internal/.
package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awssecrets"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/denied"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/exchange"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpsecrets"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/retry"
)

// RegistryAddress is the provider's address in the Terraform registry.
const RegistryAddress = "registry.terraform.io/airflowiam/airflowiam"

// Environment variables read when the matching airflow block attribute is not set.
const (
	EnvAirflowURL        = "AIRFLOW_URL"
	EnvAirflowUsername   = "AIRFLOW_USERNAME"
	EnvAirflowPassword   = "AIRFLOW_PASSWORD"
	EnvAirflowToken      = "AIRFLOW_TOKEN"
	EnvAirflowAPIVersion = "AIRFLOW_API_VERSION"
)

var (
	_ provider.Provider              = (*airflowIAMProvider)(nil)
	_ provider.ProviderWithFunctions = (*airflowIAMProvider)(nil)
)

// New returns a constructor for the provider, as providerserver expects.
func New(version string) func() provider.Provider {
	return func() provider.Provider {
		return &airflowIAMProvider{version: version}
	}
}

type airflowIAMProvider struct {
	version string
}

type providerModel struct {
	Airflow *airflowBlockModel `tfsdk:"airflow"`
	Google  *googleBlockModel  `tfsdk:"google"`
	AWS     *awsBlockModel     `tfsdk:"aws"`
}

type googleBlockModel struct {
	Credentials                        types.String `tfsdk:"credentials"`
	AccessToken                        types.String `tfsdk:"access_token"`
	ImpersonateServiceAccount          types.String `tfsdk:"impersonate_service_account"`
	ImpersonateServiceAccountDelegates types.List   `tfsdk:"impersonate_service_account_delegates"`
	IAMEndpoint                        types.String `tfsdk:"iam_endpoint"`
	IAMCredentialsEndpoint             types.String `tfsdk:"iamcredentials_endpoint"`
	OAuth2Endpoint                     types.String `tfsdk:"oauth2_endpoint"`
	SecretManagerEndpoint              types.String `tfsdk:"secretmanager_endpoint"`
	ResourceManagerEndpoint            types.String `tfsdk:"resourcemanager_endpoint"`
	ComposerEndpoint                   types.String `tfsdk:"composer_endpoint"`
	RequestTimeout                     types.String `tfsdk:"request_timeout"`
}

type awsBlockModel struct {
	Region                 types.String `tfsdk:"region"`
	Profile                types.String `tfsdk:"profile"`
	AccessKey              types.String `tfsdk:"access_key"`
	SecretKey              types.String `tfsdk:"secret_key"`
	IAMEndpoint            types.String `tfsdk:"iam_endpoint"`
	STSEndpoint            types.String `tfsdk:"sts_endpoint"`
	SecretsManagerEndpoint types.String `tfsdk:"secretsmanager_endpoint"`
	KMSEndpoint            types.String `tfsdk:"kms_endpoint"`
	RequestTimeout         types.String `tfsdk:"request_timeout"`
	MWAAEndpoint           types.String `tfsdk:"mwaa_endpoint"`
}

type airflowBlockModel struct {
	Endpoint       types.String `tfsdk:"endpoint"`
	Username       types.String `tfsdk:"username"`
	Password       types.String `tfsdk:"password"`
	Token          types.String `tfsdk:"token"`
	APIVersion     types.String `tfsdk:"api_version"`
	RequestTimeout types.String `tfsdk:"request_timeout"`
	// ComposerEnvironment targets a Cloud Composer environment (composer.go).
	ComposerEnvironment types.String `tfsdk:"composer_environment"`
	// MWAAEnvironment targets an Amazon MWAA environment (provider_mwaa.go).
	MWAAEnvironment types.String `tfsdk:"mwaa_environment"`
}

// providerData is handed to every resource and data source. Clients are built
// once here; a nil client means its block is not configured, and the block's
// *Err field explains why, so the object that needs it can say so (through
// clientFrom). The AWS clients share one aws.Config.
type providerData struct {
	airflow    *airflow.Client
	airflowErr string
	google     *gcpiam.Client
	googleErr  string
	// gsecrets shares google's identity; it is set whenever google is.
	gsecrets *gcpsecrets.Client
	aws      *awsiam.Client
	// awssecrets shares aws's configuration; it is set whenever aws is.
	awssecrets *awssecrets.Client
	awsErr     string
	// checks is what the token-exchange checks of this process share.
	checks exchange.Shared
}

func (p *airflowIAMProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "airflowiam"
	resp.Version = p.version
}

func (p *airflowIAMProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Keyless, least-privilege credentials for Apache Airflow across clouds: Airflow connections, " +
			"GCP impersonation chains, per-task Workload Identity, AWS web-identity roles, and a plan-time check that the whole " +
			"credential path works. Every block is optional; an object that needs a missing block says which one to add.",
		Blocks: map[string]schema.Block{
			"airflow": schema.SingleNestedBlock{
				MarkdownDescription: "Connection to Airflow's REST API: Airflow 3 (`/api/v2`, JWT from `POST /auth/token`) or " +
					"Airflow 2 (`/api/v1`, basic auth), or the Airflow of a Cloud Composer environment (`composer_environment`) " +
					"or of an Amazon MWAA environment reached through AWS (`mwaa_environment`). " +
					"Each attribute but `mwaa_environment` falls back to an environment variable when unset.",
				Attributes: map[string]schema.Attribute{
					"endpoint": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "Base URL of the Airflow API server, for example `https://airflow.example.com` " +
							"(without `/api/v2`). Falls back to `" + EnvAirflowURL + "`.",
					},
					"username": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "User name. On Airflow 3 it is exchanged once per provider run for a JWT at " +
							"`POST /auth/token` (again when Airflow refuses the token); on Airflow 2 it is sent with basic auth. The user needs the Op or Admin role. " +
							"Falls back to `" + EnvAirflowUsername + "`.",
						Validators: []validator.String{stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName("token"))},
					},
					"password": schema.StringAttribute{
						Optional:            true,
						Sensitive:           true,
						MarkdownDescription: "Password for `username`. Falls back to `" + EnvAirflowPassword + "`.",
						Validators:          []validator.String{stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("username"))},
					},
					"token": schema.StringAttribute{
						Optional:  true,
						Sensitive: true,
						MarkdownDescription: "A static bearer token sent as `Authorization: Bearer`, instead of `username` and " +
							"`password`. Falls back to `" + EnvAirflowToken + "`.",
					},
					"api_version": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "Which REST API to use: " + quotedList(airflow.Versions) + ". `auto` (the default) " +
							"probes `/api/v2` once and falls back to `/api/v1`; `v2` is Airflow 3, `v1` is Airflow 2. " +
							"Falls back to `" + EnvAirflowAPIVersion + "`.",
						Validators: []validator.String{stringvalidator.OneOf(airflow.Versions...)},
					},
					"request_timeout": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "Time limit of each attempt of each Airflow request, reading the answer included: " +
							requestTimeoutRule + ". Default `" + defaultRequestTimeout + "`. It bounds each attempt, not the retried " +
							"whole: an attempt that runs out is retried like a lost answer (at most 5 attempts, with jittered backoff " +
							"that honours `Retry-After`).",
						Validators: []validator.String{requestTimeoutValidator{}},
					},
					"composer_environment": composerEnvironmentAttribute(),
					"mwaa_environment":     mwaaEnvironmentAttribute(),
				},
			},
			"google": schema.SingleNestedBlock{
				MarkdownDescription: "Google credentials and endpoints for IAM and IAM Credentials. With no attribute set, " +
					"Application Default Credentials are used (`" + gcpiam.EnvApplicationCredentials + "`, the gcloud " +
					"application-default login, or the metadata server); an empty `google {}` block does just that. Credentials " +
					"are resolved on first use. Without the block, objects that need Google say so.",
				Attributes: map[string]schema.Attribute{
					"credentials": schema.StringAttribute{
						Optional:  true,
						Sensitive: true,
						MarkdownDescription: "Path to a Google credentials JSON file, or its contents: a service-account key, " +
							"an authorized-user file, or an external-account (workload identity federation) configuration. " +
							"Prefer Application Default Credentials; a key file is a long-lived secret.",
						Validators: []validator.String{stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName("access_token"))},
					},
					"access_token": schema.StringAttribute{
						Optional:  true,
						Sensitive: true,
						MarkdownDescription: "A ready OAuth 2.0 access token, for example from `gcloud auth print-access-token`. " +
							"It is not refreshed. Falls back to `" + gcpiam.EnvAccessToken + "`.",
					},
					"impersonate_service_account": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "Email of a service account the provider impersonates for its own calls; the " +
							"credentials above need Token Creator on it (or on the first delegate).",
						Validators: []validator.String{serviceAccountEmailValidator()},
					},
					"impersonate_service_account_delegates": schema.ListAttribute{
						ElementType: types.StringType,
						Optional:    true,
						MarkdownDescription: "Service-account emails between the credentials and `impersonate_service_account`, " +
							"in order: each holds Token Creator on the next.",
						Validators: []validator.List{
							listvalidator.ValueStringsAre(serviceAccountEmailValidator()),
							listvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("impersonate_service_account")),
						},
					},
					"iam_endpoint": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Custom IAM API base URL (default `https://iam.googleapis.com/`), for example a local fake.",
					},
					"iamcredentials_endpoint": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Custom IAM Credentials API base URL (default `https://iamcredentials.googleapis.com/`).",
					},
					"oauth2_endpoint": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "Custom base URL of Google's `oauth2/v3/tokeninfo` and `oauth2/v3/certs` (the keys that " +
							"sign ID tokens), used by `airflowiam_token_exchange` (default `" + gcpiam.DefaultOAuth2Endpoint + "`).",
					},
					"secretmanager_endpoint": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Custom Secret Manager API base URL (default `https://secretmanager.googleapis.com/`).",
					},
					"resourcemanager_endpoint": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "Custom Cloud Resource Manager API base URL (default `https://cloudresourcemanager.googleapis.com/`). " +
							"`airflowiam_token_exchange` reads a project's IAM policy there, when it may, to see grants a service account " +
							"inherits from its project.",
					},
					"request_timeout": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "Time limit of each attempt of each Google request, reading the answer included: " +
							requestTimeoutRule + ". Default `" + defaultRequestTimeout + "`. Reads, token minting and etag-guarded " +
							"IAM policy writes are tried again, up to " + strconv.Itoa(retry.DefaultAttempts) + " times with jittered " +
							"exponential back-off honouring `Retry-After`, after 429, 500, 502, 503, 504, a reset or truncated answer, " +
							"or an attempt that ran out of time; the final error says how many attempts were made over how long.",
						Validators: []validator.String{requestTimeoutValidator{}},
					},
					"composer_endpoint": composerEndpointAttribute(),
				},
			},
			"aws": schema.SingleNestedBlock{
				MarkdownDescription: "AWS credentials and endpoints for IAM, STS, Secrets Manager, KMS and MWAA. Unset attributes fall back to the AWS SDK's " +
					"default chain: environment (`AWS_REGION`, `AWS_PROFILE`, `AWS_ACCESS_KEY_ID`, ...), shared config and " +
					"credentials files, web identity, and instance metadata. An empty `aws {}` block uses that chain alone; " +
					"without the block, objects that need AWS say so.",
				Attributes: map[string]schema.Attribute{
					"region": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "AWS region, for example `eu-west-1`. Falls back to `AWS_REGION` or the profile's region. It is also the `region_name` of generated Airflow connection extras.",
					},
					"profile": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Named profile from the shared AWS config and credentials files. Falls back to `AWS_PROFILE`.",
					},
					"access_key": schema.StringAttribute{
						Optional:            true,
						Sensitive:           true,
						MarkdownDescription: "Static access key ID, with `secret_key`. Prefer the default chain; this exists mainly for sandboxes.",
						Validators:          []validator.String{stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("secret_key"))},
					},
					"secret_key": schema.StringAttribute{
						Optional:            true,
						Sensitive:           true,
						MarkdownDescription: "Static secret access key, with `access_key`.",
						Validators:          []validator.String{stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("access_key"))},
					},
					"iam_endpoint": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Custom IAM endpoint URL, for example a local moto server.",
					},
					"sts_endpoint": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Custom STS endpoint URL.",
					},
					"secretsmanager_endpoint": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Custom Secrets Manager endpoint URL.",
					},
					"kms_endpoint": schema.StringAttribute{
						Optional:            true,
						MarkdownDescription: "Custom KMS endpoint URL.",
					},
					"request_timeout": schema.StringAttribute{
						Optional: true,
						MarkdownDescription: "Time limit of each attempt of each AWS call, reading the answer included: " +
							requestTimeoutRule + ". Default `" + defaultRequestTimeout + "`. The AWS SDK's standard retryer tries a " +
							"call up to " + strconv.Itoa(awsiam.RetryAttempts) + " times with jittered exponential back-off after " +
							"throttling, 500, 502, 503, 504, a reset, a truncated answer or a timeout.",
						Validators: []validator.String{requestTimeoutValidator{}},
					},
					"mwaa_endpoint": mwaaEndpointAttribute(),
				},
			},
		},
	}
}

func (p *airflowIAMProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}

	data := &providerData{}
	var awsCfg *aws.Config
	data.aws, data.awssecrets, awsCfg, data.awsErr = p.configureAWS(ctx, cfg.AWS, resp)
	data.google, data.googleErr = p.configureGoogle(ctx, cfg.Google, resp)
	// The airflow block comes last: Composer reaches Airflow with the google
	// block's identity, MWAA through the aws block.
	switch {
	case composerConfigured(cfg.Airflow):
		data.airflow, data.airflowErr = p.configureComposerAirflow(ctx, cfg.Airflow, cfg.Google, data.google, data.googleErr)
	case cfg.Airflow.usesMWAA():
		data.airflow, data.airflowErr = p.configureMWAA(ctx, cfg.Airflow, cfg.AWS, awsCfg, data.aws, data.awsErr, resp)
	default:
		data.airflow, data.airflowErr = p.configureAirflow(ctx, cfg.Airflow, resp)
	}
	if data.google != nil {
		secrets, err := gcpsecrets.NewClient(ctx, data.google.AuthorizedHTTPClient(), cfg.Google.SecretManagerEndpoint.ValueString(),
			"terraform-provider-airflowiam/"+p.version)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("google"), "Invalid Google Configuration", err.Error())
			return
		}
		data.gsecrets = secrets
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.ResourceData = data
	resp.DataSourceData = data
}

// configureAirflow builds the Airflow client from the block and the
// environment. It returns a nil client and a reason when there is not enough
// to build one; it adds an error only when what is given is wrong.
func (p *airflowIAMProvider) configureAirflow(ctx context.Context, block *airflowBlockModel, resp *provider.ConfigureResponse) (*airflow.Client, string) {
	if block == nil {
		block = &airflowBlockModel{}
	}
	if name := firstUnknown(map[string]types.String{
		"endpoint": block.Endpoint, "username": block.Username, "password": block.Password,
		"token": block.Token, "api_version": block.APIVersion, "request_timeout": block.RequestTimeout,
		"composer_environment": block.ComposerEnvironment,
	}); name != "" {
		return nil, fmt.Sprintf("airflow.%s is not known until apply, so the Airflow client could not be configured during plan", name)
	}

	cfg := airflow.Config{
		Endpoint:       valueOrEnv(block.Endpoint, EnvAirflowURL),
		Username:       valueOrEnv(block.Username, EnvAirflowUsername),
		Password:       valueOrEnv(block.Password, EnvAirflowPassword),
		Token:          valueOrEnv(block.Token, EnvAirflowToken),
		APIVersion:     valueOrEnv(block.APIVersion, EnvAirflowAPIVersion),
		RequestTimeout: airflowRequestTimeout(block.RequestTimeout),
		UserAgent:      "terraform-provider-airflowiam/" + p.version,
		BulkWrites:     true,
		Logger: func(ctx context.Context, msg string, fields map[string]any) {
			tflog.Debug(ctx, msg, fields)
		},
	}
	if cfg.Endpoint == "" {
		return nil, "the provider's airflow block has no endpoint: set airflow.endpoint or the " + EnvAirflowURL + " environment variable"
	}
	if cfg.Token != "" {
		// A token from anywhere wins over a user name from the environment.
		cfg.Username, cfg.Password = "", ""
	}
	client, err := airflow.NewClient(cfg)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("airflow"), "Invalid Airflow Configuration",
			fmt.Sprintf("The provider's airflow block, or the AIRFLOW_* environment variables it falls back to, is not usable: %s.", err))
		return nil, ""
	}
	tflog.Debug(ctx, "configured Airflow client", map[string]any{"endpoint": client.Endpoint(), "api_version": cfg.APIVersion})
	return client, ""
}

// airflowRequestTimeout is airflow.request_timeout (validated at plan time)
// as airflow.Config takes it.
func airflowRequestTimeout(v types.String) time.Duration {
	d, err := parseRequestTimeout(v.ValueString())
	if err != nil {
		return 0 // the client's default; the validator has reported it
	}
	return d
}

// configureGoogle builds the Google clients when the google block is
// present. No credential is resolved here: that happens on first use.
func (p *airflowIAMProvider) configureGoogle(ctx context.Context, block *googleBlockModel, resp *provider.ConfigureResponse) (*gcpiam.Client, string) {
	if block == nil {
		return nil, "the provider has no google block: add one (an empty google {} uses Application Default Credentials)"
	}
	if name := firstUnknown(map[string]types.String{
		"credentials": block.Credentials, "access_token": block.AccessToken,
		"impersonate_service_account": block.ImpersonateServiceAccount,
		"iam_endpoint":                block.IAMEndpoint, "iamcredentials_endpoint": block.IAMCredentialsEndpoint,
		"oauth2_endpoint": block.OAuth2Endpoint, "secretmanager_endpoint": block.SecretManagerEndpoint,
		"resourcemanager_endpoint": block.ResourceManagerEndpoint, "composer_endpoint": block.ComposerEndpoint,
		"request_timeout": block.RequestTimeout,
	}); name != "" || block.ImpersonateServiceAccountDelegates.IsUnknown() {
		if name == "" {
			name = "impersonate_service_account_delegates"
		}
		return nil, fmt.Sprintf("google.%s is not known until apply, so the Google clients could not be configured during plan", name)
	}
	var delegates []string
	resp.Diagnostics.Append(block.ImpersonateServiceAccountDelegates.ElementsAs(ctx, &delegates, false)...)
	timeout, err := parseRequestTimeout(block.RequestTimeout.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("google").AtName("request_timeout"), "Invalid Request Timeout",
			fmt.Sprintf("google.request_timeout must be %s: %s.", requestTimeoutRule, err))
	}
	if resp.Diagnostics.HasError() {
		return nil, ""
	}
	client, err := gcpiam.NewClient(ctx, gcpiam.Config{
		Credentials:               block.Credentials.ValueString(),
		AccessToken:               block.AccessToken.ValueString(),
		ImpersonateServiceAccount: block.ImpersonateServiceAccount.ValueString(),
		Delegates:                 delegates,
		IAMEndpoint:               block.IAMEndpoint.ValueString(),
		IAMCredentialsEndpoint:    block.IAMCredentialsEndpoint.ValueString(),
		OAuth2Endpoint:            block.OAuth2Endpoint.ValueString(),
		ResourceManagerEndpoint:   block.ResourceManagerEndpoint.ValueString(),
		UserAgent:                 "terraform-provider-airflowiam/" + p.version,
		Requests:                  retry.Policy{RequestTimeout: timeout},
	})
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("google"), "Invalid Google Configuration",
			fmt.Sprintf("The provider's google block is not usable: %s.", err))
		return nil, ""
	}
	return client, ""
}

// configureAWS loads one AWS configuration from the aws block and the SDK's
// default chain, and builds every AWS service client from it; it returns
// the configuration too, for the MWAA client.
func (p *airflowIAMProvider) configureAWS(ctx context.Context, block *awsBlockModel, resp *provider.ConfigureResponse) (*awsiam.Client, *awssecrets.Client, *aws.Config, string) {
	if block == nil {
		return nil, nil, nil, "the provider has no aws block: add one (an empty aws {} uses the AWS SDK's default credential chain)"
	}
	if name := firstUnknown(map[string]types.String{
		"region": block.Region, "profile": block.Profile, "access_key": block.AccessKey,
		"secret_key": block.SecretKey, "iam_endpoint": block.IAMEndpoint, "sts_endpoint": block.STSEndpoint,
		"secretsmanager_endpoint": block.SecretsManagerEndpoint, "kms_endpoint": block.KMSEndpoint,
		"request_timeout": block.RequestTimeout,
		"mwaa_endpoint":   block.MWAAEndpoint,
	}); name != "" {
		return nil, nil, nil, fmt.Sprintf("aws.%s is not known until apply, so the AWS clients could not be configured during plan", name)
	}
	cfg, err := loadAWSConfig(ctx, awsSettings{
		Region:    block.Region.ValueString(),
		Profile:   block.Profile.ValueString(),
		AccessKey: block.AccessKey.ValueString(),
		SecretKey: block.SecretKey.ValueString(),
		AppID:     "terraform-provider-airflowiam",
	})
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("aws"), "Invalid AWS Configuration",
			fmt.Sprintf("The provider's aws block, with the AWS SDK's default chain behind it, is not usable: %s.", err))
		return nil, nil, nil, ""
	}
	timeout, err := parseRequestTimeout(block.RequestTimeout.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("aws").AtName("request_timeout"), "Invalid Request Timeout",
			fmt.Sprintf("aws.request_timeout must be %s: %s.", requestTimeoutRule, err))
		return nil, nil, nil, ""
	}
	cfg = awsiam.WithRetries(cfg, timeout)
	iamClient := awsiam.NewClient(cfg, awsiam.Endpoints{
		IAM: block.IAMEndpoint.ValueString(),
		STS: block.STSEndpoint.ValueString(),
	})
	secretsClient := awssecrets.NewClient(cfg, awssecrets.Endpoints{
		SecretsManager: block.SecretsManagerEndpoint.ValueString(),
		KMS:            block.KMSEndpoint.ValueString(),
	})
	return iamClient, secretsClient, &cfg, ""
}

// awsSettings are the aws block's credential and region attributes. Empty
// fields fall back to the AWS SDK's default chain (environment, shared
// config and profile, web identity, instance metadata).
type awsSettings struct {
	Region    string
	Profile   string
	AccessKey string // static credentials; both or neither with SecretKey
	SecretKey string
	AppID     string // added to the SDK's User-Agent
}

// loadAWSConfig resolves the one AWS configuration every AWS service client
// is built from. It reads shared config files but calls no AWS API.
func loadAWSConfig(ctx context.Context, s awsSettings) (aws.Config, error) {
	if (s.AccessKey == "") != (s.SecretKey == "") {
		return aws.Config{}, errors.New("access_key and secret_key must be set together")
	}
	var opts []func(*awsconfig.LoadOptions) error
	if s.Region != "" {
		opts = append(opts, awsconfig.WithRegion(s.Region))
	}
	if s.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(s.Profile))
	}
	if s.AccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, "")))
	}
	if s.AppID != "" {
		opts = append(opts, awsconfig.WithAppID(s.AppID))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("no AWS region: set region in the provider's aws block, or AWS_REGION")
	}
	return cfg, nil
}

func (p *airflowIAMProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewConnectionResource,
		NewAWSSecretConnectionResource,
		NewGCPSecretConnectionResource,
		NewWebIdentityRoleResource,
		NewImpersonationChainResource,
		NewTaskIdentityResource,
	}
}

func (p *airflowIAMProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewConnectionDataSource,
		NewTokenExchangeDataSource,
		NewConnectionAccessDataSource,
	}
}

func (p *airflowIAMProvider) Functions(_ context.Context) []func() function.Function {
	return []func() function.Function{
		NewConnectionURIFunction,
		NewConnectionJSONFunction,
		NewParseConnectionURIFunction,
	}
}

// firstUnknown names the first attribute, in name order, whose value is not
// known yet, or returns "".
func firstUnknown(attrs map[string]types.String) string {
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		if attrs[name].IsUnknown() {
			return name
		}
	}
	return ""
}

// valueOrEnv returns the configured value, or the environment variable when
// the attribute is null.
func valueOrEnv(v types.String, env string) string {
	if !v.IsNull() && !v.IsUnknown() {
		return v.ValueString()
	}
	return os.Getenv(env)
}

// quotedList renders values as `a` | `b` for descriptions, from the same
// slice a validator uses.
func quotedList(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = "`" + v + "`"
	}
	return strings.Join(quoted, ", ")
}

// googleErrorDetail is err's message followed by what to do about the usual
// causes of a Google failure.
func googleErrorDetail(err error) string {
	msg := err.Error()
	switch {
	case gcpiam.StatusCode(err) == http.StatusUnauthorized:
		return msg + "\n\nGoogle rejected the provider's credentials: check credentials or access_token in the provider's " +
			"google block (an access token expires after an hour), or run `gcloud auth application-default login`."
	case gcpiam.IsPermissionDenied(err):
		return msg + "\n\n" + gcpiam.DeniedHint(err)
	case gcpiam.Status(err) == "ABORTED":
		return msg + "\n\nOther writers kept changing the same IAM policy. Apply again; if it persists, find the other writer."
	}
	return msg
}

// awsErrorDetail is err's message followed by what to do about missing
// credentials or permissions.
func awsErrorDetail(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "no EC2 IMDS role found"):
		return msg + "\n\nNo AWS credentials were found: set access_key and secret_key or profile in the provider's aws " +
			"block, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE."
	case awsiam.ErrorCode(err) == "AccessDenied" || awsiam.ErrorCode(err) == "AccessDeniedException":
		n, ok := denied.Of(err)
		if !ok {
			n, ok = denied.FromAWSMessage(msg)
		}
		if ok {
			return msg + "\n\nThe AWS identity the provider runs as was refused: " + n.String() + "."
		}
		return msg + "\n\nThe AWS identity the provider runs as lacks an IAM permission this object needs (see the action named above)."
	}
	return msg
}

// airflowErrorDetail is err's message followed by what to do about the
// usual causes of an authentication or permission failure.
func airflowErrorDetail(err error) string {
	var apiErr *airflow.APIError
	if !errors.As(err, &apiErr) {
		return err.Error()
	}
	switch apiErr.StatusCode {
	case http.StatusUnauthorized:
		return err.Error() + "\n\nCheck the credentials in the provider's airflow block (or " +
			EnvAirflowUsername + ", " + EnvAirflowPassword + ", " + EnvAirflowToken + ")."
	case http.StatusForbidden:
		return err.Error() + "\n\nThe Airflow user may not manage connections: Airflow requires the Op or Admin role " +
			"for connections, even to read them. With a static token, the token may be invalid or expired."
	}
	return err.Error()
}

// providerDataFrom is the body of every resource's and data source's
// Configure: the provider's data, or nil before the provider is configured.
func providerDataFrom(raw any, diags *diag.Diagnostics) *providerData {
	if raw == nil {
		return nil
	}
	data, ok := raw.(*providerData)
	if !ok {
		diags.AddError("Unexpected Provider Data",
			fmt.Sprintf("Expected *providerData, got %T. This is a bug in the provider; please report it.", raw))
	}
	return data
}

// clientFrom returns one client from provider data: what pick returns, or,
// when that is nil, an error that names what the object uses (service, as
// in "This object uses AWS") and why the client is missing (pick's
// reason). Every object's client goes through it.
func clientFrom[C any](data *providerData, addError func(summary, detail string), block, service string,
	pick func(*providerData) (*C, string)) *C {
	if data == nil {
		addError("Provider Not Configured", "The airflowiam provider was not configured before this object was used. This is a bug in the provider; please report it.")
		return nil
	}
	client, why := pick(data)
	if client == nil {
		addError(block+" Not Configured", "This object "+service+", but "+why+".")
		return nil
	}
	return client
}

// airflowClientFrom is the Airflow client, or nil after an error naming the
// missing configuration.
func airflowClientFrom(data *providerData, addError func(summary, detail string)) *airflow.Client {
	return clientFrom(data, addError, "Airflow", "talks to Airflow's REST API", func(d *providerData) (*airflow.Client, string) {
		return d.airflow, d.airflowErr
	})
}

// googleClientFrom is the Google IAM client, or nil after an error naming
// the missing configuration.
func googleClientFrom(data *providerData, addError func(summary, detail string)) *gcpiam.Client {
	return clientFrom(data, addError, "Google", "uses Google Cloud", func(d *providerData) (*gcpiam.Client, string) {
		return d.google, d.googleErr
	})
}

// gcpSecretsClientFrom is the Secret Manager client, or nil after an error
// naming the missing configuration.
func gcpSecretsClientFrom(data *providerData, addError func(summary, detail string)) *gcpsecrets.Client {
	return clientFrom(data, addError, "Google", "uses Google Cloud", func(d *providerData) (*gcpsecrets.Client, string) {
		return d.gsecrets, d.googleErr
	})
}

// awsClientFrom is the AWS IAM and STS client, or nil after an error naming
// the missing configuration.
func awsClientFrom(data *providerData, addError func(summary, detail string)) *awsiam.Client {
	return clientFrom(data, addError, "AWS", "uses AWS", func(d *providerData) (*awsiam.Client, string) {
		return d.aws, d.awsErr
	})
}

// awsSecretsClientFrom is the Secrets Manager and KMS client, or nil after
// an error naming the missing configuration.
func awsSecretsClientFrom(data *providerData, addError func(summary, detail string)) *awssecrets.Client {
	return clientFrom(data, addError, "AWS", "uses AWS", func(d *providerData) (*awssecrets.Client, string) {
		return d.awssecrets, d.awsErr
	})
}
