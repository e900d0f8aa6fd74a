package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/function"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
)

var _ function.Function = (*connectionJSONFunction)(nil)

// NewConnectionJSONFunction returns the connection_json function.
func NewConnectionJSONFunction() function.Function {
	return &connectionJSONFunction{}
}

type connectionJSONFunction struct{}

func (f *connectionJSONFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "connection_json"
}

func (f *connectionJSONFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Renders an Airflow connection in the JSON form Airflow reads from AIRFLOW_CONN_<ID> and secrets backends.",
		MarkdownDescription: "Renders an Airflow connection in the JSON form Airflow accepts wherever it accepts a URI " +
			"(`AIRFLOW_CONN_<ID>` values that start with `{`, and the AWS and GCP secrets backends): `conn_type`, `description`, " +
			"`host`, `login`, `password`, `schema`, `port` and `extra`, as Airflow's `Connection.as_json()` writes them. The JSON form " +
			"keeps nested extras readable. The result holds the password: keep it sensitive.",
		Parameters: []function.Parameter{connectionParameter()},
		Return:     function.StringReturn{},
	}
}

func (f *connectionJSONFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	conn, funcErr := connectionArgument(ctx, req)
	if funcErr != nil {
		resp.Error = funcErr
		return
	}
	out, err := airflow.ConnectionJSON(conn)
	if err != nil {
		resp.Error = function.NewArgumentFuncError(0, err.Error())
		return
	}
	resp.Error = resp.Result.Set(ctx, out)
}
