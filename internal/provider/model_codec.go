package provider

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// getFlatState and setFlatState are tfsdk.State's Get and Set for a flat
// model: a struct whose fields tagged `tfsdk:"name"` are attr.Values and
// whose untagged embedded structs are followed, as the framework follows
// them. They read and write tftypes straight, where the framework's
// reflection parses the struct's tags again on every call, compiling a
// regular expression per field: in a refresh-only plan of 1,000
// connections that was most of what the provider's Read cost. The result is
// the framework's, field for field (model_codec_test.go holds them equal).
func getFlatState(ctx context.Context, state tfsdk.State, target any) diag.Diagnostics {
	var diags diag.Diagnostics
	if err := decodeFlat(ctx, state, target); err != nil {
		diags.AddError("Value Conversion Error", "The state could not be read into the provider's model: "+err.Error())
	}
	return diags
}

func setFlatState(ctx context.Context, state *tfsdk.State, source any) diag.Diagnostics {
	var diags diag.Diagnostics
	raw, err := encodeFlat(ctx, state.Schema.Type(), source)
	if err != nil {
		diags.AddError("Value Conversion Error", "The provider's model could not be written to state: "+err.Error())
		return diags
	}
	state.Raw = raw
	return diags
}

// flatField is one attribute of a flat model: its name and the index path
// of its field.
type flatField struct {
	name  string
	index []int
}

var flatFields sync.Map // reflect.Type -> []flatField

// fieldsOf lists the attributes of the struct type t.
func fieldsOf(t reflect.Type) ([]flatField, error) {
	if f, ok := flatFields.Load(t); ok {
		if fields, ok := f.([]flatField); ok {
			return fields, nil
		}
	}
	var fields []flatField
	var walk func(t reflect.Type, prefix []int) error
	walk = func(t reflect.Type, prefix []int) error {
		for i := range t.NumField() {
			sf := t.Field(i)
			index := append(append([]int(nil), prefix...), i)
			tag, tagged := sf.Tag.Lookup("tfsdk")
			switch {
			case !tagged && sf.Anonymous && sf.Type.Kind() == reflect.Struct:
				if err := walk(sf.Type, index); err != nil {
					return err
				}
			case !tagged || tag == "-":
				if sf.IsExported() {
					return fmt.Errorf("field %s has no tfsdk tag", sf.Name)
				}
			case !sf.Type.Implements(reflect.TypeFor[attr.Value]()):
				return fmt.Errorf("field %s (%s) is not an attr.Value", sf.Name, tag)
			default:
				fields = append(fields, flatField{name: tag, index: index})
			}
		}
		return nil
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%s is not a struct", t)
	}
	if err := walk(t, nil); err != nil {
		return nil, err
	}
	flatFields.Store(t, fields)
	return fields, nil
}

// objectTypes is the attribute types of a schema's object type.
func objectTypes(typ attr.Type) (map[string]attr.Type, error) {
	obj, ok := typ.(basetypes.ObjectType)
	if !ok {
		return nil, fmt.Errorf("the schema's type is %T, not an object", typ)
	}
	return obj.AttrTypes, nil
}

func decodeFlat(ctx context.Context, state tfsdk.State, target any) error {
	ptr := reflect.ValueOf(target)
	if ptr.Kind() != reflect.Pointer || ptr.IsNil() {
		return fmt.Errorf("target %T is not a pointer to a struct", target)
	}
	fields, err := fieldsOf(ptr.Elem().Type())
	if err != nil {
		return err
	}
	types, err := objectTypes(state.Schema.Type())
	if err != nil {
		return err
	}
	if len(fields) != len(types) {
		return fmt.Errorf("the model has %d attributes, the schema %d", len(fields), len(types))
	}
	if state.Raw.IsNull() || !state.Raw.IsKnown() {
		return fmt.Errorf("the state is %s, not an object to read", state.Raw)
	}
	var values map[string]tftypes.Value
	if err := state.Raw.As(&values); err != nil {
		return err
	}
	for _, f := range fields {
		typ, ok := types[f.name]
		if !ok {
			return fmt.Errorf("the schema has no attribute %q", f.name)
		}
		raw, ok := values[f.name]
		if !ok {
			raw = tftypes.NewValue(typ.TerraformType(ctx), nil)
		}
		v, err := typ.ValueFromTerraform(ctx, raw)
		if err != nil {
			return fmt.Errorf("attribute %q: %w", f.name, err)
		}
		field := ptr.Elem().FieldByIndex(f.index)
		value := reflect.ValueOf(v)
		if !value.Type().AssignableTo(field.Type()) {
			return fmt.Errorf("attribute %q: the schema gives %s, the model holds %s", f.name, value.Type(), field.Type())
		}
		field.Set(value)
	}
	return nil
}

func encodeFlat(ctx context.Context, schemaType attr.Type, source any) (tftypes.Value, error) {
	v := reflect.ValueOf(source)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	fields, err := fieldsOf(v.Type())
	if err != nil {
		return tftypes.Value{}, err
	}
	types, err := objectTypes(schemaType)
	if err != nil {
		return tftypes.Value{}, err
	}
	if len(fields) != len(types) {
		return tftypes.Value{}, fmt.Errorf("the model has %d attributes, the schema %d", len(fields), len(types))
	}
	values := make(map[string]tftypes.Value, len(fields))
	for _, f := range fields {
		typ, ok := types[f.name]
		if !ok {
			return tftypes.Value{}, fmt.Errorf("the schema has no attribute %q", f.name)
		}
		value, ok := v.FieldByIndex(f.index).Interface().(attr.Value)
		if !ok {
			return tftypes.Value{}, fmt.Errorf("attribute %q is not an attr.Value", f.name)
		}
		if !value.Type(ctx).Equal(typ) {
			return tftypes.Value{}, fmt.Errorf("attribute %q: the model holds %s, the schema wants %s", f.name, value.Type(ctx), typ)
		}
		raw, err := value.ToTerraformValue(ctx)
		if err != nil {
			return tftypes.Value{}, fmt.Errorf("attribute %q: %w", f.name, err)
		}
		values[f.name] = raw
	}
	objType := schemaType.TerraformType(ctx)
	if err := tftypes.ValidateValue(objType, values); err != nil {
		return tftypes.Value{}, err
	}
	return tftypes.NewValue(objType, values), nil
}
