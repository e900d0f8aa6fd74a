// Package modules_test applies each module's example, unchanged, with the
// Terraform CLI against the local test services (real Airflow 3, moto and an
// in-process fakegcp), with the provider served in-process.
//
// terraform-plugin-testing is not used here: its state shim rejects child
// modules.
package modules_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/provider"
)

func TestMain(m *testing.M) {
	if err := os.Setenv("AWS_EC2_METADATA_DISABLED", "true"); err != nil {
		panic(err)
	}
	os.Exit(acctest.Main(m))
}

// moduleRun is one module's example in a working directory of its own.
type moduleRun struct {
	t        *testing.T
	tf       *tfexec.Terraform
	reattach *tfexec.ReattachOption
}

// newModuleRun copies the module and its example, as they are in the
// repository, into a temporary directory and writes the example's variables.
func newModuleRun(t *testing.T, module string, vars map[string]string) *moduleRun {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"", "example"} {
		files, err := filepath.Glob(filepath.Join(module, sub, "*.tf"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no .tf files in %s: %v", filepath.Join(module, sub), err)
		}
		dest := filepath.Join(dir, module, sub)
		if err := os.MkdirAll(dest, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dest, filepath.Base(f)), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	example := filepath.Join(dir, module, "example")
	// Only the variables the example declares: Terraform warns about others.
	declared, err := os.ReadFile(filepath.Join(example, "providers.tf"))
	if err != nil {
		t.Fatal(err)
	}
	main, err := os.ReadFile(filepath.Join(example, "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]string{}
	for k, v := range vars {
		if strings.Contains(string(declared)+string(main), fmt.Sprintf("variable %q", k)) {
			used[k] = v
		}
	}
	b, err := json.Marshal(used)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(example, "terraform.tfvars.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return &moduleRun{
		t: t, tf: acctest.Terraform(t, example),
		reattach: tfexec.Reattach(acctest.ServeProvider(t, provider.RegistryAddress, provider.NewServer("test"))),
	}
}

// applyTwice initialises and applies the example, checks that a second plan
// changes no resource (a check block's data sources are always read again),
// and destroys everything when the test ends. It returns the state after
// the apply.
func (r *moduleRun) applyTwice() *tfjson.State {
	t, ctx := r.t, context.Background()
	t.Helper()
	if err := r.tf.Init(ctx, r.reattach); err != nil {
		t.Fatalf("terraform init: %v", err)
	}
	t.Cleanup(func() {
		if err := r.tf.Destroy(ctx, r.reattach); err != nil {
			t.Errorf("terraform destroy: %v", err)
		}
	})
	if err := r.tf.Apply(ctx, r.reattach); err != nil {
		t.Fatalf("terraform apply: %v", err)
	}
	state, err := r.tf.Show(ctx, r.reattach)
	if err != nil {
		t.Fatalf("terraform show: %v", err)
	}
	planFile := filepath.Join(t.TempDir(), "second.tfplan")
	if _, err := r.tf.Plan(ctx, r.reattach, tfexec.Out(planFile)); err != nil {
		t.Fatalf("second terraform plan: %v", err)
	}
	plan, err := r.tf.ShowPlanFile(ctx, planFile, r.reattach)
	if err != nil {
		t.Fatalf("terraform show (plan): %v", err)
	}
	for _, rc := range plan.ResourceChanges {
		if rc.Mode != tfjson.DataResourceMode && !rc.Change.Actions.NoOp() {
			t.Errorf("the second plan would change %s: %v", rc.Address, rc.Change.Actions)
		}
	}
	return state
}

// output is the string value of a root output.
func output(t *testing.T, state *tfjson.State, name string) string {
	t.Helper()
	o, ok := state.Values.Outputs[name]
	if !ok {
		t.Fatalf("no output %q", name)
	}
	switch v := o.Value.(type) {
	case string:
		return v
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// checkPassed asserts that the check block at address passed.
func checkPassed(t *testing.T, state *tfjson.State, address string) {
	t.Helper()
	for _, c := range state.Checks {
		if c.Address.ToDisplay == address {
			if c.Status != tfjson.CheckStatusPass {
				t.Errorf("%s: status %s, want pass", address, c.Status)
			}
			return
		}
	}
	t.Errorf("no result for %s", address)
}

// services starts what the examples talk to and returns the example
// variables that point at them.
func services(t *testing.T) (*acctest.GCP, *acctest.Moto, map[string]string) {
	t.Helper()
	af, m, g := acctest.Airflow3(t), acctest.MotoServer(t), acctest.FakeGCP(t)
	return g, m, map[string]string{
		"airflow_url":         af.URL,
		"airflow_username":    af.Username,
		"airflow_password":    af.Password,
		"google_access_token": g.AdminToken,
		"google_endpoint":     g.URL,
		"aws_region":          m.Region,
		"aws_access_key":      m.AccessKeyID,
		"aws_secret_key":      m.SecretAccessKey,
		"aws_endpoint":        m.URL,
	}
}

func TestAccModule_awsFederation(t *testing.T) {
	g, m, vars := services(t)
	if err := g.AddMember(g.Worker, gcpiam.RoleTokenCreator, g.Admin); err != nil {
		t.Fatal(err)
	}
	name := tfacctest.RandomWithPrefix("tfacc-mod")
	vars["worker_service_account"], vars["name"] = g.Worker, name
	state := newModuleRun(t, "airflow-aws-federation", vars).applyTwice()
	if got, want := output(t, state, "role_arn"), "arn:aws:iam::"+m.AccountID+":role/"+name; got != want {
		t.Errorf("role_arn = %s, want %s", got, want)
	}
	if got, want := output(t, state, "connection_id"), "aws_"+strings.ReplaceAll(name, "-", "_"); got != want {
		t.Errorf("connection_id = %s, want %s", got, want)
	}
	checkPassed(t, state, "module.analytics.check.aws_federation")
}

func TestAccModule_gcpImpersonation(t *testing.T) {
	g, _, vars := services(t)
	accts := g.ServiceAccounts(t, "bq-delegate", "bq-loader")
	if err := g.AddMember(g.Worker, gcpiam.RoleTokenCreator, g.Admin); err != nil {
		t.Fatal(err)
	}
	vars["worker_service_account"], vars["delegate"], vars["target"] = g.Worker, accts[0], accts[1]
	vars["connection_id"] = tfacctest.RandomWithPrefix("tfacc_mod")
	state := newModuleRun(t, "airflow-gcp-impersonation", vars).applyTwice()
	if got, want := output(t, state, "impersonation_chain"), fmt.Sprintf("[%q,%q]", accts[0], accts[1]); got != want {
		t.Errorf("impersonation_chain = %s, want %s", got, want)
	}
	checkPassed(t, state, "module.bigquery.check.gcp_impersonation")
}

func TestAccModule_taskIdentity(t *testing.T) {
	g, _, vars := services(t)
	gsa := g.ServiceAccounts(t, "etl-task")[0]
	vars["task_service_account"] = gsa
	state := newModuleRun(t, "airflow-task-identity", vars).applyTwice()
	if got, want := output(t, state, "kubernetes_annotations"), fmt.Sprintf(`{"iam.gke.io/gcp-service-account":%q}`, gsa); got != want {
		t.Errorf("kubernetes_annotations = %s, want %s", got, want)
	}
	if got := output(t, state, "executor_config"); !regexp.MustCompile(`"serviceAccountName":"etl-task"`).MatchString(got) {
		t.Errorf("executor_config = %s", got)
	}
	// The task's connection has the task as its one reader.
	p, err := g.SecretPolicy(g.Project, "airflow-connections-etl_warehouse")
	if err != nil || len(p.Bindings) != 1 || p.Bindings[0].Role != "roles/secretmanager.secretAccessor" ||
		!slices.Equal(p.Bindings[0].Members, []string{"serviceAccount:" + gsa}) {
		t.Errorf("policy of the task's connection: %+v, %v", p, err)
	}
}
