package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	iam "google.golang.org/api/iam/v1"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

var (
	_ resource.Resource                   = (*impersonationChainResource)(nil)
	_ resource.ResourceWithConfigure      = (*impersonationChainResource)(nil)
	_ resource.ResourceWithImportState    = (*impersonationChainResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*impersonationChainResource)(nil)
	_ resource.ResourceWithValidateConfig = (*impersonationChainResource)(nil)
)

// sourceMemberPattern accepts the IAM members a chain may start from, or a
// bare service-account email.
var sourceMemberPattern = regexp.MustCompile(`^(` +
	`(serviceAccount|user|group):[^\s:]+@[^\s:]+` +
	`|serviceAccount:[a-z0-9.:-]+\.svc\.id\.goog\[[a-z0-9.-]+/[a-z0-9.-]+\]` +
	`|principal(Set)?://\S+` +
	`|` + strings.TrimSuffix(strings.TrimPrefix(googleSAEmailPattern.String(), "^"), "$") +
	`)$`)

// chainDelegatesReference is Google's page on the delegates of IAM
// Credentials calls: every delegate needs Token Creator on the next account.
const chainDelegatesReference = "https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateIdToken"

const sourceRule = "an IAM member (serviceAccount:EMAIL, user:EMAIL, group:EMAIL, principal://..., principalSet://...) or a bare service-account email"

// NewImpersonationChainResource returns the airflowiam_impersonation_chain resource.
func NewImpersonationChainResource() resource.Resource {
	return &impersonationChainResource{}
}

type impersonationChainResource struct {
	data *providerData
	// chainHops lists the grants a chain asks for: gcpiam.ChainHops when
	// nil. Tests set it to stand in for an older provider's rule.
	chainHops func(source string, chain []string, role string) []gcpiam.Hop
}

type impersonationChainModel struct {
	ID                        types.String `tfsdk:"id"`
	Source                    types.String `tfsdk:"source"`
	Chain                     types.List   `tfsdk:"chain"`
	Role                      types.String `tfsdk:"role"`
	TargetServiceAccount      types.String `tfsdk:"target_service_account"`
	Delegates                 types.List   `tfsdk:"delegates"`
	AirflowImpersonationChain types.List   `tfsdk:"airflow_impersonation_chain"`
	AirflowConnectionExtra    types.String `tfsdk:"airflow_connection_extra"`
	Hops                      types.List   `tfsdk:"hops"`
}

type hopModel struct {
	Grantee        types.String `tfsdk:"grantee"`
	ServiceAccount types.String `tfsdk:"service_account"`
	Role           types.String `tfsdk:"role"`
	PreExisting    types.Bool   `tfsdk:"pre_existing"`
}

var hopAttrTypes = map[string]attr.Type{
	"grantee":         types.StringType,
	"service_account": types.StringType,
	"role":            types.StringType,
	"pre_existing":    types.BoolType,
}

var hopType = types.ObjectType{AttrTypes: hopAttrTypes}

func (r *impersonationChainResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_impersonation_chain"
}

func (r *impersonationChainResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lets `source` impersonate the last service account of `chain` through the others, as Airflow's " +
			"Google operators do with `impersonation_chain`: `source` is granted a role on `chain[0]`, `chain[0]` on `chain[1]`, " +
			"and so on. Each grant is one member added to one binding of the account's IAM policy, by an etag-guarded " +
			"read-modify-write: bindings and members owned by others are never touched, and a grant that existed before " +
			"this resource is left in place on destroy.\n\n" +
			"Which role each hop gets: with `role = \"" + gcpiam.RoleTokenCreator + "\"` (the default), every hop is Token " +
			"Creator. With `role = \"" + gcpiam.RoleOpenIDTokenCreator + "\"`, only the last hop, the grant on the target, is " +
			"OpenID Token Creator, and every earlier hop is Token Creator: Google's IAM Credentials reference (the `delegates` " +
			"field of [generateIdToken](" + chainDelegatesReference + ") and generateAccessToken) requires every account of a " +
			"delegation chain to hold `" + gcpiam.RoleTokenCreator + "` (permission `iam.serviceAccounts.implicitDelegation`) on " +
			"the next one, so a delegate granted only OpenID Token Creator breaks the chain. `hops` shows the role of each grant.\n\n" +
			"A grant removed outside Terraform shows in the next plan as a change to `hops`, and apply restores it. State written " +
			"by earlier versions, which granted OpenID Token Creator on every hop, plans a change to `hops` too: apply grants Token " +
			"Creator on the delegates and then revokes the OpenID Token Creator grants this resource made there (a grant recorded " +
			"as `pre_existing` is never revoked).\n\n" +
			"Import with the ID `SOURCE CHAIN ROLE`: the source member, the chain's emails joined by commas, and the role " +
			"(optional, default `" + gcpiam.RoleTokenCreator + "`), separated by single spaces.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`SOURCE CHAIN ROLE`: the source as configured, the chain joined by commas, and the role.",
			},
			"source": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Who starts the chain: usually the Airflow workers' service account. " +
					"Either " + sourceRule + ".",
				Validators: []validator.String{stringvalidator.RegexMatches(sourceMemberPattern, "must be "+sourceRule)},
			},
			"chain": schema.ListAttribute{
				ElementType: types.StringType,
				Required:    true,
				MarkdownDescription: "Service-account emails in order: the delegates, then the target last. At least one, " +
					"no duplicates, and not the source. This is the `impersonation_chain` Airflow's operators take.",
				Validators: []validator.List{
					listvalidator.SizeAtLeast(1),
					listvalidator.UniqueValues(),
					listvalidator.ValueStringsAre(serviceAccountEmailValidator()),
				},
			},
			"role": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(gcpiam.RoleTokenCreator),
				MarkdownDescription: "The role the chain grants, one of " + quotedList(gcpiam.ChainRoles) + ". Default `" +
					gcpiam.RoleTokenCreator + "` (access and ID tokens, as Airflow's Google operators need), granted on every hop. `" +
					gcpiam.RoleOpenIDTokenCreator + "` allows ID tokens only, the least privilege for AWS federation; it is granted " +
					"on the target only (the last hop), and every earlier hop still gets `" + gcpiam.RoleTokenCreator + "`, because " +
					"Google requires Token Creator (`iam.serviceAccounts.implicitDelegation`) from each account of a delegation " +
					"chain on the next ([IAM Credentials reference, `delegates`](" + chainDelegatesReference + ")). With a single " +
					"account in `chain` there are no delegates, and the one hop gets `role`.",
				Validators: []validator.String{stringvalidator.OneOf(gcpiam.ChainRoles...)},
			},
			"target_service_account": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The last service account of `chain`: the identity Airflow's tasks end up acting as.",
			},
			"delegates": schema.ListAttribute{
				ElementType:         types.StringType,
				Computed:            true,
				MarkdownDescription: "`chain` without its target: the `delegates` of IAM Credentials calls.",
			},
			"airflow_impersonation_chain": schema.ListAttribute{
				ElementType:         types.StringType,
				Computed:            true,
				MarkdownDescription: "The list to pass as `impersonation_chain` to Airflow's Google operators and hooks: `chain`, in order.",
			},
			"airflow_connection_extra": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "The extra of an Airflow Google connection (`google_cloud_platform`) that applies the chain: " +
					"`impersonation_chain` as the comma-separated string Airflow reads from extras. Pass it to " +
					"`airflowiam_connection.extra`, merged with `project` if needed.",
			},
			"hops": schema.ListNestedAttribute{
				Computed: true,
				MarkdownDescription: "The grants that are in place, in chain order: `source` on `chain[0]`, then each account " +
					"on the next. Every hop's role is `role`, except that with `" + gcpiam.RoleOpenIDTokenCreator + "` the hops " +
					"before the last (the grants on the delegates) hold `" +
					gcpiam.RoleTokenCreator + "`, as Google requires of delegation chains; see `role`. A grant removed outside " +
					"Terraform is missing here after refresh, and the next plan adds it back. A grant this resource made that the " +
					"arguments no longer ask for (after a change of `role` or `chain`, or one made by an earlier version on a " +
					"delegate) stays listed until the next apply, which revokes it unless it is `pre_existing`.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"grantee":         schema.StringAttribute{Computed: true, MarkdownDescription: "The IAM member granted the role."},
						"service_account": schema.StringAttribute{Computed: true, MarkdownDescription: "The service account whose IAM policy holds the grant."},
						"role": schema.StringAttribute{
							Computed: true,
							MarkdownDescription: "The role granted: `" + gcpiam.RoleTokenCreator + "` on every hop but the last, and `role` " +
								"on the last (the target).",
						},
						"pre_existing": schema.BoolAttribute{
							Computed: true,
							MarkdownDescription: "Whether the grant existed before this resource made it, or was found in place " +
								"without this resource having made it (for example Token Creator granted by hand on a delegate). " +
								"Such a grant is left in place when the hop or the resource is removed. Grants found on import are " +
								"managed from then on (`false`). For a new hop it is decided during plan, from the IAM policy read " +
								"then, and apply keeps that decision: a grant the plan found absent is this resource's own even when " +
								"its write is repeated after a lost answer. A grant the plan found in place but apply finds removed " +
								"fails the apply (it is taken back again), and the next plan decides anew. When an apply fails " +
								"after such a write, the grant is taken back. A grant written just before the provider is killed, " +
								"before Terraform records it, is found by the next plan as `pre_existing = true` and would be left " +
								"on destroy: remove it by hand before the next apply, which then makes it again as its own.",
						},
					},
				},
			},
		},
	}
}

func (r *impersonationChainResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig rejects a source that is also in the chain.
func (r *impersonationChainResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg impersonationChainModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() || cfg.Source.IsUnknown() || cfg.Source.IsNull() || cfg.Chain.IsUnknown() || cfg.Chain.IsNull() {
		return
	}
	source := gcpiam.SourceMember(cfg.Source.ValueString())
	for i, v := range cfg.Chain.Elements() {
		s, ok := v.(types.String)
		if !ok || s.IsUnknown() || s.IsNull() {
			continue
		}
		if gcpiam.SameMember(source, "serviceAccount:"+s.ValueString()) {
			resp.Diagnostics.AddAttributeError(path.Root("chain").AtListIndex(i), "Source Inside Chain",
				fmt.Sprintf("chain[%d] is %s, which is the source. The chain lists the accounts the source impersonates, "+
					"in order; the source itself is not one of them.", i, s.ValueString()))
		}
	}
}

// ModifyPlan plans the computed attributes from the arguments: the hops that
// should exist (keeping what the refreshed state knows of each), and the
// Airflow forms of the chain.
func (r *impersonationChainResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var plan, state impersonationChainModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	chain, known := knownStrings(ctx, plan.Chain, &resp.Diagnostics)
	if !known || plan.Source.IsUnknown() || plan.Role.IsUnknown() {
		plan.ID = types.StringUnknown()
		plan.TargetServiceAccount = types.StringUnknown()
		plan.Delegates = types.ListUnknown(types.StringType)
		plan.AirflowImpersonationChain = types.ListUnknown(types.StringType)
		plan.AirflowConnectionExtra = types.StringUnknown()
		plan.Hops = types.ListUnknown(hopType)
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	resp.Diagnostics.Append(plan.derive(ctx, chain)...)

	prior := state.hopModels(ctx, &resp.Diagnostics)
	desired := r.desiredHops(plan.Source.ValueString(), chain, plan.Role.ValueString())
	planned := make([]hopModel, len(desired))
	policies := newPlanPolicies(r.data)
	for i, h := range desired {
		planned[i] = newHopModel(h, types.BoolUnknown())
		if p, ok := findHop(prior, h); ok {
			planned[i].PreExisting = p.PreExisting
		} else {
			// A new hop: pre_existing is decided now, from the policy as
			// it is at plan time, and apply keeps that decision.
			planned[i].PreExisting = policies.holds(ctx, h, &resp.Diagnostics)
		}
	}
	plan.Hops = hopList(ctx, planned, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *impersonationChainResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	client := googleClientFrom(r.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var plan impersonationChainModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	chain, _ := knownStrings(ctx, plan.Chain, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	desired := r.desiredHops(plan.Source.ValueString(), chain, plan.Role.ValueString())
	done, ok := r.grant(ctx, client, desired, nil, plan.hopModels(ctx, &resp.Diagnostics), &resp.Diagnostics)
	if !ok {
		// Nothing half-written: take back the grants this apply made.
		r.revoke(ctx, client, done, &resp.Diagnostics)
		return
	}
	resp.Diagnostics.Append(plan.derive(ctx, chain)...)
	plan.Hops = hopList(ctx, done, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *impersonationChainResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	client := googleClientFrom(r.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var state impersonationChainModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	chain, _ := knownStrings(ctx, state.Chain, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	// Look for the hops the arguments ask for and for any the state still
	// records (a failed update may have left some behind).
	prior := state.hopModels(ctx, &resp.Diagnostics)
	candidates := r.desiredHops(state.Source.ValueString(), chain, state.Role.ValueString())
	for _, p := range prior {
		if h := p.hop(); !containsHop(candidates, h) {
			candidates = append(candidates, h)
		}
	}

	policies := map[string]*policyLookup{}
	var present []hopModel
	for _, h := range candidates {
		key := strings.ToLower(h.ServiceAccount)
		lookup, ok := policies[key]
		if !ok {
			lookup = &policyLookup{}
			lookup.policy, lookup.err = client.Policy(ctx, h.ServiceAccount)
			policies[key] = lookup
			if gcpiam.IsNotFound(lookup.err) {
				resp.Diagnostics.AddWarning("Service Account Not Found",
					fmt.Sprintf("Service account %s no longer exists, so the grant of %s to %s on it is gone. The next apply "+
						"will fail until the account exists again or is removed from chain.", h.ServiceAccount, h.Role, h.Grantee))
			}
		}
		if gcpiam.IsNotFound(lookup.err) {
			continue
		}
		if lookup.err != nil {
			resp.Diagnostics.AddError("Error Reading IAM Policy",
				fmt.Sprintf("Could not read the IAM policy of service account %s: %s", h.ServiceAccount, googleErrorDetail(lookup.err)))
			return
		}
		if !gcpiam.PolicyHasMember(lookup.policy, h.Role, h.Grantee) {
			tflog.Info(ctx, "impersonation hop missing", map[string]any{"grantee": h.Grantee, "service_account": h.ServiceAccount, "role": h.Role})
			continue
		}
		// The state records every grant this resource makes, so a grant it
		// finds but does not record belongs to someone else: for example
		// Token Creator on a delegate, granted by hand, where an older
		// version of this resource granted OpenID Token Creator. It is kept
		// on destroy. After import nothing is recorded yet (hops is null),
		// and the grants found are managed from now on.
		pre := types.BoolValue(!state.Hops.IsNull())
		if p, ok := findHop(prior, h); ok && !p.PreExisting.IsUnknown() && !p.PreExisting.IsNull() {
			pre = p.PreExisting
		}
		present = append(present, newHopModel(h, pre))
	}
	resp.Diagnostics.Append(state.derive(ctx, chain)...)
	state.Hops = hopList(ctx, present, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *impersonationChainResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	client := googleClientFrom(r.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var plan, state impersonationChainModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	chain, _ := knownStrings(ctx, plan.Chain, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	prior := state.hopModels(ctx, &resp.Diagnostics)
	desired := r.desiredHops(plan.Source.ValueString(), chain, plan.Role.ValueString())

	// Grant first, then revoke, so that a path that exists before and after
	// the change never breaks in between.
	granted, ok := r.grant(ctx, client, desired, prior, plan.hopModels(ctx, &resp.Diagnostics), &resp.Diagnostics)
	var stale []hopModel
	for _, p := range prior {
		if !containsHop(desired, p.hop()) {
			stale = append(stale, p)
		}
	}
	if !ok {
		// Record what is in place now, under the old arguments: the next
		// refresh checks these hops and the next plan retries.
		state.Hops = hopList(ctx, mergeHops(prior, granted), &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
		return
	}
	left := r.revoke(ctx, client, stale, &resp.Diagnostics)
	resp.Diagnostics.Append(plan.derive(ctx, chain)...)
	plan.Hops = hopList(ctx, mergeHops(granted, left), &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *impersonationChainResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	client := googleClientFrom(r.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var state impersonationChainModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	left := r.revoke(ctx, client, state.hopModels(ctx, &resp.Diagnostics), &resp.Diagnostics)
	if len(left) > 0 {
		// Keep the resource, with what is still granted, so a retry finishes.
		state.Hops = hopList(ctx, left, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	}
}

// ImportState takes `SOURCE CHAIN [ROLE]`.
func (r *impersonationChainResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	source, chain, role, err := parseChainID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("%q is not an impersonation chain ID: %s. Expected `SOURCE CHAIN ROLE`, "+
			"for example `serviceAccount:worker@p.iam.gserviceaccount.com d1@p.iam.gserviceaccount.com,target@q.iam.gserviceaccount.com %s` "+
			"(the role may be left out; it defaults to %s).", req.ID, err, gcpiam.RoleTokenCreator, gcpiam.RoleTokenCreator))
		return
	}
	chainValue, diags := types.ListValueFrom(ctx, types.StringType, chain)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("source"), source)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("chain"), chainValue)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("role"), role)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("hops"), types.ListNull(hopType))...)
}

// grant makes each desired hop that prior does not hold. It returns every
// desired hop it saw through (prior ones with their pre_existing, new ones
// with pre_existing as planned; see grantAsPlanned), and false after the
// first failure, which it reports. A failed hop that the plan found absent
// is returned too, as this resource's own: its write may have landed
// without its answer, and the caller revokes it (Create) or records it for
// the next refresh to check (Update).
func (r *impersonationChainResource) grant(ctx context.Context, client *gcpiam.Client, desired []gcpiam.Hop, prior, planned []hopModel,
	diags *diag.Diagnostics) ([]hopModel, bool) {
	var done []hopModel
	for i, h := range desired {
		if p, ok := findHop(prior, h); ok {
			done = append(done, p)
			continue
		}
		plannedPre := types.BoolUnknown()
		if p, ok := findHop(planned, h); ok {
			plannedPre = p.PreExisting
		}
		tflog.Debug(ctx, "granting impersonation hop", map[string]any{"grantee": h.Grantee, "service_account": h.ServiceAccount, "role": h.Role})
		pre, err := grantAsPlanned(ctx, client, h, plannedPre)
		if err != nil {
			diags.AddAttributeError(path.Root("chain").AtListIndex(i), "Error Granting Impersonation Hop",
				fmt.Sprintf("Could not grant %s to %s on service account %s (hop %d of the chain): %s",
					h.Role, h.Grantee, h.ServiceAccount, i+1, hopErrorDetail(err, h)))
			if !plannedPre.IsUnknown() && !plannedPre.ValueBool() {
				done = append(done, newHopModel(h, types.BoolValue(false)))
			}
			return done, false
		}
		done = append(done, newHopModel(h, pre))
	}
	return done, true
}

// planPolicies reads IAM policies during plan, once per account, to decide
// pre_existing before anything is written. Without a Google client (the
// block is not known yet) it decides nothing.
type planPolicies struct {
	client *gcpiam.Client
	seen   map[string]*policyLookup
}

func newPlanPolicies(data *providerData) *planPolicies {
	p := &planPolicies{seen: map[string]*policyLookup{}}
	if data != nil {
		p.client = data.google
	}
	return p
}

// holds is whether h's grant is in place now: true or false, or unknown
// when the account does not exist yet or the policy may not be read (apply
// then decides, and reports the error). Any other failure to read is an
// error: terraform apply plans the resource again before applying it, and
// an unknown there, where its first plan decided, is refused by Terraform
// as an inconsistent final plan.
func (p *planPolicies) holds(ctx context.Context, h gcpiam.Hop, diags *diag.Diagnostics) types.Bool {
	if p.client == nil {
		return types.BoolUnknown()
	}
	key := strings.ToLower(h.ServiceAccount)
	lookup, ok := p.seen[key]
	if !ok {
		lookup = &policyLookup{}
		lookup.policy, lookup.err = p.client.PlanPolicy(ctx, h.ServiceAccount)
		p.seen[key] = lookup
	}
	switch {
	case lookup.err == nil:
		return types.BoolValue(gcpiam.PolicyHasMember(lookup.policy, h.Role, h.Grantee))
	case gcpiam.IsNotFound(lookup.err) || gcpiam.IsPermissionDenied(lookup.err):
		tflog.Debug(ctx, "could not read an IAM policy during plan; pre_existing is decided at apply",
			map[string]any{"service_account": h.ServiceAccount, "error": lookup.err.Error()})
		return types.BoolUnknown()
	}
	if !ok {
		diags.AddError("Error Reading IAM Policy",
			fmt.Sprintf("Could not read the IAM policy of service account %s to plan the grant of %s to %s (pre_existing): %s",
				h.ServiceAccount, h.Role, h.Grantee, googleErrorDetail(lookup.err)))
	}
	return types.BoolUnknown()
}

// errGrantVanished is grantAsPlanned's error for a grant that was in place
// at plan time and gone at apply.
var errGrantVanished = errors.New("the grant was in place when the plan was made (pre_existing = true) and was removed before apply")

// grantAsPlanned makes h's grant and returns its pre_existing: the value
// the plan decided from the policy it read, when it read one, so that a
// grant the plan found absent is this resource's own whatever apply finds
// (a write of this apply whose answer was lost, then repeated, finds its
// own grant). Without a planned value, pre_existing is whether the grant
// was there already. A grant planned as pre-existing that apply had to
// make is taken back and errGrantVanished returned: recording it as
// pre-existing would leave this resource's grant behind on destroy, and
// recording it as its own would contradict the plan.
func grantAsPlanned(ctx context.Context, client *gcpiam.Client, h gcpiam.Hop, planned types.Bool) (types.Bool, error) {
	added, err := client.AddMember(ctx, h.ServiceAccount, h.Role, h.Grantee)
	if err != nil {
		return types.BoolUnknown(), err
	}
	switch {
	case planned.IsUnknown() || planned.IsNull():
		return types.BoolValue(!added), nil
	case planned.ValueBool() && added:
		if _, rerr := client.RemoveMember(ctx, h.ServiceAccount, h.Role, h.Grantee); rerr != nil {
			return types.BoolUnknown(), fmt.Errorf("%w; taking back the grant this apply made failed too: %w", errGrantVanished, rerr)
		}
		return types.BoolUnknown(), fmt.Errorf("%w. This apply made it and took it back; run terraform apply again, "+
			"which plans it as this resource's own", errGrantVanished)
	}
	return planned, nil
}

// revoke removes the hops this resource made (not pre-existing ones) and
// returns those it could not remove, reporting why.
func (r *impersonationChainResource) revoke(ctx context.Context, client *gcpiam.Client, hops []hopModel, diags *diag.Diagnostics) []hopModel {
	var left []hopModel
	for _, p := range hops {
		if p.PreExisting.ValueBool() {
			continue
		}
		h := p.hop()
		tflog.Debug(ctx, "revoking impersonation hop", map[string]any{"grantee": h.Grantee, "service_account": h.ServiceAccount, "role": h.Role})
		if _, err := client.RemoveMember(ctx, h.ServiceAccount, h.Role, h.Grantee); err != nil && !gcpiam.IsNotFound(err) {
			diags.AddError("Error Revoking Impersonation Hop",
				fmt.Sprintf("Could not remove %s from %s on service account %s: %s", h.Grantee, h.Role, h.ServiceAccount, googleErrorDetail(err)))
			left = append(left, p)
		}
	}
	return left
}

// desiredHops is the grants source, chain and role ask for.
func (r *impersonationChainResource) desiredHops(source string, chain []string, role string) []gcpiam.Hop {
	if r.chainHops != nil {
		return r.chainHops(source, chain, role)
	}
	return gcpiam.ChainHops(source, chain, role)
}

// hopErrorDetail explains a failed grant.
func hopErrorDetail(err error, h gcpiam.Hop) string {
	if gcpiam.IsNotFound(err) {
		return err.Error() + "\n\nService account " + h.ServiceAccount + " does not exist: create it, or fix the email in chain."
	}
	return googleErrorDetail(err)
}

// derive fills the attributes that follow from source, chain and role.
func (m *impersonationChainModel) derive(ctx context.Context, chain []string) diag.Diagnostics {
	var diags diag.Diagnostics
	m.ID = types.StringValue(chainID(m.Source.ValueString(), chain, m.Role.ValueString()))
	m.TargetServiceAccount = types.StringValue(chain[len(chain)-1])
	delegates, d := types.ListValueFrom(ctx, types.StringType, chain[:len(chain)-1])
	diags.Append(d...)
	m.Delegates = delegates
	airflowChain, d := types.ListValueFrom(ctx, types.StringType, chain)
	diags.Append(d...)
	m.AirflowImpersonationChain = airflowChain
	extra, _ := json.Marshal(map[string]string{"impersonation_chain": strings.Join(chain, ",")}) // strings always encode
	m.AirflowConnectionExtra = types.StringValue(string(extra))
	return diags
}

func (m *impersonationChainModel) hopModels(ctx context.Context, diags *diag.Diagnostics) []hopModel {
	if m.Hops.IsNull() || m.Hops.IsUnknown() {
		return nil
	}
	var hops []hopModel
	diags.Append(m.Hops.ElementsAs(ctx, &hops, false)...)
	return hops
}

func (h hopModel) hop() gcpiam.Hop {
	return gcpiam.Hop{Grantee: h.Grantee.ValueString(), ServiceAccount: h.ServiceAccount.ValueString(), Role: h.Role.ValueString()}
}

func newHopModel(h gcpiam.Hop, preExisting types.Bool) hopModel {
	return hopModel{
		Grantee:        types.StringValue(h.Grantee),
		ServiceAccount: types.StringValue(h.ServiceAccount),
		Role:           types.StringValue(h.Role),
		PreExisting:    preExisting,
	}
}

func hopList(ctx context.Context, hops []hopModel, diags *diag.Diagnostics) types.List {
	if hops == nil {
		hops = []hopModel{}
	}
	v, d := types.ListValueFrom(ctx, hopType, hops)
	diags.Append(d...)
	return v
}

func findHop(hops []hopModel, h gcpiam.Hop) (hopModel, bool) {
	for _, p := range hops {
		if gcpiam.SameHop(p.hop(), h) {
			return p, true
		}
	}
	return hopModel{}, false
}

func containsHop(hops []gcpiam.Hop, h gcpiam.Hop) bool {
	for _, c := range hops {
		if gcpiam.SameHop(c, h) {
			return true
		}
	}
	return false
}

// mergeHops is a followed by the hops of b that a does not hold.
func mergeHops(a, b []hopModel) []hopModel {
	out := append([]hopModel{}, a...)
	for _, h := range b {
		if _, ok := findHop(out, h.hop()); !ok {
			out = append(out, h)
		}
	}
	return out
}

type policyLookup struct {
	policy *iam.Policy
	err    error
}

// chainID is the resource ID: source, chain and role separated by spaces.
func chainID(source string, chain []string, role string) string {
	return source + " " + strings.Join(chain, ",") + " " + role
}

// parseChainID reads `SOURCE CHAIN [ROLE]`.
func parseChainID(id string) (source string, chain []string, role string, err error) {
	parts := strings.Fields(id)
	if len(parts) < 2 || len(parts) > 3 {
		return "", nil, "", fmt.Errorf("it has %d space-separated parts, not 2 or 3", len(parts))
	}
	source, role = parts[0], gcpiam.RoleTokenCreator
	if len(parts) == 3 {
		role = parts[2]
	}
	if !sourceMemberPattern.MatchString(source) {
		return "", nil, "", fmt.Errorf("the source %q is not %s", source, sourceRule)
	}
	chain = strings.Split(parts[1], ",")
	for _, sa := range chain {
		if !googleSAEmailPattern.MatchString(sa) {
			return "", nil, "", fmt.Errorf("%q in the chain is not a service-account email", sa)
		}
	}
	if !slices.Contains(gcpiam.ChainRoles, role) {
		return "", nil, "", fmt.Errorf("the role %q is not one of %s", role, strings.Join(gcpiam.ChainRoles, ", "))
	}
	return source, chain, role, nil
}

// knownStrings reads a list of strings, reporting false when the list or
// any element is not known yet.
func knownStrings(ctx context.Context, l types.List, diags *diag.Diagnostics) ([]string, bool) {
	if l.IsNull() || l.IsUnknown() {
		return nil, false
	}
	for _, e := range l.Elements() {
		if e.IsUnknown() {
			return nil, false
		}
	}
	var out []string
	diags.Append(l.ElementsAs(ctx, &out, false)...)
	return out, len(out) > 0
}
