package provider

import (
	"context"
	"math/big"
	"reflect"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// connectionState is an airflowiam_connection state of the given
// attribute values; the others are null.
func connectionState(t testing.TB, values map[string]tftypes.Value) tfsdk.State {
	t.Helper()
	ctx := context.Background()
	var resp resource.SchemaResponse
	NewConnectionResource().Schema(ctx, resource.SchemaRequest{}, &resp)
	typ, ok := resp.Schema.Type().TerraformType(ctx).(tftypes.Object)
	if !ok {
		t.Fatalf("the schema's type is %T", typ)
	}
	all := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		all[name] = tftypes.NewValue(at, nil)
		if v, ok := values[name]; ok {
			all[name] = v
		}
	}
	return tfsdk.State{Schema: resp.Schema, Raw: tftypes.NewValue(typ, all)}
}

func str(s string) tftypes.Value { return tftypes.NewValue(tftypes.String, s) }

// The flat codec reads and writes airflowiam_connection's model exactly as
// the framework's State.Get and State.Set do: every attribute set, nulls,
// unknowns, a custom type (extra) and a number (port).
func TestFlatState_equalsTheFrameworks(t *testing.T) {
	ctx := context.Background()
	cases := map[string]map[string]tftypes.Value{
		"all nulls": {},
		"every attribute": {
			"id": str("db"), "connection_id": str("db"), "conn_type": str("postgres"), "description": str("d"),
			"host": str("h"), "login": str("l"), "schema": str("s"),
			"port":     tftypes.NewValue(tftypes.Number, big.NewFloat(5432)),
			"extra":    str(`{"a": "b"}`),
			"password": str("pw"), "password_wo_version": tftypes.NewValue(tftypes.Number, big.NewFloat(3)),
			"extra_wo_version": tftypes.NewValue(tftypes.Number, big.NewFloat(1)),
		},
		"unknowns": {
			"id":    tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
			"extra": tftypes.NewValue(tftypes.String, tftypes.UnknownValue),
			"port":  tftypes.NewValue(tftypes.Number, tftypes.UnknownValue),
		},
	}
	for name, values := range cases {
		t.Run(name, func(t *testing.T) {
			state := connectionState(t, values)
			var want, got connectionResourceModel
			if diags := state.Get(ctx, &want); diags.HasError() {
				t.Fatal(diags)
			}
			if diags := getFlatState(ctx, state, &got); diags.HasError() {
				t.Fatal(diags)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("read\n got %+v\nwant %+v", got, want)
			}

			// Written back after a change, by each.
			got.Host, want.Host = types.StringValue("changed"), types.StringValue("changed")
			got.Extra, want.Extra = newExtraValue(`{"c": "d"}`), newExtraValue(`{"c": "d"}`)
			fw, flat := state, state
			if diags := fw.Set(ctx, &want); diags.HasError() {
				t.Fatal(diags)
			}
			if diags := setFlatState(ctx, &flat, &got); diags.HasError() {
				t.Fatal(diags)
			}
			if !flat.Raw.Equal(fw.Raw) {
				t.Errorf("wrote\n got %s\nwant %s", flat.Raw, fw.Raw)
			}
		})
	}
}

// A model that does not match the schema is refused, not misread.
func TestFlatState_refusesAModelThatDoesNotMatch(t *testing.T) {
	ctx := context.Background()
	state := connectionState(t, map[string]tftypes.Value{"connection_id": str("db")})
	var short struct {
		connectionFieldsModel
	}
	if diags := getFlatState(ctx, state, &short); !diags.HasError() {
		t.Error("a model lacking attributes was read")
	}
	var wrongType struct {
		connectionFieldsModel
		Password          types.Int64  `tfsdk:"password"`
		PasswordWO        types.String `tfsdk:"password_wo"`
		PasswordWOVersion types.Int64  `tfsdk:"password_wo_version"`
		ExtraWO           types.String `tfsdk:"extra_wo"`
		ExtraWOVersion    types.Int64  `tfsdk:"extra_wo_version"`
	}
	if diags := getFlatState(ctx, state, &wrongType); !diags.HasError() {
		t.Error("a model with a wrong type was read")
	}
	if diags := setFlatState(ctx, &state, &wrongType); !diags.HasError() {
		t.Error("a model with a wrong type was written")
	}
	null := tfsdk.State{Schema: state.Schema, Raw: tftypes.NewValue(state.Raw.Type(), nil)}
	var m connectionResourceModel
	if diags := null.Get(ctx, &m); !diags.HasError() {
		t.Error("the framework read a null state; the flat codec should too")
	}
	if diags := getFlatState(ctx, null, &m); !diags.HasError() {
		t.Error("a null state was read")
	}
	var untagged struct {
		connectionResourceModel
		Stray string
	}
	if diags := getFlatState(ctx, state, &untagged); !diags.HasError() {
		t.Error("a model with an untagged exported field was read")
	}
}

// BenchmarkStateGet compares the framework's State.Get and Set with the
// flat codec on one connection.
func BenchmarkStateGet(b *testing.B) {
	ctx := context.Background()
	state := connectionState(b, map[string]tftypes.Value{
		"id": str("db"), "connection_id": str("db"), "conn_type": str("postgres"), "host": str("h"),
		"port": tftypes.NewValue(tftypes.Number, big.NewFloat(5432)), "extra": str(`{"a": "b"}`),
	})
	b.Run("framework", func(b *testing.B) {
		for b.Loop() {
			var m connectionResourceModel
			_ = state.Get(ctx, &m)
			s := state
			_ = s.Set(ctx, &m)
		}
	})
	b.Run("flat", func(b *testing.B) {
		for b.Loop() {
			var m connectionResourceModel
			_ = getFlatState(ctx, state, &m)
			s := state
			_ = setFlatState(ctx, &s, &m)
		}
	})
}
