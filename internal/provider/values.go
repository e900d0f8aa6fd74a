package provider

import (
	"context"
	"math/big"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Small conversions between API values and Terraform values, shared by
// every object.

// stringOrNull is s, or null when s is empty.
func stringOrNull(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// known says whether every value is known (null counts as known).
func known(values ...types.String) bool {
	for _, v := range values {
		if v.IsUnknown() {
			return false
		}
	}
	return true
}

// stringMap reads a map of strings, such as tags or labels.
func stringMap(ctx context.Context, m types.Map) (map[string]string, diag.Diagnostics) {
	out := map[string]string{}
	diags := m.ElementsAs(ctx, &out, false)
	return out, diags
}

// nonEmpty is a string value, null when s is nil or empty: the secret forms
// cannot tell an empty field from a missing one.
func nonEmpty(s *string) types.String {
	if s == nil || *s == "" {
		return types.StringNull()
	}
	return types.StringValue(*s)
}

// portPointer is a port as the API takes it: nil when null or unknown.
// The validator has made sure it is a whole number in range.
func portPointer(n types.Number) *int64 {
	if n.IsNull() || n.IsUnknown() {
		return nil
	}
	i, _ := n.ValueBigFloat().Int64()
	return &i
}

// portNumber is a port from the API, null when there is none.
func portNumber(p *int64) types.Number {
	if p == nil {
		return types.NumberNull()
	}
	return types.NumberValue(new(big.Float).SetInt64(*p))
}
