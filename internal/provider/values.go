package provider

import "github.com/hashicorp/terraform-plugin-framework/types"

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
