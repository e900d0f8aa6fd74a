package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
)

var (
	_ datasource.DataSource              = (*connectionDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*connectionDataSource)(nil)
)

// NewConnectionDataSource returns the airflowiam_connection data source.
func NewConnectionDataSource() datasource.DataSource {
	return &connectionDataSource{}
}

type connectionDataSource struct {
	data *providerData
}

func (d *connectionDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_connection"
}

func (d *connectionDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads one Airflow connection through Airflow's REST API. Everything but the password is exposed; " +
			"values Airflow masks in `extra` read as `***`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The connection ID (same as `connection_id`).",
			},
			"connection_id": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "The connection's ID. " + connectionIDRule + ".",
				Validators:          connectionIDValidators(),
			},
			"conn_type":   schema.StringAttribute{Computed: true, MarkdownDescription: "The connection type."},
			"description": schema.StringAttribute{Computed: true, MarkdownDescription: "Description."},
			"host":        schema.StringAttribute{Computed: true, MarkdownDescription: "Host name or URL."},
			"login":       schema.StringAttribute{Computed: true, MarkdownDescription: "Login (user name)."},
			"schema":      schema.StringAttribute{Computed: true, MarkdownDescription: "Schema."},
			"port":        schema.NumberAttribute{Computed: true, MarkdownDescription: "Port."},
			"extra": schema.StringAttribute{
				CustomType:          extraType{},
				Computed:            true,
				MarkdownDescription: "Extra parameters as a JSON object, with values Airflow treats as sensitive masked as `***`.",
			},
		},
	}
}

func (d *connectionDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *connectionDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	client := airflowClientFrom(d.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var cfg connectionFieldsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := cfg.ConnectionID.ValueString()
	conn, err := client.ReadConnection(ctx, id)
	if airflow.IsNotFound(err) {
		resp.Diagnostics.AddError("Airflow Connection Not Found",
			fmt.Sprintf("Airflow at %s has no connection %q. Check the connection_id, or create it first (for example with the airflowiam_connection resource).", client.Endpoint(), id))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Error Reading Airflow Connection", fmt.Sprintf("Could not read connection %q: %s", id, airflowErrorDetail(err)))
		return
	}
	var state connectionFieldsModel
	state.setFromAPI(conn)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}
