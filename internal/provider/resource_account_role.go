package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
)

var (
	_ resource.ResourceWithConfigure   = (*accountRoleResource)(nil)
	_ resource.ResourceWithImportState = (*accountRoleResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*accountRoleResource)(nil)
	_ roleHooks[accountRoleModel]      = (*accountRoleResource)(nil)
)

var (
	accountIDPattern   = regexp.MustCompile(`^\d{12}$`)
	accountRootPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}):root$`)
)

// NewAccountRoleResource returns the airflowiam_account_role resource.
func NewAccountRoleResource() resource.Resource {
	r := &accountRoleResource{}
	r.roleBlock = roleBlock[accountRoleModel, *accountRoleModel]{typeName: "airflowiam_account_role", hooks: r}
	return r
}

type accountRoleResource struct {
	roleBlock[accountRoleModel, *accountRoleModel]
}

type accountRoleModel struct {
	roleModel
	TrustedAccountID types.String `tfsdk:"trusted_account_id"`
}

func (r *accountRoleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_account_role"
}

func (r *accountRoleResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "An AWS IAM role that principals of another AWS account assume with `sts:AssumeRole`.\n\n" + roleAuthoritativeNote,
		Attributes: roleAttributes(map[string]schema.Attribute{
			"trusted_account_id": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "The 12-digit ID of the AWS account whose principals may assume the role.",
				Validators:          []validator.String{stringvalidator.RegexMatches(accountIDPattern, "must be a 12-digit AWS account ID")},
			},
		}),
	}
}

func (r *accountRoleResource) trustPolicy(m *accountRoleModel) (string, bool) {
	if m.TrustedAccountID.IsUnknown() {
		return "", false
	}
	return (&awsiam.PolicyDocument{Version: "2012-10-17", Statements: []awsiam.Statement{{
		Effect:    "Allow",
		Principal: map[string][]string{"AWS": {accountRootARN(m.TrustedAccountID.ValueString())}},
		Action:    []string{"sts:AssumeRole"},
	}}}).JSON(), true
}

func (r *accountRoleResource) planArguments(context.Context, resource.ModifyPlanRequest, *accountRoleModel, *accountRoleModel, *diag.Diagnostics) {
}

// readArguments reads the trusted account back from the trust policy after
// an import.
func (r *accountRoleResource) readArguments(m *accountRoleModel, role *awsiam.Role, _ string) {
	p, err := awsiam.ParsePolicy(role.TrustPolicy)
	if !m.TrustedAccountID.IsNull() || err != nil {
		return
	}
	for _, st := range p.Statements {
		for _, principal := range st.Principal["AWS"] {
			if match := accountRootPattern.FindStringSubmatch(principal); match != nil && slices.Contains(st.Action, "sts:AssumeRole") {
				m.TrustedAccountID = types.StringValue(match[1])
			}
		}
	}
}

func accountRootARN(accountID string) string {
	return fmt.Sprintf("arn:aws:iam::%s:root", accountID)
}
