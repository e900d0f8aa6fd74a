package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
)

// The fields of an Airflow connection as every object that writes or reads
// one takes them: airflowiam_connection, the connection data source and
// the secret-connection resources.

// connectionFieldsModel holds the fields the resource and the data source
// share: everything Airflow returns except the password.
type connectionFieldsModel struct {
	ID           types.String         `tfsdk:"id"`
	ConnectionID types.String         `tfsdk:"connection_id"`
	ConnType     types.String         `tfsdk:"conn_type"`
	Description  types.String         `tfsdk:"description"`
	Host         types.String         `tfsdk:"host"`
	Login        types.String         `tfsdk:"login"`
	Schema       types.String         `tfsdk:"schema"`
	Port         types.Int64          `tfsdk:"port"`
	Extra        jsontypes.Normalized `tfsdk:"extra"`
}

// setFromAPI copies what Airflow returned, extra included as returned.
func (m *connectionFieldsModel) setFromAPI(conn *airflow.Connection) {
	m.ID = types.StringValue(conn.ConnectionID)
	m.ConnectionID = types.StringValue(conn.ConnectionID)
	m.ConnType = types.StringValue(conn.ConnType)
	m.Description = types.StringPointerValue(conn.Description)
	m.Host = types.StringPointerValue(conn.Host)
	m.Login = types.StringPointerValue(conn.Login)
	m.Schema = types.StringPointerValue(conn.Schema)
	m.Port = types.Int64PointerValue(conn.Port)
	m.Extra = jsontypes.NewNormalizedPointerValue(conn.Extra)
}

// passwordSchema is the password of a resource that writes a connection:
// `password`, kept in state, or the write-only `password_wo` with
// `password_wo_version`, never both. The descriptions say what the
// resource does with them; the plan modifiers are its own.
type passwordSchema struct {
	password, passwordWO, passwordWOVersion string
	passwordPlan                            []planmodifier.String
	versionPlan                             []planmodifier.Int64
}

func (p passwordSchema) attributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"password": schema.StringAttribute{
			Optional:            true,
			Sensitive:           true,
			MarkdownDescription: p.password,
			Validators: []validator.String{
				stringvalidator.LengthAtLeast(1),
				stringvalidator.ConflictsWith(path.MatchRoot("password_wo")),
			},
			PlanModifiers: p.passwordPlan,
		},
		"password_wo": schema.StringAttribute{
			Optional:            true,
			Sensitive:           true,
			WriteOnly:           true,
			MarkdownDescription: p.passwordWO,
			Validators: []validator.String{
				stringvalidator.LengthAtLeast(1),
				stringvalidator.ConflictsWith(path.MatchRoot("password")),
				stringvalidator.AlsoRequires(path.MatchRoot("password_wo_version")),
			},
		},
		"password_wo_version": schema.Int64Attribute{
			Optional:            true,
			MarkdownDescription: p.passwordWOVersion,
			Validators:          []validator.Int64{int64validator.AlsoRequires(path.MatchRoot("password_wo"))},
			PlanModifiers:       p.versionPlan,
		},
	}
}

// connectionFieldAttributes are the connection fields both the Airflow and
// the secrets-backend resources take: conn_type, host, login, schema, port.
func connectionFieldAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"conn_type": schema.StringAttribute{
			Required:            true,
			MarkdownDescription: "The connection type, for example `aws`, `google_cloud_platform`, `postgres` or `http`.",
			Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
		},
		"host": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "Host name or URL.",
		},
		"login": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "Login (user name).",
		},
		"schema": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "Schema (for databases, usually the database name).",
		},
		"port": schema.Int64Attribute{
			Optional:            true,
			MarkdownDescription: fmt.Sprintf("Port, from %d to %d.", minPort, maxPort),
			Validators:          []validator.Int64{int64validator.Between(minPort, maxPort)},
		},
	}
}
