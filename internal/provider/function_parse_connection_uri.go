package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
)

var _ function.Function = (*parseConnectionURIFunction)(nil)

// NewParseConnectionURIFunction returns the parse_connection_uri function.
func NewParseConnectionURIFunction() function.Function {
	return &parseConnectionURIFunction{}
}

type parseConnectionURIFunction struct{}

var parsedConnectionTypes = map[string]attr.Type{
	"conn_type": types.StringType,
	"host":      types.StringType,
	"login":     types.StringType,
	"password":  types.StringType,
	"schema":    types.StringType,
	"port":      types.Int64Type,
	"extra":     types.StringType,
}

func (f *parseConnectionURIFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "parse_connection_uri"
}

func (f *parseConnectionURIFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Parses an Airflow connection URI the way Airflow does.",
		MarkdownDescription: "Parses an Airflow connection URI (as in `AIRFLOW_CONN_<ID>`) the way Airflow's `Connection(uri=...)` " +
			"does, into an object with `conn_type`, `host`, `login`, `password`, `schema`, `port` and `extra` (a JSON object string, " +
			"or null). Fields the URI does not have are null. Useful to move connections from environment variables into " +
			"`airflowiam_connection`. Mark the result sensitive when the URI holds a password.",
		Parameters: []function.Parameter{function.StringParameter{
			Name:                "uri",
			MarkdownDescription: "The connection URI, for example `postgres://user:pass@db.example.com:5432/analytics`.",
		}},
		Return: function.ObjectReturn{AttributeTypes: parsedConnectionTypes},
	}
}

// connectionURIForm is the form of an Airflow connection URI, in words.
const connectionURIForm = "conn-type://[login[:password]@][host][:port][/schema][?extra], with conn_type's \"_\" written \"-\""

func (f *parseConnectionURIFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var uri string
	if resp.Error = req.Arguments.Get(ctx, &uri); resp.Error != nil {
		return
	}
	conn, err := airflow.ParseConnectionURI(uri)
	if err == nil && conn.ConnType == "" {
		err = errors.New("it does not start with a conn-type and \"://\"")
	}
	if err != nil {
		// The URI is not echoed: it may hold a password.
		resp.Error = function.NewArgumentFuncError(0, fmt.Sprintf("uri is not an Airflow connection URI: %s. Expected %s, "+
			"for example postgres://user:pass@db.example.com:5432/analytics.", err, connectionURIForm))
		return
	}
	obj, diags := types.ObjectValue(parsedConnectionTypes, map[string]attr.Value{
		"conn_type": types.StringValue(conn.ConnType),
		"host":      types.StringPointerValue(conn.Host),
		"login":     types.StringPointerValue(conn.Login),
		"password":  types.StringPointerValue(conn.Password),
		"schema":    types.StringPointerValue(conn.Schema),
		"port":      types.Int64PointerValue(conn.Port),
		"extra":     types.StringPointerValue(conn.Extra),
	})
	if diags.HasError() {
		resp.Error = function.FuncErrorFromDiags(ctx, diags)
		return
	}
	resp.Error = resp.Result.Set(ctx, obj)
}
