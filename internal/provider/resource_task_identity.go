package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

var (
	_ resource.Resource                = (*taskIdentityResource)(nil)
	_ resource.ResourceWithConfigure   = (*taskIdentityResource)(nil)
	_ resource.ResourceWithImportState = (*taskIdentityResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*taskIdentityResource)(nil)
)

// gkeServiceAccountAnnotation is the annotation GKE Workload Identity reads
// on a Kubernetes service account.
const gkeServiceAccountAnnotation = "iam.gke.io/gcp-service-account"

var (
	// Kubernetes names: a namespace is a DNS-1123 label, a service account a
	// DNS-1123 subdomain.
	dnsLabelPattern     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubdomainPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// NewTaskIdentityResource returns the airflowiam_task_identity resource.
func NewTaskIdentityResource() resource.Resource {
	return &taskIdentityResource{}
}

type taskIdentityResource struct {
	data *providerData
}

type taskIdentityModel struct {
	ID                          types.String `tfsdk:"id"`
	GoogleServiceAccount        types.String `tfsdk:"google_service_account"`
	WorkloadIdentityPoolProject types.String `tfsdk:"workload_identity_pool_project"`
	Namespace                   types.String `tfsdk:"namespace"`
	KubernetesServiceAccount    types.String `tfsdk:"kubernetes_service_account"`
	Member                      types.String `tfsdk:"member"`
	KubernetesAnnotations       types.Map    `tfsdk:"kubernetes_annotations"`
	ExecutorConfig              types.String `tfsdk:"executor_config"`
	PreExisting                 types.Bool   `tfsdk:"pre_existing"`
}

func (r *taskIdentityResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_task_identity"
}

func (r *taskIdentityResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A KubernetesExecutor task's own Google identity through GKE Workload Identity: grants `" +
			gcpiam.RoleWorkloadIdentityUser + "` on `google_service_account` to the Kubernetes service account " +
			"`namespace/kubernetes_service_account`, so task pods that run as that KSA act as the Google service account " +
			"without key files. The grant is one member added to the account's IAM policy; other members are never touched, " +
			"and a grant that existed before this resource is left in place on destroy.\n\n" +
			"Annotate the KSA with `kubernetes_annotations` and give the task `executor_config`. The pod must run in " +
			"`namespace`.\n\n" +
			"Import with the ID `GOOGLE_SERVICE_ACCOUNT/POOL_PROJECT/NAMESPACE/KSA`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`GOOGLE_SERVICE_ACCOUNT/POOL_PROJECT/NAMESPACE/KSA`.",
			},
			"google_service_account": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Email of the Google service account the task acts as.",
				Validators:          []validator.String{serviceAccountEmailValidator()},
			},
			"workload_identity_pool_project": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "ID of the project that owns the GKE cluster's workload pool (`PROJECT.svc.id.goog`), " +
					"which may differ from the service account's project.",
				Validators: []validator.String{stringvalidator.RegexMatches(projectIDPattern,
					"must be a Google Cloud project ID: 6 to 30 lower-case letters, digits and hyphens, starting with a letter")},
			},
			"namespace": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Kubernetes namespace the task pods run in.",
				Validators: []validator.String{
					stringvalidator.LengthBetween(1, 63),
					stringvalidator.RegexMatches(dnsLabelPattern, "must be a Kubernetes namespace name: lower-case letters, digits and hyphens (a DNS-1123 label)"),
				},
			},
			"kubernetes_service_account": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Name of the Kubernetes service account the task pods run as.",
				Validators: []validator.String{
					stringvalidator.LengthBetween(1, 253),
					stringvalidator.RegexMatches(dnsSubdomainPattern, "must be a Kubernetes service account name: lower-case letters, digits, hyphens and dots (a DNS-1123 subdomain)"),
				},
			},
			"member": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The IAM member granted: `serviceAccount:POOL_PROJECT.svc.id.goog[NAMESPACE/KSA]`.",
			},
			"kubernetes_annotations": schema.MapAttribute{
				ElementType:         types.StringType,
				Computed:            true,
				MarkdownDescription: "Annotations for the Kubernetes service account: `" + gkeServiceAccountAnnotation + "` set to `google_service_account`.",
			},
			"executor_config": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "JSON of a KubernetesExecutor `executor_config` whose `pod_override` (in Kubernetes API " +
					"form) runs the task pod as `kubernetes_service_account`. In a DAG: " +
					"`executor_config={\"pod_override\": PodGenerator.deserialize_model_dict(json.loads(cfg)[\"pod_override\"])}`.",
			},
			"pre_existing": schema.BoolAttribute{
				Computed: true,
				MarkdownDescription: "Whether the grant existed before this resource made it. Such a grant is left in place on destroy. " +
					"It is decided during plan, from the IAM policy read then, and apply keeps that decision (see " +
					"`airflowiam_impersonation_chain`'s `hops.pre_existing`).",
			},
		},
	}
}

func (r *taskIdentityResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerDataFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan plans the attributes that follow from the arguments, and keeps
// pre_existing while the grant stays the same.
func (r *taskIdentityResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan, state taskIdentityModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.GoogleServiceAccount.IsUnknown() || plan.WorkloadIdentityPoolProject.IsUnknown() ||
		plan.Namespace.IsUnknown() || plan.KubernetesServiceAccount.IsUnknown() {
		plan.ID, plan.Member, plan.ExecutorConfig = types.StringUnknown(), types.StringUnknown(), types.StringUnknown()
		plan.KubernetesAnnotations = types.MapUnknown(types.StringType)
		plan.PreExisting = types.BoolUnknown()
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	plan.derive()
	if state.sameGrant(&plan) {
		plan.PreExisting = state.PreExisting
	} else {
		// A new grant: pre_existing is decided now, from the policy as it
		// is at plan time, and apply keeps that decision.
		plan.PreExisting = newPlanPolicies(r.data).holds(ctx, plan.hop(), &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *taskIdentityResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	client := googleClientFrom(r.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var plan taskIdentityModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.derive()
	pre, err := r.grant(ctx, client, &plan)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("google_service_account"), "Error Granting Workload Identity",
			grantErrorDetail(&plan, err))
		if !plan.PreExisting.IsUnknown() && !plan.PreExisting.ValueBool() && !errors.Is(err, errGrantVanished) {
			// The plan found no grant, and the write may have landed
			// without its answer: take it back, so nothing is left.
			plan.PreExisting = types.BoolValue(false)
			_ = r.revoke(ctx, client, &plan)
		}
		return
	}
	plan.PreExisting = pre
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *taskIdentityResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	client := googleClientFrom(r.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var state taskIdentityModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	state.derive()
	gsa := state.GoogleServiceAccount.ValueString()
	has, err := client.HasMember(ctx, gsa, gcpiam.RoleWorkloadIdentityUser, state.Member.ValueString())
	if gcpiam.IsNotFound(err) {
		resp.Diagnostics.AddWarning("Service Account Not Found",
			fmt.Sprintf("Service account %s no longer exists, so its Workload Identity grant to %s is gone and the "+
				"resource was removed from state. Create the account again before the next apply, or remove the resource.",
				gsa, state.Member.ValueString()))
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Error Reading IAM Policy",
			fmt.Sprintf("Could not read the IAM policy of service account %s: %s", gsa, googleErrorDetail(err)))
		return
	}
	if !has {
		tflog.Warn(ctx, "Workload Identity grant removed outside Terraform; removing it from state",
			map[string]any{"service_account": gsa, "member": state.Member.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if state.PreExisting.IsNull() || state.PreExisting.IsUnknown() {
		state.PreExisting = types.BoolValue(false) // imported: managed from now on
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update moves the grant when an argument changes: the new one is made
// before the old one is removed.
func (r *taskIdentityResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	client := googleClientFrom(r.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var plan, state taskIdentityModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.derive()
	state.derive()
	if state.sameGrant(&plan) {
		plan.PreExisting = state.PreExisting
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	pre, err := r.grant(ctx, client, &plan)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("google_service_account"), "Error Granting Workload Identity",
			grantErrorDetail(&plan, err))
		return
	}
	plan.PreExisting = pre
	if err := r.revoke(ctx, client, &state); err != nil {
		resp.Diagnostics.AddWarning("Old Workload Identity Grant Left in Place",
			fmt.Sprintf("The new grant was made, but %s could not be removed from %s on %s: %s",
				state.Member.ValueString(), gcpiam.RoleWorkloadIdentityUser, state.GoogleServiceAccount.ValueString(), googleErrorDetail(err)))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *taskIdentityResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	client := googleClientFrom(r.data, resp.Diagnostics.AddError)
	if client == nil {
		return
	}
	var state taskIdentityModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	state.derive()
	if err := r.revoke(ctx, client, &state); err != nil {
		resp.Diagnostics.AddError("Error Removing Workload Identity",
			fmt.Sprintf("Could not remove %s from %s on service account %s: %s", state.Member.ValueString(),
				gcpiam.RoleWorkloadIdentityUser, state.GoogleServiceAccount.ValueString(), googleErrorDetail(err)))
	}
}

// ImportState takes `GOOGLE_SERVICE_ACCOUNT/POOL_PROJECT/NAMESPACE/KSA`.
func (r *taskIdentityResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	parts := strings.Split(req.ID, "/")
	if len(parts) != 4 || !googleSAEmailPattern.MatchString(parts[0]) || !projectIDPattern.MatchString(parts[1]) ||
		!dnsLabelPattern.MatchString(parts[2]) || !dnsSubdomainPattern.MatchString(parts[3]) {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("%q is not a task identity ID. Expected "+
			"`GOOGLE_SERVICE_ACCOUNT/POOL_PROJECT/NAMESPACE/KSA`, for example "+
			"`etl@my-project.iam.gserviceaccount.com/my-gke-project/airflow/etl`.", req.ID))
		return
	}
	for i, name := range []string{"google_service_account", "workload_identity_pool_project", "namespace", "kubernetes_service_account"} {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(name), parts[i])...)
	}
}

// grant makes the grant and returns its pre_existing, as planned when the
// plan read the policy (see grantAsPlanned).
func (r *taskIdentityResource) grant(ctx context.Context, client *gcpiam.Client, m *taskIdentityModel) (types.Bool, error) {
	tflog.Debug(ctx, "granting Workload Identity", map[string]any{"service_account": m.GoogleServiceAccount.ValueString(), "member": m.Member.ValueString()})
	return grantAsPlanned(ctx, client, m.hop(), m.PreExisting)
}

// hop is the grant as an IAM edit: the member on the account.
func (m *taskIdentityModel) hop() gcpiam.Hop {
	return gcpiam.Hop{Grantee: m.Member.ValueString(), ServiceAccount: m.GoogleServiceAccount.ValueString(), Role: gcpiam.RoleWorkloadIdentityUser}
}

// revoke removes the grant unless it pre-existed; a missing account is
// success.
func (r *taskIdentityResource) revoke(ctx context.Context, client *gcpiam.Client, m *taskIdentityModel) error {
	if m.PreExisting.ValueBool() {
		return nil
	}
	_, err := client.RemoveMember(ctx, m.GoogleServiceAccount.ValueString(), gcpiam.RoleWorkloadIdentityUser, m.Member.ValueString())
	if gcpiam.IsNotFound(err) {
		return nil
	}
	return err
}

func grantErrorDetail(m *taskIdentityModel, err error) string {
	detail := fmt.Sprintf("Could not grant %s on service account %s to %s: %s", gcpiam.RoleWorkloadIdentityUser,
		m.GoogleServiceAccount.ValueString(), m.Member.ValueString(), googleErrorDetail(err))
	if gcpiam.IsNotFound(err) {
		detail += "\n\nThe service account does not exist: create it, or fix google_service_account."
	}
	return detail
}

// derive fills the attributes that follow from the arguments.
func (m *taskIdentityModel) derive() {
	gsa, project := m.GoogleServiceAccount.ValueString(), m.WorkloadIdentityPoolProject.ValueString()
	ns, ksa := m.Namespace.ValueString(), m.KubernetesServiceAccount.ValueString()
	m.ID = types.StringValue(strings.Join([]string{gsa, project, ns, ksa}, "/"))
	m.Member = types.StringValue(gcpiam.WorkloadIdentityMember(project, ns, ksa))
	m.KubernetesAnnotations = types.MapValueMust(types.StringType, map[string]attr.Value{
		gkeServiceAccountAnnotation: types.StringValue(gsa),
	})
	m.ExecutorConfig = types.StringValue(executorConfig(ksa))
}

// sameGrant reports whether m (a prior state) grants the same member on the
// same account as other.
func (m *taskIdentityModel) sameGrant(other *taskIdentityModel) bool {
	return !m.Member.IsNull() && m.Member.Equal(other.Member) &&
		strings.EqualFold(m.GoogleServiceAccount.ValueString(), other.GoogleServiceAccount.ValueString())
}

// executorConfig is a KubernetesExecutor executor_config whose pod_override,
// in Kubernetes API form, runs the pod as ksa. It names the container
// "base", the worker container the executor merges overrides into: a pod
// spec without containers does not load (the Kubernetes client's V1PodSpec
// requires them), so PodGenerator.deserialize_model_dict rejects it
// (internal/provider/hooks_test.go runs it).
func executorConfig(ksa string) string {
	cfg := map[string]any{
		"pod_override": map[string]any{
			"spec": map[string]any{"containers": []map[string]string{{"name": "base"}}, "serviceAccountName": ksa},
		},
	}
	b, _ := json.Marshal(cfg) // maps of strings always encode
	return string(b)
}
