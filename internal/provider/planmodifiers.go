package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
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

// semanticEqualityMapPlan plans, for each entry of a map whose element type
// has semantic equality (policyDocumentType), the prior state's element when
// the planned one means the same, so a document that only differs in form
// shows no change. The framework applies a type's semantic equality after
// Create, Read and Update, but not to the plan.
type semanticEqualityMapPlan struct{}

var _ planmodifier.Map = semanticEqualityMapPlan{}

func (semanticEqualityMapPlan) Description(context.Context) string {
	return "An element that differs from the prior state only in form plans no change."
}

func (m semanticEqualityMapPlan) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (semanticEqualityMapPlan) PlanModifyMap(ctx context.Context, req planmodifier.MapRequest, resp *planmodifier.MapResponse) {
	if req.PlanValue.IsNull() || req.PlanValue.IsUnknown() || req.StateValue.IsNull() || req.StateValue.IsUnknown() {
		return
	}
	prior := req.StateValue.Elements()
	planned := make(map[string]attr.Value, len(req.PlanValue.Elements()))
	for name, next := range req.PlanValue.Elements() {
		planned[name] = priorWhenSemanticallyEqual(ctx, next, prior[name], &resp.Diagnostics)
	}
	value, diags := types.MapValue(req.PlanValue.ElementType(ctx), planned)
	resp.Diagnostics.Append(diags...)
	if !resp.Diagnostics.HasError() {
		resp.PlanValue = value
	}
}

// priorWhenSemanticallyEqual is prior when next is known and its type says
// the two mean the same, else next.
func priorWhenSemanticallyEqual(ctx context.Context, next, prior attr.Value, diags *diag.Diagnostics) attr.Value {
	n, ok := next.(basetypes.StringValuableWithSemanticEquals)
	if !ok || prior == nil || next.IsNull() || next.IsUnknown() || prior.IsNull() || prior.IsUnknown() {
		return next
	}
	p, ok := prior.(basetypes.StringValuableWithSemanticEquals)
	if !ok {
		return next
	}
	equal, d := n.StringSemanticEquals(ctx, p)
	diags.Append(d...)
	if equal {
		return prior
	}
	return next
}
