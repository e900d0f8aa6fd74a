package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/awspolicy"
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

// semanticPolicyMapPlan plans, for each entry of a map of IAM policy
// documents, the prior state's document when the configured one means the
// same (other key order, list forms or white space), so it shows no change.
type semanticPolicyMapPlan struct{}

var _ planmodifier.Map = semanticPolicyMapPlan{}

func (semanticPolicyMapPlan) Description(context.Context) string {
	return "A policy document that differs from the prior state only in form plans no change."
}

func (m semanticPolicyMapPlan) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (semanticPolicyMapPlan) PlanModifyMap(ctx context.Context, req planmodifier.MapRequest, resp *planmodifier.MapResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || req.StateValue.IsNull() || req.StateValue.IsUnknown() {
		return
	}
	var configured, prior map[string]types.String
	resp.Diagnostics.Append(req.ConfigValue.ElementsAs(ctx, &configured, false)...)
	resp.Diagnostics.Append(req.StateValue.ElementsAs(ctx, &prior, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	planned := make(map[string]attr.Value, len(configured))
	for name, doc := range configured {
		planned[name] = doc
		if have, ok := prior[name]; ok && !doc.IsUnknown() && !have.IsNull() {
			if equal, err := awspolicy.Equal(doc.ValueString(), have.ValueString()); err == nil && equal {
				planned[name] = have
			}
		}
	}
	value, diags := types.MapValue(types.StringType, planned)
	resp.Diagnostics.Append(diags...)
	resp.PlanValue = value
}
