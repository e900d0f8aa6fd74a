package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// semanticJSONPlan plans an optional, computed JSON attribute from its
// configuration, except that a configuration semantically equal to the
// prior state (other key order or white space) plans the prior state, so it
// shows no change. A null configuration plans null, so removing the
// attribute clears it.
type semanticJSONPlan struct{}

var _ planmodifier.String = semanticJSONPlan{}

func (semanticJSONPlan) Description(context.Context) string {
	return "A configuration that differs from the prior state only in key order or white space plans no change."
}

func (m semanticJSONPlan) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (semanticJSONPlan) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if req.ConfigValue.IsNull() {
		resp.PlanValue = types.StringNull()
		return
	}
	if req.ConfigValue.IsUnknown() || req.StateValue.IsNull() || req.StateValue.IsUnknown() {
		resp.PlanValue = req.ConfigValue
		return
	}
	equal, diags := jsontypes.NewNormalizedValue(req.ConfigValue.ValueString()).
		StringSemanticEquals(ctx, jsontypes.NewNormalizedValue(req.StateValue.ValueString()))
	resp.Diagnostics.Append(diags...)
	if equal {
		resp.PlanValue = req.StateValue
	} else {
		resp.PlanValue = req.ConfigValue
	}
}
