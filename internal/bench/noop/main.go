// Command noop is make bench's no-op plugin floor: a framework provider
// whose one resource, noop_connection, has airflowiam_connection's schema
// and whose CRUD touches nothing remote. Planning N of them measures what
// Terraform and the plugin protocol cost on their own.
package main

import (
	"context"
	"log"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	airflowiam "github.com/airflowiam/terraform-provider-airflowiam/internal/provider"
)

// main serves the no-op provider as main.go serves the real one (the
// framework's server behind provider.ServerFor, the plugin's logs off
// unless Terraform shows them), so that the floor differs from the
// provider only in what its resources do.
func main() {
	if err := airflowiam.QuietLogsUnlessWanted(os.Getenv, os.Setenv); err != nil {
		log.Fatal(err)
	}
	if err := tf6server.Serve("registry.terraform.io/airflowiam/noop", airflowiam.ServerFor(noopProvider{})); err != nil {
		log.Fatal(err)
	}
}

type noopProvider struct{}

func (noopProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "noop"
}

func (noopProvider) Schema(context.Context, provider.SchemaRequest, *provider.SchemaResponse) {}

func (noopProvider) Configure(context.Context, provider.ConfigureRequest, *provider.ConfigureResponse) {
}

func (noopProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return connection{real: airflowiam.NewConnectionResource()} }}
}

func (noopProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }

// connection has the real resource's schema; its state is its plan, with
// what is unknown until apply set to null (the id to the connection id).
type connection struct{ real resource.Resource }

func (c connection) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_connection"
}

func (c connection) Schema(ctx context.Context, req resource.SchemaRequest, resp *resource.SchemaResponse) {
	c.real.Schema(ctx, req, resp)
}

func (c connection) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	resp.State.Raw = known(req.Plan.Raw)
}

func (c connection) Read(context.Context, resource.ReadRequest, *resource.ReadResponse) {}

func (c connection) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.State.Raw = known(req.Plan.Raw)
}

func (c connection) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {}

// known is v with every unknown value null, and id the connection id.
func known(v tftypes.Value) tftypes.Value {
	var id tftypes.Value
	out, err := tftypes.Transform(v, func(p *tftypes.AttributePath, v tftypes.Value) (tftypes.Value, error) {
		if len(p.Steps()) == 1 && p.Steps()[0] == tftypes.AttributeName("connection_id") {
			id = v
		}
		if !v.IsKnown() {
			return tftypes.NewValue(v.Type(), nil), nil
		}
		return v, nil
	})
	if err != nil {
		return v
	}
	if id.IsKnown() && !id.IsNull() {
		out, _ = tftypes.Transform(out, func(p *tftypes.AttributePath, v tftypes.Value) (tftypes.Value, error) {
			if len(p.Steps()) == 1 && p.Steps()[0] == tftypes.AttributeName("id") {
				return id, nil
			}
			return v, nil
		})
	}
	return out
}
