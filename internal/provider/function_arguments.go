package provider

import (
	"context"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
)

// The connection argument that the connection functions share.

// connectionFieldNames are the fields a connection argument may have: those
// of airflowiam_connection. Resource-only attributes are accepted and
// ignored, so a resource can be passed as it is.
var (
	connectionFieldNames  = []string{"conn_type", "description", "host", "login", "schema", "port", "password", "extra"}
	connectionIgnoredKeys = []string{"id", "connection_id", "password_wo", "password_wo_version"}
)

func connectionParameter() function.Parameter {
	return function.DynamicParameter{
		Name: "connection",
		MarkdownDescription: "An object with any of the fields of `airflowiam_connection`: " + quotedList(connectionFieldNames) +
			" (`port` a number, `extra` a JSON object string such as `jsonencode({...})`). `conn_type` is required. An " +
			"`airflowiam_connection` resource can be passed as it is (its write-only password is not available to functions).",
	}
}

// setConnectionField sets one field of conn from an argument's value, or
// says what is wrong with it.
func setConnectionField(ctx context.Context, conn *airflow.Connection, name string, value attr.Value) string {
	if !slices.Contains(connectionFieldNames, name) {
		return fmt.Sprintf("connection has an unknown field %q; expected some of %s", name, strings.Join(connectionFieldNames, ", "))
	}
	if name == "port" {
		port, ok := portValue(value)
		if !ok {
			return fmt.Sprintf("connection.port must be a whole number from 0 to 65535, got %s", value)
		}
		conn.Port = &port
		return ""
	}
	s, ok := value.(basetypes.StringValuable)
	if !ok {
		return fmt.Sprintf("connection.%s must be a string, got %s", name, value.Type(ctx))
	}
	str, diags := s.ToStringValue(ctx)
	if diags.HasError() {
		return fmt.Sprintf("connection.%s must be a string", name)
	}
	text := str.ValueString()
	targets := map[string]**string{
		"description": &conn.Description, "host": &conn.Host, "login": &conn.Login,
		"schema": &conn.Schema, "password": &conn.Password, "extra": &conn.Extra,
	}
	if name == "conn_type" {
		conn.ConnType = text
	} else {
		*targets[name] = &text
	}
	return ""
}

// connectionArgument decodes the connection argument (position 0).
func connectionArgument(ctx context.Context, req function.RunRequest) (*airflow.Connection, *function.FuncError) {
	var arg types.Dynamic
	if funcErr := req.Arguments.Get(ctx, &arg); funcErr != nil {
		return nil, funcErr
	}
	fail := func(format string, a ...any) (*airflow.Connection, *function.FuncError) {
		return nil, function.NewArgumentFuncError(0, fmt.Sprintf(format, a...))
	}
	var fields map[string]attr.Value
	switch v := arg.UnderlyingValue().(type) {
	case types.Object:
		fields = v.Attributes()
	case types.Map:
		fields = v.Elements()
	default:
		return fail("connection must be an object with fields such as conn_type and host, got %s", arg.UnderlyingValue().Type(ctx))
	}

	conn := &airflow.Connection{}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		value := fields[name]
		if slices.Contains(connectionIgnoredKeys, name) || value.IsNull() {
			continue
		}
		if msg := setConnectionField(ctx, conn, name, value); msg != "" {
			return fail("%s", msg)
		}
	}
	if conn.ConnType == "" {
		return fail("connection.conn_type is required, for example \"postgres\" or \"aws\"")
	}
	return conn, nil
}

func portValue(v attr.Value) (int64, bool) {
	var f *big.Float
	switch n := v.(type) {
	case types.Number:
		f = n.ValueBigFloat()
	case types.Int64:
		f = new(big.Float).SetInt64(n.ValueInt64())
	default:
		return 0, false
	}
	if f == nil || !f.IsInt() {
		return 0, false
	}
	i, acc := f.Int64()
	if acc != big.Exact || i < 0 || i > maxPort {
		return 0, false
	}
	return i, true
}
