package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/awspolicy"
)

// policyDocumentType is a string attribute holding an IAM policy document
// in JSON. In HCL it is a plain string. Two documents are equal in meaning
// when awspolicy.Equal says so (order of statements, keys and list
// members, a value against a list of one, white space, URL encoding, the
// case of condition keys), and the framework then keeps the prior form
// after Create, Read and Update, so IAM's rendering never shows as drift.
type policyDocumentType struct {
	basetypes.StringType
}

var _ basetypes.StringTypable = policyDocumentType{}

func (t policyDocumentType) Equal(o attr.Type) bool {
	other, ok := o.(policyDocumentType)
	return ok && t.StringType.Equal(other.StringType)
}

func (policyDocumentType) String() string {
	return "provider.policyDocumentType"
}

func (policyDocumentType) ValueType(context.Context) attr.Value {
	return policyDocument{}
}

func (policyDocumentType) ValueFromString(_ context.Context, in basetypes.StringValue) (basetypes.StringValuable, diag.Diagnostics) {
	return policyDocument{StringValue: in}, nil
}

func (t policyDocumentType) ValueFromTerraform(ctx context.Context, in tftypes.Value) (attr.Value, error) {
	v, err := t.StringType.ValueFromTerraform(ctx, in)
	if err != nil {
		return nil, err
	}
	s, ok := v.(basetypes.StringValue)
	if !ok {
		return nil, fmt.Errorf("unexpected value type %T for a policy document", v)
	}
	return policyDocument{StringValue: s}, nil
}

// policyDocument is a value of policyDocumentType.
type policyDocument struct {
	basetypes.StringValue
}

var _ basetypes.StringValuableWithSemanticEquals = policyDocument{}

func (policyDocument) Type(context.Context) attr.Type {
	return policyDocumentType{}
}

func (v policyDocument) Equal(o attr.Value) bool {
	other, ok := o.(policyDocument)
	return ok && v.StringValue.Equal(other.StringValue)
}

// StringSemanticEquals reports whether v means the same as prior. A
// document that does not parse equals nothing but itself.
func (v policyDocument) StringSemanticEquals(_ context.Context, prior basetypes.StringValuable) (bool, diag.Diagnostics) {
	p, ok := prior.(policyDocument)
	if !ok || v.IsNull() || v.IsUnknown() || p.IsNull() || p.IsUnknown() {
		return false, nil
	}
	if v.ValueString() == p.ValueString() {
		return true, nil
	}
	equal, err := awspolicy.Equal(v.ValueString(), p.ValueString())
	return err == nil && equal, nil
}

func policyDocumentValue(doc string) policyDocument {
	return policyDocument{StringValue: basetypes.NewStringValue(doc)}
}

func policyDocumentUnknown() policyDocument {
	return policyDocument{StringValue: basetypes.NewStringUnknown()}
}

// policyDocumentFromIAM is a document as IAM returns it, in canonical form
// (awspolicy.Canonical), or as it is when it does not parse.
func policyDocumentFromIAM(doc string) policyDocument {
	if canonical, err := awspolicy.Canonical(doc); err == nil {
		doc = canonical
	}
	return policyDocumentValue(doc)
}

// orEqualPrior is prior when v means the same, else v: a planned document
// that only differs from the prior state in form plans no change.
func (v policyDocument) orEqualPrior(ctx context.Context, prior policyDocument) policyDocument {
	if equal, _ := v.StringSemanticEquals(ctx, prior); equal {
		return prior
	}
	return v
}
