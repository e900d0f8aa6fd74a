package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/function"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
)

var _ function.Function = (*connectionURIFunction)(nil)

// NewConnectionURIFunction returns the connection_uri function.
func NewConnectionURIFunction() function.Function {
	return &connectionURIFunction{}
}

type connectionURIFunction struct{}

func (f *connectionURIFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "connection_uri"
}

func (f *connectionURIFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Renders an Airflow connection as the URI Airflow reads from AIRFLOW_CONN_<ID>.",
		MarkdownDescription: "Renders an Airflow connection as a URI exactly as Airflow's `Connection.get_uri()` does: the scheme is " +
			"`conn_type` with `_` replaced by `-`; login, password, host and schema are percent-encoded; credentials without a host " +
			"end in `@`; extras become query parameters when they are flat strings and `__extra__` (URL-encoded JSON) otherwise. " +
			"Use it for `AIRFLOW_CONN_<ID>` environment variables and URI-format secrets. The result holds the password: keep it " +
			"sensitive.",
		Parameters: []function.Parameter{connectionParameter()},
		Return:     function.StringReturn{},
	}
}

func (f *connectionURIFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	conn, funcErr := connectionArgument(ctx, req)
	if funcErr != nil {
		resp.Error = funcErr
		return
	}
	uri, err := airflow.ConnectionURI(conn)
	if err != nil {
		resp.Error = function.NewArgumentFuncError(0, err.Error())
		return
	}
	resp.Error = resp.Result.Set(ctx, uri)
}
