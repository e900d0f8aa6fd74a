package provider

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/composer"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

// The airflow block's Cloud Composer target: airflow.composer_environment
// and google.composer_endpoint, and how Configure builds the Airflow client
// for them (internal/composer does the work).

// composerEnvironmentAttribute is airflow.composer_environment.
func composerEnvironmentAttribute() schema.StringAttribute {
	conflicts := make([]path.Expression, 0, 5)
	for _, name := range []string{"endpoint", "username", "password", "token", "api_version"} {
		conflicts = append(conflicts, path.MatchRelative().AtParent().AtName(name))
	}
	return schema.StringAttribute{
		Optional: true,
		MarkdownDescription: "A Cloud Composer environment, `" + composer.NameForm + "`, whose Airflow the provider manages " +
			"instead of one named by `endpoint`. The provider reads the environment once per run through the Cloud Composer API " +
			"(`environments.get`, which needs `composer.environments.get`, for example through `roles/composer.user`) for its " +
			"Airflow URI and Airflow version (Airflow 2: `/api/v1`, Airflow 3: `/api/v2`), and sends every Airflow request with " +
			"an access token of the `google` block's identity, which Composer registers as an Airflow user with the role in " +
			"`[api] composer_auth_user_registration_role` (Op by default). Needs the `google` block; conflicts with `endpoint`, " +
			"`username`, `password`, `token`, `api_version` and `mwaa_environment`, and the `AIRFLOW_*` environment variables are not read. " +
			"The environment must be `RUNNING` (or `UPDATING`). See the Managed Airflow guide.",
		Validators: []validator.String{
			stringvalidator.RegexMatches(composer.NamePattern, "must be a Cloud Composer environment name, "+composer.NameForm),
			stringvalidator.ConflictsWith(conflicts...),
			oneManagedAirflowValidator{},
		},
	}
}

// composerEndpointAttribute is google.composer_endpoint.
func composerEndpointAttribute() schema.StringAttribute {
	return schema.StringAttribute{
		Optional: true,
		MarkdownDescription: "Custom Cloud Composer API base URL (default `https://composer.googleapis.com/`), used to read " +
			"`airflow.composer_environment`.",
	}
}

// configureComposerAirflow builds the Airflow client of a Composer
// environment: it reads the environment (one Composer API call) and sends
// Airflow requests through composer.Transport with the google block's
// token. A failure is the reason the Airflow client is missing, so that
// every object that needs Airflow shows it at plan time.
func (p *airflowIAMProvider) configureComposerAirflow(ctx context.Context, block *airflowBlockModel, googleBlock *googleBlockModel,
	google *gcpiam.Client, googleErr string) (*airflow.Client, string) {
	name := block.ComposerEnvironment.ValueString()
	if google == nil {
		why := googleErr
		if why == "" {
			why = "the google block is not usable"
		}
		return nil, fmt.Sprintf("airflow.composer_environment reaches Cloud Composer as the google block's identity, and %s", why)
	}
	identity := func(ctx context.Context) string {
		email, err := google.CallerEmail(ctx)
		if err != nil {
			return ""
		}
		return email
	}
	authorized := google.AuthorizedHTTPClient()
	resolver, err := composer.NewResolver(ctx, composer.Config{
		HTTPClient: authorized, Endpoint: googleBlock.ComposerEndpoint.ValueString(),
		UserAgent: "terraform-provider-airflowiam/" + p.version, Identity: identity,
	})
	if err != nil {
		return nil, err.Error()
	}
	env, err := resolver.Resolve(ctx, name)
	if err != nil {
		return nil, err.Error()
	}
	client, err := airflow.NewClient(airflow.Config{
		Endpoint:      env.AirflowURI,
		APIVersion:    env.APIVersion,
		TransportAuth: composer.AuthMethod(env),
		HTTPClient: &http.Client{Transport: &composer.Transport{
			Base: authorized.Transport, Environment: env, Identity: identity,
		}},
		RequestTimeout: airflowRequestTimeout(block.RequestTimeout),
		UserAgent:      "terraform-provider-airflowiam/" + p.version,
		Logger: func(ctx context.Context, msg string, fields map[string]any) {
			tflog.Debug(ctx, msg, fields)
		},
	})
	if err != nil {
		return nil, fmt.Sprintf("the Airflow of Cloud Composer environment %s is not usable: %s", name, err)
	}
	tflog.Debug(ctx, "configured Airflow client for Cloud Composer", map[string]any{
		"environment": name, "endpoint": client.Endpoint(), "api_version": env.APIVersion, "image_version": env.ImageVersion,
	})
	return client, ""
}

// composerConfigured says whether the airflow block names a Composer
// environment.
func composerConfigured(block *airflowBlockModel) bool {
	return block != nil && !block.ComposerEnvironment.IsNull() && !block.ComposerEnvironment.IsUnknown()
}
