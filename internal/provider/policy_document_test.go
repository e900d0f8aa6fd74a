package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

const (
	s3Doc         = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b/*"}]}`
	s3DocReworded = "{\n  \"Statement\": {\"Resource\": [\"arn:aws:s3:::b/*\"], \"Action\": \"s3:GetObject\", \"Effect\": \"Allow\"},\n  \"Version\": \"2012-10-17\"\n}"
	s3DocOther    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject"],"Resource":"arn:aws:s3:::b/*"}]}`
)

func TestPolicyDocumentSemanticEquals(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name        string
		next, prior policyDocument
		want        bool
	}{
		{"same text", policyDocumentValue(s3Doc), policyDocumentValue(s3Doc), true},
		{"reworded", policyDocumentValue(s3DocReworded), policyDocumentValue(s3Doc), true},
		{"URL-encoded, as IAM returns it", policyDocumentValue("%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Ab%2F%2A%22%7D%5D%7D"), policyDocumentValue(s3Doc), true},
		{"other action", policyDocumentValue(s3DocOther), policyDocumentValue(s3Doc), false},
		{"unparsable", policyDocumentValue("{not json"), policyDocumentValue(s3Doc), false},
		{"null prior", policyDocumentValue(s3Doc), policyDocument{StringValue: types.StringNull()}, false},
		{"unknown next", policyDocumentUnknown(), policyDocumentValue(s3Doc), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, diags := tc.next.StringSemanticEquals(ctx, tc.prior)
			if diags.HasError() {
				t.Fatalf("diagnostics: %v", diags)
			}
			if got != tc.want {
				t.Errorf("StringSemanticEquals = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPolicyDocumentTypeRoundTrip(t *testing.T) {
	ctx := context.Background()
	v, err := policyDocumentType{}.ValueFromTerraform(ctx, tftypes.NewValue(tftypes.String, s3Doc))
	if err != nil {
		t.Fatal(err)
	}
	doc, ok := v.(policyDocument)
	if !ok || doc.ValueString() != s3Doc || !doc.Type(ctx).Equal(policyDocumentType{}) {
		t.Fatalf("ValueFromTerraform = %#v", v)
	}
	if (policyDocumentType{}).Equal(types.StringType) || doc.Equal(types.StringValue(s3Doc)) {
		t.Error("a policy document must not equal a plain string")
	}
}

func TestPolicyDocumentFromIAMIsCanonical(t *testing.T) {
	if a, b := policyDocumentFromIAM(s3Doc), policyDocumentFromIAM(s3DocReworded); !a.Equal(b) {
		t.Errorf("canonical forms differ: %s and %s", a.ValueString(), b.ValueString())
	}
	if got := policyDocumentFromIAM("{not json").ValueString(); got != "{not json" {
		t.Errorf("an unparsable document is kept as it is, got %q", got)
	}
}

func TestOrEqualPrior(t *testing.T) {
	ctx := context.Background()
	prior := policyDocumentValue(s3Doc)
	if got := policyDocumentValue(s3DocReworded).orEqualPrior(ctx, prior); !got.Equal(prior) {
		t.Errorf("a reworded document plans %s, want the prior %s", got.ValueString(), prior.ValueString())
	}
	next := policyDocumentValue(s3DocOther)
	if got := next.orEqualPrior(ctx, prior); !got.Equal(next) {
		t.Errorf("a changed document plans %s, want %s", got.ValueString(), next.ValueString())
	}
}

func TestSemanticEqualityMapPlan(t *testing.T) {
	ctx := context.Background()
	docs := func(m map[string]string) types.Map {
		elems := map[string]attr.Value{}
		for k, v := range m {
			elems[k] = policyDocumentValue(v)
		}
		return types.MapValueMust(policyDocumentType{}, elems)
	}
	state := docs(map[string]string{"same": s3Doc, "changed": s3Doc, "gone": s3Doc})
	plan := docs(map[string]string{"same": s3DocReworded, "changed": s3DocOther, "new": s3DocReworded})
	resp := &planmodifier.MapResponse{PlanValue: plan}
	semanticEqualityMapPlan{}.PlanModifyMap(ctx, planmodifier.MapRequest{
		Path: path.Root("inline_policies"), ConfigValue: plan, PlanValue: plan, StateValue: state,
	}, resp)
	if resp.Diagnostics.HasError() {
		t.Fatalf("diagnostics: %v", resp.Diagnostics)
	}
	want := docs(map[string]string{"same": s3Doc, "changed": s3DocOther, "new": s3DocReworded})
	if !resp.PlanValue.Equal(want) {
		t.Errorf("planned %v, want %v", resp.PlanValue, want)
	}

	// Without a prior state (create), the plan stays as it is.
	resp = &planmodifier.MapResponse{PlanValue: plan}
	semanticEqualityMapPlan{}.PlanModifyMap(ctx, planmodifier.MapRequest{
		ConfigValue: plan, PlanValue: plan, StateValue: types.MapNull(policyDocumentType{}),
	}, resp)
	if !resp.PlanValue.Equal(plan) {
		t.Errorf("planned %v on create, want %v", resp.PlanValue, plan)
	}
}

func TestPriorWhenSemanticallyEqualIgnoresPlainStrings(t *testing.T) {
	var diags diag.Diagnostics
	next := types.StringValue(s3DocReworded)
	if got := priorWhenSemanticallyEqual(context.Background(), next, types.StringValue(s3Doc), &diags); !got.Equal(next) {
		t.Errorf("a plain string has no semantic equality, got %v", got)
	}
}
