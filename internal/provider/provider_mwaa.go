package provider

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/mwaa"
)

// What the provider does for Amazon MWAA: the airflow block's
// mwaa_environment, the aws block's mwaa_endpoint, and the Airflow client
// that reaches the environment through InvokeRestApi (package mwaa).

// mwaaEnvironmentAttribute is airflow.mwaa_environment.
func mwaaEnvironmentAttribute() schema.StringAttribute {
	return schema.StringAttribute{
		Optional: true,
		MarkdownDescription: "Name of an Amazon MWAA environment to manage instead of an `endpoint`: every Airflow request is sent " +
			"through MWAA's `InvokeRestApi` with the `aws` block's credentials (which the block then needs), and Airflow's answer " +
			"is handled as a direct one. The provider reads the environment once per run (`GetEnvironment`) for its Airflow " +
			"version, which picks the REST API (`/api/v1` on Airflow 2, `/api/v2` on Airflow 3; InvokeRestApi needs Airflow " +
			"2.4.3 or later), and stops with one error when it does not exist or is not `AVAILABLE`. The AWS identity needs " +
			"`airflow:GetEnvironment` on the environment and `airflow:InvokeRestApi` on the Airflow role it acts as, " +
			"`arn:aws:airflow:REGION:ACCOUNT:role/ENVIRONMENT/Op` (or `Admin`). Conflicts with `endpoint`, `username`, " +
			"`password`, `token`, `api_version` and `composer_environment`; the `AIRFLOW_*` environment variables are not read with it. Through MWAA a " +
			"connection ID can have at most 51 characters (InvokeRestApi takes paths of at most 64).",
		Validators: []validator.String{
			stringvalidator.RegexMatches(mwaa.NamePattern, "must be an MWAA environment name: a letter, then letters, digits, "+
				"hyphens or underscores, at most 80 characters"),
			stringvalidator.ConflictsWith(
				path.MatchRelative().AtParent().AtName("endpoint"),
				path.MatchRelative().AtParent().AtName("username"),
				path.MatchRelative().AtParent().AtName("password"),
				path.MatchRelative().AtParent().AtName("token"),
				path.MatchRelative().AtParent().AtName("api_version"),
			),
		},
	}
}

// mwaaEndpointAttribute is aws.mwaa_endpoint.
func mwaaEndpointAttribute() schema.StringAttribute {
	return schema.StringAttribute{
		Optional: true,
		MarkdownDescription: "Custom MWAA API endpoint URL (default `https://airflow.REGION.amazonaws.com`, which the AWS SDK " +
			"prefixes with `api.` and `env.`; an override is used as given), for example a local test double.",
	}
}

// usesMWAA reports whether the airflow block names an MWAA environment.
func (b *airflowBlockModel) usesMWAA() bool {
	return b != nil && !b.MWAAEnvironment.IsNull()
}

// configureMWAA builds the Airflow client for airflow.mwaa_environment:
// it reads the environment (plan-time errors for a missing, unready or
// too old one) and sends every request through InvokeRestApi.
func (p *airflowIAMProvider) configureMWAA(ctx context.Context, block *airflowBlockModel, awsBlock *awsBlockModel,
	awsCfg *aws.Config, awsClient *awsiam.Client, awsWhy string, resp *provider.ConfigureResponse) (*airflow.Client, string) {
	if block.MWAAEnvironment.IsUnknown() || block.RequestTimeout.IsUnknown() {
		return nil, "airflow.mwaa_environment or airflow.request_timeout is not known until apply, so the Airflow client could not be configured during plan"
	}
	if awsCfg == nil || awsClient == nil {
		if awsWhy == "" {
			awsWhy = "the aws block is not usable"
		}
		return nil, "airflow.mwaa_environment reaches Airflow through AWS, and " + awsWhy
	}
	name := block.MWAAEnvironment.ValueString()
	client, err := mwaa.New(mwaa.Config{
		AWS:         *awsCfg,
		Endpoint:    awsBlock.MWAAEndpoint.ValueString(),
		Environment: name,
		Identity: func(ctx context.Context) (string, error) {
			out, err := awsClient.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				return "", err
			}
			return aws.ToString(out.Arn), nil
		},
	})
	if err == nil {
		var env *mwaa.Environment
		if env, err = client.Environment(ctx); err == nil {
			return p.mwaaAirflowClient(ctx, block, client, env, resp)
		}
	}
	resp.Diagnostics.AddAttributeError(path.Root("airflow").AtName("mwaa_environment"), "MWAA Environment Not Usable",
		fmt.Sprintf("The provider's airflow block names MWAA environment %q, which it cannot use: %s.", name, err))
	return nil, ""
}

func (p *airflowIAMProvider) mwaaAirflowClient(ctx context.Context, block *airflowBlockModel, client *mwaa.Client,
	env *mwaa.Environment, resp *provider.ConfigureResponse) (*airflow.Client, string) {
	c, err := airflow.NewClient(airflow.Config{
		Endpoint:       env.Endpoint(),
		TransportAuth:  env.AuthMethod(),
		APIVersion:     env.APIVersion,
		HTTPClient:     &http.Client{Transport: client.Transport(env)},
		RequestTimeout: airflowRequestTimeout(block.RequestTimeout),
		UserAgent:      "terraform-provider-airflowiam/" + p.version,
		Logger: func(ctx context.Context, msg string, fields map[string]any) {
			tflog.Debug(ctx, msg, fields)
		},
	})
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("airflow"), "Invalid Airflow Configuration",
			fmt.Sprintf("The provider's airflow block is not usable with MWAA environment %s: %s.", env.Name, err))
		return nil, ""
	}
	tflog.Debug(ctx, "configured Airflow client through MWAA", map[string]any{
		"environment": env.ARN, "airflow_version": env.AirflowVersion, "api_version": env.APIVersion,
	})
	return c, ""
}
