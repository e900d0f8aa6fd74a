package provider

import (
	"context"
	"fmt"
	"maps"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
)

// The role block: what every role-shaped resource (an AWS IAM role whose
// trust policy the resource derives from its own arguments) has in common.
// Such a resource
//
//   - embeds roleModel in its model and adds its own fields,
//   - builds its schema with roleAttributes, passing its own attributes,
//   - embeds roleBlock, which supplies Configure, ModifyPlan, Create, Read,
//     Update, Delete and ImportState, and
//   - implements roleHooks: the trust policy its arguments ask for, how it
//     plans its own attributes, and how it reads them back from the role.
//
// The resource's own file then holds its constructor, model, Metadata,
// Schema and the hooks; see resource_web_identity_role.go.

// roleAuthoritativeNote ends the description of every role-shaped resource.
const roleAuthoritativeNote = "`managed_policy_arns`, `inline_policies` and `tags` are authoritative: what is attached out of band is removed on the next apply."

// roleModel is the part of the model that every IAM role has.
type roleModel struct {
	ID                  types.String   `tfsdk:"id"`
	Name                types.String   `tfsdk:"name"`
	Path                types.String   `tfsdk:"path"`
	Description         types.String   `tfsdk:"description"`
	MaxSessionDuration  types.Int64    `tfsdk:"max_session_duration"`
	PermissionsBoundary types.String   `tfsdk:"permissions_boundary"`
	ManagedPolicyARNs   types.Set      `tfsdk:"managed_policy_arns"`
	InlinePolicies      types.Map      `tfsdk:"inline_policies"` // of policyDocument
	Tags                types.Map      `tfsdk:"tags"`
	ARN                 types.String   `tfsdk:"arn"`
	UniqueID            types.String   `tfsdk:"unique_id"`
	TrustPolicy         policyDocument `tfsdk:"trust_policy"`
}

// roleFields gives the role block the common part of a model that embeds
// roleModel.
func (m *roleModel) roleFields() *roleModel { return m }

// roleModelPointer is *M for a model M that embeds roleModel.
type roleModelPointer[M any] interface {
	*M
	roleFields() *roleModel
}

// roleHooks is what a role-shaped resource with model M adds to the block.
type roleHooks[M any] interface {
	// trustPolicy is the trust policy that m's arguments ask for; known is
	// false while one of them is unknown.
	trustPolicy(m *M) (doc string, known bool)
	// planArguments plans the resource's own attributes, before the trust
	// policy is planned from them. state is the zero model on create.
	planArguments(ctx context.Context, req resource.ModifyPlanRequest, plan, state *M, diags *diag.Diagnostics)
	// readArguments sets the resource's own attributes from the role as IAM
	// reports it. After an import, m holds only the role's common part.
	readArguments(m *M, role *awsiam.Role, region string)
}

// roleAttributes returns the schema attributes every role has, plus own,
// the resource's own attributes.
func roleAttributes(own map[string]schema.Attribute) map[string]schema.Attribute {
	useState := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	attrs := map[string]schema.Attribute{
		"id": schema.StringAttribute{
			Computed:            true,
			MarkdownDescription: "The role name.",
			PlanModifiers:       useState,
		},
		"name": schema.StringAttribute{
			Required:            true,
			MarkdownDescription: "Role name: 1 to 64 letters, digits and `+=,.@_-`. Changing it replaces the role.",
			PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			Validators: []validator.String{stringvalidator.RegexMatches(roleNamePattern,
				"must be 1 to 64 letters, digits and +=,.@_- (IAM's role name rule)")},
		},
		"path": schema.StringAttribute{
			Optional:            true,
			Computed:            true,
			Default:             stringdefault.StaticString("/"),
			MarkdownDescription: "Role path, `/` (the default) or `/something/`. Changing it replaces the role.",
			PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			Validators: []validator.String{
				stringvalidator.LengthAtMost(512),
				stringvalidator.RegexMatches(rolePathPattern, "must be / or begin and end with /, like /airflow/"),
			},
		},
		"description": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "Role description, 1 to 1000 characters.",
			Validators:          []validator.String{stringvalidator.LengthBetween(1, 1000)},
		},
		"max_session_duration": schema.Int64Attribute{
			Optional:            true,
			Computed:            true,
			Default:             int64default.StaticInt64(minSessionDuration),
			MarkdownDescription: fmt.Sprintf("Maximum session duration in seconds, from %d (the default) to %d.", minSessionDuration, maxSessionDuration),
			Validators:          []validator.Int64{int64validator.Between(minSessionDuration, maxSessionDuration)},
		},
		"permissions_boundary": schema.StringAttribute{
			Optional:            true,
			MarkdownDescription: "ARN of the managed policy used as the role's permissions boundary.",
			Validators: []validator.String{stringvalidator.RegexMatches(policyARNPattern,
				"must be an IAM policy ARN, such as arn:aws:iam::123456789012:policy/boundary")},
		},
		"managed_policy_arns": schema.SetAttribute{
			ElementType:         types.StringType,
			Optional:            true,
			Computed:            true,
			Default:             setdefault.StaticValue(types.SetValueMust(types.StringType, nil)),
			MarkdownDescription: "ARNs of the managed policies attached to the role, exclusively: others are detached. Default: none.",
			Validators: []validator.Set{setvalidator.ValueStringsAre(stringvalidator.RegexMatches(policyARNPattern,
				"must be an IAM policy ARN, such as arn:aws:iam::aws:policy/ReadOnlyAccess"))},
		},
		"inline_policies": schema.MapAttribute{
			ElementType:         policyDocumentType{},
			Optional:            true,
			Computed:            true,
			Default:             mapdefault.StaticValue(types.MapValueMust(policyDocumentType{}, nil)),
			MarkdownDescription: "Inline policies, name to JSON document, exclusively: others are deleted. Documents are compared semantically. Default: none.",
			Validators:          []validator.Map{mapvalidator.ValueStringsAre(policyDocumentValidator{})},
			PlanModifiers:       []planmodifier.Map{semanticEqualityMapPlan{}},
		},
		"tags": schema.MapAttribute{
			ElementType: types.StringType,
			Optional:    true,
			Computed:    true,
			Default:     mapdefault.StaticValue(types.MapValueMust(types.StringType, nil)),
			MarkdownDescription: "Tags on the role, exclusively. Default: none. While the role is being created it also carries " +
				"the tag `" + awsiam.CreateTokenTag + "` with a random value of that one create: when the AWS SDK sends CreateRole " +
				"again after a lost answer and IAM says the role exists, a role with this create's value, trust policy and path is " +
				"this create's own and is finished, not reported as a conflict. The tag is removed when the create finishes and is " +
				"never shown here; a role that still carries it was left by a create that did not finish (for example a killed " +
				"apply), and the next create says so and how to import it. At most 49 tags leave room for it; with 50 the role is " +
				"created without it.",
		},
		"arn": schema.StringAttribute{
			Computed:            true,
			MarkdownDescription: "The role's ARN.",
			PlanModifiers:       useState,
		},
		"unique_id": schema.StringAttribute{
			Computed:            true,
			MarkdownDescription: "The role's stable unique ID (`AROA...`).",
			PlanModifiers:       useState,
		},
		"trust_policy": schema.StringAttribute{
			CustomType:          policyDocumentType{},
			Computed:            true,
			MarkdownDescription: "The role's trust policy as canonical JSON. A trust policy changed out of band shows as a change to this attribute in the next plan, and apply restores it.",
		},
	}
	for name := range own {
		if _, ok := attrs[name]; ok {
			panic(fmt.Sprintf("role-shaped resource redefines the role attribute %q", name))
		}
	}
	maps.Copy(attrs, own)
	return attrs
}

// spec is what the role should be, with the given trust policy.
func (m *roleModel) spec(ctx context.Context, trustPolicy string) (awsiam.RoleSpec, diag.Diagnostics) {
	var diags diag.Diagnostics
	spec := awsiam.RoleSpec{
		Name:                m.Name.ValueString(),
		Path:                m.Path.ValueString(),
		Description:         m.Description.ValueString(),
		TrustPolicy:         trustPolicy,
		MaxSessionDuration:  int32(m.MaxSessionDuration.ValueInt64()), //nolint:gosec // validated to 3600..43200
		PermissionsBoundary: m.PermissionsBoundary.ValueString(),
	}
	diags.Append(m.ManagedPolicyARNs.ElementsAs(ctx, &spec.ManagedPolicyARNs, false)...)
	diags.Append(m.InlinePolicies.ElementsAs(ctx, &spec.InlinePolicies, false)...)
	diags.Append(m.Tags.ElementsAs(ctx, &spec.Tags, false)...)
	return spec, diags
}

// readRole copies what IAM reports into m. Documents are kept in canonical
// form; the framework's semantic equality (policyDocumentType) then keeps
// the planned or prior form of those that mean the same.
func (m *roleModel) readRole(ctx context.Context, role *awsiam.Role) diag.Diagnostics {
	var diags diag.Diagnostics
	m.ID = types.StringValue(role.Name)
	m.Name = types.StringValue(role.Name)
	m.Path = types.StringValue(role.Path)
	m.Description = stringOrNull(role.Description)
	m.MaxSessionDuration = types.Int64Value(int64(role.MaxSessionDuration))
	m.PermissionsBoundary = stringOrNull(role.PermissionsBoundary)
	m.ARN = types.StringValue(role.ARN)
	m.UniqueID = types.StringValue(role.RoleID)
	m.TrustPolicy = policyDocumentFromIAM(role.TrustPolicy)

	// An empty list, not null: the attribute defaults to the empty set.
	managed, d := types.SetValueFrom(ctx, types.StringType, append([]string{}, role.ManagedPolicyARNs...))
	diags.Append(d...)
	m.ManagedPolicyARNs = managed

	inline := make(map[string]attr.Value, len(role.InlinePolicies))
	for name, doc := range role.InlinePolicies {
		inline[name] = policyDocumentFromIAM(doc)
	}
	inlineValue, d := types.MapValue(policyDocumentType{}, inline)
	diags.Append(d...)
	m.InlinePolicies = inlineValue

	tags, d := types.MapValueFrom(ctx, types.StringType, role.Tags)
	diags.Append(d...)
	m.Tags = tags
	return diags
}

// roleBlock implements the Terraform operations of a role-shaped resource
// with model M. The resource embeds it and sets typeName and hooks in its
// constructor.
type roleBlock[M any, P roleModelPointer[M]] struct {
	typeName string // the full resource type name, for messages
	hooks    roleHooks[M]
	data     *providerData
}

func (b *roleBlock[M, P]) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	b.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan plans the resource's own attributes, then the trust policy
// from them: the prior state's when it means the same.
func (b *roleBlock[M, P]) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var plan, state M
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	b.hooks.planArguments(ctx, req, &plan, &state, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	planned := policyDocumentUnknown()
	if doc, known := b.hooks.trustPolicy(&plan); known {
		planned = policyDocumentValue(doc).orEqualPrior(ctx, P(&state).roleFields().TrustPolicy)
	}
	P(&plan).roleFields().TrustPolicy = planned
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (b *roleBlock[M, P]) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	client := awsClientFrom(b.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var plan M
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	spec := b.spec(ctx, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	tflog.Debug(ctx, "creating IAM role", map[string]any{"name": spec.Name})
	role, err := client.CreateRole(ctx, spec)
	if awsiam.IsAlreadyExists(err) {
		why := "An IAM role named %q already exists, so it was not created."
		if existing, gerr := client.GetRole(ctx, spec.Name); gerr == nil && existing.CreateToken != "" {
			// The tag is removed when a create finishes: this one did not.
			why = "An IAM role named %q already exists, left by an earlier create of this provider that did not finish (it " +
				"still carries the tag " + awsiam.CreateTokenTag + "), so it was not created again."
		}
		resp.Diagnostics.AddAttributeError(path.Root("name"), "IAM Role Already Exists",
			fmt.Sprintf(why+" To manage it with Terraform, import it: "+
				"`terraform import %s.NAME %s`, or choose another name.\n\nAWS said: %s", spec.Name, b.typeName, spec.Name, err))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Error Creating IAM Role", fmt.Sprintf("Could not create IAM role %q: %s", spec.Name, awsErrorDetail(err)))
		return
	}
	b.setState(ctx, &plan, role, client.Region, &resp.State, &resp.Diagnostics)
}

func (b *roleBlock[M, P]) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	client := awsClientFrom(b.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var state M
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := P(&state).roleFields().ID.ValueString()
	role, err := client.GetRole(ctx, name)
	if awsiam.IsNotFound(err) {
		tflog.Warn(ctx, "IAM role no longer exists; removing it from state", map[string]any{"name": name})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Error Reading IAM Role", fmt.Sprintf("Could not read IAM role %q: %s", name, awsErrorDetail(err)))
		return
	}
	b.setState(ctx, &state, role, client.Region, &resp.State, &resp.Diagnostics)
}

func (b *roleBlock[M, P]) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	client := awsClientFrom(b.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var plan M
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	spec := b.spec(ctx, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	current, err := client.GetRole(ctx, spec.Name)
	if err != nil {
		resp.Diagnostics.AddError("Error Updating IAM Role", fmt.Sprintf("Could not read IAM role %q before updating it: %s", spec.Name, awsErrorDetail(err)))
		return
	}
	role, err := client.UpdateRole(ctx, current, spec)
	if err != nil {
		resp.Diagnostics.AddError("Error Updating IAM Role", fmt.Sprintf("Could not update IAM role %q: %s", spec.Name, awsErrorDetail(err)))
		return
	}
	b.setState(ctx, &plan, role, client.Region, &resp.State, &resp.Diagnostics)
}

func (b *roleBlock[M, P]) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	client := awsClientFrom(b.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var state M
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := P(&state).roleFields().ID.ValueString()
	if err := client.DeleteRole(ctx, name); err != nil {
		resp.Diagnostics.AddError("Error Deleting IAM Role", fmt.Sprintf("Could not delete IAM role %q: %s", name, awsErrorDetail(err)))
	}
}

// ImportState takes a role name; Read fills in the rest, the resource's
// own arguments through readArguments.
func (b *roleBlock[M, P]) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if !roleNamePattern.MatchString(req.ID) {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("%q is not an IAM role name: expected 1 to 64 letters, digits and +=,.@_-.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), req.ID)...)
}

// spec is what the role in m should be.
func (b *roleBlock[M, P]) spec(ctx context.Context, m *M, diags *diag.Diagnostics) awsiam.RoleSpec {
	trustPolicy, _ := b.hooks.trustPolicy(m) // every argument is known at apply
	spec, d := P(m).roleFields().spec(ctx, trustPolicy)
	diags.Append(d...)
	return spec
}

// setState reads role into m, which holds the plan or the prior state, and
// stores m.
func (b *roleBlock[M, P]) setState(ctx context.Context, m *M, role *awsiam.Role, region string, state *tfsdk.State, diags *diag.Diagnostics) {
	diags.Append(P(m).roleFields().readRole(ctx, role)...)
	b.hooks.readArguments(m, role, region)
	diags.Append(state.Set(ctx, m)...)
}
