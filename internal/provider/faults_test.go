package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/faultproxy"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

// The fault-injection suite (issue 14): a faultproxy in front of each of
// Airflow 3, Airflow 2, moto and fakegcp, all under the same fault at once,
// and one small configuration (10 connections on both Airflows, 2
// impersonation chains, 1 web-identity role, 1 secret connection) taken
// through apply, plan and destroy under each fault. Every check reads the
// services directly, never through a proxy.

// faultEnv is the four services behind their proxies.
type faultEnv struct {
	af3, af2 *acctest.Airflow
	moto     *acctest.Moto
	gcp      *acctest.GCP
	proxies  map[string]*faultproxy.Proxy // by service name
	bodies   map[string]faultproxy.ErrorBody
}

// faultServices in a fixed order, for stable messages.
var faultServices = []string{"airflow3", "airflow2", "moto", "fakegcp"}

func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	e := &faultEnv{
		af3: acctest.Airflow3(t), af2: acctest.Airflow2(t), moto: acctest.MotoServer(t), gcp: acctest.FakeGCP(t),
		proxies: map[string]*faultproxy.Proxy{},
		bodies: map[string]faultproxy.ErrorBody{
			"airflow3": faultproxy.AirflowError, "airflow2": faultproxy.AirflowError,
			"moto": faultproxy.AWSError, "fakegcp": faultproxy.GoogleError,
		},
	}
	targets := map[string]string{"airflow3": e.af3.URL, "airflow2": e.af2.URL, "moto": e.moto.URL, "fakegcp": e.gcp.URL}
	for _, name := range faultServices {
		p, err := faultproxy.New(targets[name])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		e.proxies[name] = p
	}
	return e
}

// set puts every service under f (with that service's error body), each
// with its own seed derived from f.Seed.
func (e *faultEnv) set(f faultproxy.Fault) {
	for i, name := range faultServices {
		g := f
		g.Body = e.bodies[name]
		g.Seed = f.Seed + uint64(i)
		e.proxies[name].Set(g)
	}
}

func (e *faultEnv) clear() { e.set(faultproxy.Fault{}) }

func (e *faultEnv) resetCounts() {
	for _, p := range e.proxies {
		p.Reset()
	}
}

// counts is "airflow3 12/40 faulted, ..." for messages.
func (e *faultEnv) counts() string {
	var parts []string
	for _, name := range faultServices {
		s := e.proxies[name].Stats()
		parts = append(parts, fmt.Sprintf("%s %d/%d faulted", name, s.Faulted, s.Requests))
	}
	return strings.Join(parts, ", ")
}

// faultFixture is the names one run of the configuration uses; each run
// has its own prefix and its own fresh service accounts.
type faultFixture struct {
	prefix       string // connection IDs and the secret's connection ID
	role         string
	d1, t1, t2   string // chain 1 is worker -> d1 -> t1, chain 2 worker -> t2
	secretPrefix string // Secrets Manager name prefix
}

func (e *faultEnv) fixture(t *testing.T, name string) faultFixture {
	t.Helper()
	short := strings.ReplaceAll(name, "_", "-")
	accts := e.gcp.ServiceAccounts(t, "f-"+short+"-d1", "f-"+short+"-t1", "f-"+short+"-t2")
	prefix := "flt_" + name
	return faultFixture{
		prefix: prefix, role: "flt-" + short,
		d1: accts[0], t1: accts[1], t2: accts[2],
		secretPrefix: "airflow/connections/" + prefix,
	}
}

const (
	faultConns3 = 6 // connections on Airflow 3
	faultConns2 = 4 // on Airflow 2
)

func (e *faultEnv) config(fx faultFixture) string { return e.configWith(fx, "") }

// configWith is config with blockLine (e.g. a request_timeout) in each
// airflow, google and aws block.
func (e *faultEnv) configWith(fx faultFixture, blockLine string) string {
	af3, af2, m, g := e.af3, e.af2, e.moto, e.gcp
	p := e.proxies
	return fmt.Sprintf(`
terraform {
  required_providers {
    airflowiam = {
      source = "airflowiam/airflowiam"
    }
  }
}

provider "airflowiam" {
  airflow {
    endpoint    = %[1]q
    username    = %[2]q
    password    = %[3]q
    api_version = "v2"
%[21]s  }
  google {
    access_token             = %[4]q
    iam_endpoint             = %[5]q
    iamcredentials_endpoint  = %[5]q
    oauth2_endpoint          = %[5]q
    resourcemanager_endpoint = %[5]q
%[21]s  }
  aws {
    region                  = %[6]q
    access_key              = %[7]q
    secret_key              = %[8]q
    iam_endpoint            = %[9]q
    sts_endpoint            = %[9]q
    secretsmanager_endpoint = %[9]q
    kms_endpoint            = %[9]q
%[21]s  }
}

provider "airflowiam" {
  alias = "af2"
  airflow {
    endpoint    = %[10]q
    username    = %[11]q
    password    = %[12]q
    api_version = "v1"
%[21]s  }
}

resource "airflowiam_connection" "a3" {
  count         = %[13]d
  connection_id = "%[14]s_a3_${count.index}"
  conn_type     = "http"
  host          = "svc${count.index}.example.com"
  extra         = jsonencode({ timeout = "30" })
}

resource "airflowiam_connection" "a2" {
  provider      = airflowiam.af2
  count         = %[15]d
  connection_id = "%[14]s_a2_${count.index}"
  conn_type     = "http"
  host          = "svc${count.index}.example.com"
}

resource "airflowiam_impersonation_chain" "c1" {
  source = %[16]q
  chain  = [%[17]q, %[18]q]
}

resource "airflowiam_impersonation_chain" "c2" {
  source = %[16]q
  chain  = [%[19]q]
}

resource "airflowiam_web_identity_role" "r" {
  name                             = %[20]q
  google_service_account           = %[16]q
  google_service_account_unique_id = "112233445566778899001"
  audience                         = "airflow-faults"
  inline_policies = {
    read = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["s3:GetObject"], Resource = "arn:aws:s3:::faults/*" }] })
  }
  tags = { suite = "faults" }
}

resource "airflowiam_aws_secret_connection" "s" {
  connection_id           = "%[14]s_secret"
  conn_type               = "aws"
  extra                   = jsonencode({ region_name = "us-east-1" })
  recovery_window_in_days = 0
}
`, p["airflow3"].URL(), af3.Username, af3.Password,
		g.AdminToken, p["fakegcp"].URL(),
		m.Region, m.AccessKeyID, m.SecretAccessKey, p["moto"].URL(),
		p["airflow2"].URL(), af2.Username, af2.Password,
		faultConns3, fx.prefix, faultConns2,
		g.Worker, fx.d1, fx.t1, fx.t2, fx.role, blockLine)
}

// objects is what exists, by kind, as sorted names.
type objects struct {
	conns3, conns2, roles, secrets []string
	grants                         []string // "MEMBER on SERVICE_ACCOUNT"
	preExisting                    []string // grants recorded as pre_existing (state only)
}

func (o objects) empty() bool {
	return len(o.conns3)+len(o.conns2)+len(o.roles)+len(o.secrets)+len(o.grants) == 0
}

func (o objects) String() string {
	return fmt.Sprintf("airflow3 connections %v, airflow2 connections %v, roles %v, secrets %v, grants %v",
		o.conns3, o.conns2, o.roles, o.secrets, o.grants)
}

// minus is what o has that other lacks, kind by kind.
func (o objects) minus(other objects) objects {
	diff := func(a, b []string) []string {
		var out []string
		for _, s := range a {
			if !slices.Contains(b, s) {
				out = append(out, s)
			}
		}
		return out
	}
	return objects{
		conns3: diff(o.conns3, other.conns3), conns2: diff(o.conns2, other.conns2),
		roles: diff(o.roles, other.roles), secrets: diff(o.secrets, other.secrets),
		grants: diff(o.grants, other.grants),
	}
}

// remote lists, straight from the services, what exists under fx's names.
func (e *faultEnv) remote(t *testing.T, fx faultFixture) (objects, error) {
	t.Helper()
	ctx := context.Background()
	var o objects
	var errs []error
	for _, af := range []*acctest.Airflow{e.af3, e.af2} {
		ids, err := listConnectionIDs(ctx, t, af, fx.prefix+"_")
		errs = append(errs, err)
		if af == e.af3 {
			o.conns3 = ids
		} else {
			o.conns2 = ids
		}
	}
	roles, err := e.roleNames(ctx, t, fx.role)
	errs = append(errs, err)
	o.roles = roles
	secrets, err := e.secretNames(ctx, t, fx.secretPrefix)
	errs = append(errs, err)
	o.secrets = secrets
	for _, acct := range []string{fx.d1, fx.t1, fx.t2} {
		members, err := unconditionalMembers(e.gcp, acct, gcpiam.RoleTokenCreator)
		errs = append(errs, err)
		for _, m := range members {
			o.grants = append(o.grants, m+" on "+acct)
		}
	}
	sort.Strings(o.grants)
	return o, errors.Join(errs...)
}

func listConnectionIDs(ctx context.Context, t *testing.T, af *acctest.Airflow, prefix string) ([]string, error) {
	c := testClient(t, af)
	var ids []string
	for offset := 0; ; offset += 100 {
		page, err := c.ListConnections(ctx, 100, offset)
		if err != nil {
			return ids, fmt.Errorf("listing connections on %s: %w", af.Name, err)
		}
		for _, conn := range page.Connections {
			if strings.HasPrefix(conn.ConnectionID, prefix) {
				ids = append(ids, conn.ConnectionID)
			}
		}
		if len(page.Connections) < 100 {
			break
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func (e *faultEnv) roleNames(ctx context.Context, t *testing.T, name string) ([]string, error) {
	pages := iam.NewListRolesPaginator(testAWSClient(t, e.moto).IAM, &iam.ListRolesInput{})
	var names []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return names, fmt.Errorf("listing IAM roles in moto: %w", err)
		}
		for _, r := range page.Roles {
			if aws.ToString(r.RoleName) == name {
				names = append(names, name)
			}
		}
	}
	return names, nil
}

func (e *faultEnv) secretNames(ctx context.Context, t *testing.T, prefix string) ([]string, error) {
	sm := testSecretsClient(t, e.moto).SecretsManager
	pages := secretsmanager.NewListSecretsPaginator(sm, &secretsmanager.ListSecretsInput{
		Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{prefix}}},
	})
	var names []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return names, fmt.Errorf("listing secrets in moto: %w", err)
		}
		for _, s := range page.SecretList {
			if n := aws.ToString(s.Name); strings.HasPrefix(n, prefix) {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// stateObjects is what the Terraform state says exists.
func stateObjects(st *tfjson.State) objects {
	var o objects
	if st == nil || st.Values == nil || st.Values.RootModule == nil {
		return o
	}
	for _, r := range st.Values.RootModule.Resources {
		str := func(k string) string { s, _ := r.AttributeValues[k].(string); return s }
		switch {
		case r.Type == "airflowiam_connection" && r.Name == "a3":
			o.conns3 = append(o.conns3, str("connection_id"))
		case r.Type == "airflowiam_connection" && r.Name == "a2":
			o.conns2 = append(o.conns2, str("connection_id"))
		case r.Type == "airflowiam_web_identity_role":
			o.roles = append(o.roles, str("name"))
		case r.Type == "airflowiam_aws_secret_connection":
			o.secrets = append(o.secrets, str("secret_name"))
		case r.Type == "airflowiam_impersonation_chain":
			hops, _ := r.AttributeValues["hops"].([]any)
			for _, h := range hops {
				hop, _ := h.(map[string]any)
				g := fmt.Sprintf("%v on %v", hop["grantee"], hop["service_account"])
				if pre, _ := hop["pre_existing"].(bool); pre {
					o.preExisting = append(o.preExisting, g)
				} else {
					o.grants = append(o.grants, g)
				}
			}
		}
	}
	for _, s := range [][]string{o.conns3, o.conns2, o.roles, o.secrets, o.grants, o.preExisting} {
		sort.Strings(s)
	}
	return o
}

// The suite runs the provider as Terraform runs it, a process per
// provider configuration, built once per test process and installed with a
// dev_overrides CLI configuration: served in-process (reattached), one
// server would answer for both provider configurations, and the second
// configuration would replace the first one's clients.
var (
	faultBuildOnce sync.Once
	faultCLIConfig string
	faultBinary    string
	faultBuildErr  error
)

// faultProviderBuild builds the provider into .cache/faults/ of the
// repository and writes the CLI configuration that points Terraform at it.
func faultProviderBuild(t *testing.T) (cliConfig, binary string) {
	t.Helper()
	faultBuildOnce.Do(func() {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			faultBuildErr = err
			return
		}
		dir := filepath.Join(root, ".cache", "faults")
		faultBinary = filepath.Join(dir, "bin", "terraform-provider-airflowiam")
		build := exec.Command("go", "build", "-o", faultBinary, ".")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			faultBuildErr = fmt.Errorf("building the provider: %v\n%s", err, out)
			return
		}
		faultCLIConfig = filepath.Join(dir, "terraformrc")
		rc := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    %q = %q\n    %q = %q\n  }\n  direct {}\n}\n",
			RegistryAddress, filepath.Dir(faultBinary),
			strings.Replace(RegistryAddress, "registry.terraform.io", "registry.opentofu.org", 1), filepath.Dir(faultBinary))
		faultBuildErr = os.WriteFile(faultCLIConfig, []byte(rc), 0o600)
	})
	if faultBuildErr != nil {
		t.Fatal(faultBuildErr)
	}
	return faultCLIConfig, faultBinary
}

// tfRun is one working directory of the configuration, with the built
// provider.
type tfRun struct {
	t   *testing.T
	tf  *tfexec.Terraform
	dir string
	env map[string]string
}

func newTFRun(t *testing.T, config string) *tfRun {
	t.Helper()
	cliConfig, _ := faultProviderBuild(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &tfRun{t: t, tf: acctest.Terraform(t, dir), dir: dir, env: map[string]string{
		"CHECKPOINT_DISABLE": "1",
		"TF_CLI_CONFIG_FILE": cliConfig,
		"HOME":               t.TempDir(),
		"PATH":               os.Getenv("PATH"),
		// The AWS SDK would otherwise try the instance metadata address.
		"AWS_EC2_METADATA_DISABLED": "true",
	}}
	if err := r.tf.SetEnv(r.env); err != nil {
		t.Fatal(err)
	}
	return r
}

// commandTimeout bounds every terraform command: a hang is a failure, not
// a stuck suite.
const commandTimeout = 3 * time.Minute

// apply runs terraform apply and returns how long it took and its error
// diagnostics ("ADDRESS: SUMMARY: DETAIL"), with an error when it failed.
func (r *tfRun) apply() (time.Duration, []string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	began := time.Now()
	var out strings.Builder
	err := r.tf.ApplyJSON(ctx, &out)
	return time.Since(began), errorsOf(out.String()), err
}

// destroy is apply's twin for terraform destroy.
func (r *tfRun) destroy() (time.Duration, []string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	began := time.Now()
	var out strings.Builder
	err := r.tf.DestroyJSON(ctx, &out)
	return time.Since(began), errorsOf(out.String()), err
}

// failure is the diagnostics of a failed command, one a line, or its
// error when it printed none.
func failure(diags []string, err error) string {
	if len(diags) == 0 && err != nil {
		return err.Error()
	}
	return strings.Join(diags, "\n")
}

// plan returns the addresses the plan would change; when it fails, its
// error carries the error diagnostics.
func (r *tfRun) plan() ([]string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	began := time.Now()
	out := filepath.Join(r.dir, "plan.out")
	var log strings.Builder
	changed, err := r.tf.PlanJSON(ctx, &log, tfexec.Out(out))
	took := time.Since(began)
	if err != nil {
		return nil, took, errors.New(failure(errorsOf(log.String()), err))
	}
	if !changed {
		return nil, took, nil
	}
	p, err := r.tf.ShowPlanFile(ctx, out)
	if err != nil {
		return []string{"(plan has changes; showing it failed: " + err.Error() + ")"}, took, nil
	}
	var addrs []string
	for _, rc := range p.ResourceChanges {
		if rc.Change != nil && !rc.Change.Actions.NoOp() && !rc.Change.Actions.Read() {
			addrs = append(addrs, fmt.Sprintf("%s (%v)", rc.Address, rc.Change.Actions))
		}
	}
	return addrs, took, nil
}

func (r *tfRun) state() *tfjson.State {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := r.tf.Show(ctx)
	if err != nil {
		r.t.Fatalf("terraform show: %v", err)
	}
	return st
}

// blamesUser matches the errors that tell the user to import what this
// apply itself created: every object of a fault run is new, so any such
// error is about the provider's own write.
var blamesUser = regexp.MustCompile(`(?i)already exists|import it`)

// transientFaults are the kinds the suite runs at 30% (slow at 100%).
var transientFaults = []struct {
	name  string
	fault faultproxy.Fault
}{
	{"429", faultproxy.Fault{Kind: faultproxy.TooManyRequests, Rate: 0.3, Seed: 1429}},
	{"500", faultproxy.Fault{Kind: faultproxy.InternalError, Rate: 0.3, Seed: 1500}},
	{"503", faultproxy.Fault{Kind: faultproxy.Unavailable, Rate: 0.3, Seed: 1503}},
	{"reset_before", faultproxy.Fault{Kind: faultproxy.ResetBefore, Rate: 0.3, Seed: 1601}},
	{"reset_after", faultproxy.Fault{Kind: faultproxy.ResetAfter, Rate: 0.3, Seed: 1602}},
	{"truncated", faultproxy.Fault{Kind: faultproxy.Truncate, Rate: 0.3, Seed: 1603}},
	{"slow", faultproxy.Fault{Kind: faultproxy.Slow, Delay: 500 * time.Millisecond}},
	{"silent", faultproxy.Fault{Kind: faultproxy.Silent, Rate: 0.3, Seed: 1605, Delay: 3 * time.Second}},
}

// TestAccFaults_transient runs the configuration through apply, plan and
// destroy with every service under one fault, one subtest per fault kind.
// Each subtest reports every assertion that fails, not only the first:
//
//   - apply, plan and destroy each succeed, or fail only with errors that
//     say they gave up after retrying and then succeed when run again, in
//     at most three runs (with 30% of requests faulted and 5 attempts per
//     request, about one request in 400 fails every attempt; which one
//     depends on the order of the requests, so a bounded give-up is the
//     policy working, not a defect);
//   - no error tells the user a resource this apply created already exists;
//   - every object on the services is in the state (no orphan), no grant
//     this run wrote is recorded pre_existing, and the role has its inline
//     policy;
//   - the plan after apply is empty;
//   - destroy leaves nothing on any service.
func TestAccFaults_transient(t *testing.T) {
	e := newFaultEnv(t)
	for _, tc := range transientFaults {
		t.Run(tc.name, func(t *testing.T) {
			fx := e.fixture(t, tc.name)
			run := newTFRun(t, e.config(fx))
			t.Cleanup(func() { e.sweep(t, run, fx) })
			e.resetCounts()
			e.set(tc.fault)
			e.exercise(t, run, fx, tc.name)
			t.Logf("%s: requests %s", tc.name, e.counts())
		})
	}
}

// exercise is the apply, plan and destroy of one fault kind, under the
// fault already set.
func (e *faultEnv) exercise(t *testing.T, run *tfRun, fx faultFixture, kind string) {
	t.Helper()
	// Each apply must converge: finish what the one before left, without
	// blaming the user for it.
	err := e.untilDone(t, kind, "apply", func() ([]string, error) {
		took, diags, err := run.apply()
		t.Logf("%s: apply took %.1fs", kind, took.Seconds())
		e.checkNoOrphans(t, run, fx, kind, "after an apply")
		return diags, err
	})
	if err == nil {
		var changes []string
		perr := e.untilDone(t, kind, "plan after apply", func() ([]string, error) {
			var took time.Duration
			var err error
			changes, took, err = run.plan()
			t.Logf("%s: plan took %.1fs", kind, took.Seconds())
			if err != nil {
				return []string{err.Error()}, err
			}
			return nil, nil
		})
		if perr == nil && len(changes) > 0 {
			t.Errorf("%s: FAILED plan after apply is not empty: %v", kind, changes)
		}
	}
	_ = e.untilDone(t, kind, "destroy", func() ([]string, error) {
		took, diags, err := run.destroy()
		t.Logf("%s: destroy took %.1fs", kind, took.Seconds())
		return diags, err
	})
	left, lerr := e.remote(t, fx)
	if lerr != nil {
		t.Fatalf("%s: listing what is left: %v", kind, lerr)
	}
	if !left.empty() {
		t.Errorf("%s: FAILED left after destroy: %v", kind, left)
	}
}

// stepTries is how many times a step may run: a step that gave up after
// retrying is run again, as a user would.
const stepTries = 3

// untilDone runs a step until it succeeds, at most stepTries times. Each
// failure must say it gave up after retrying and blame no user
// (checkGaveUp); the last one fails the test whatever it says.
func (e *faultEnv) untilDone(t *testing.T, kind, step string, run func() ([]string, error)) error {
	t.Helper()
	for try := 1; ; try++ {
		diags, err := run()
		if err == nil {
			return nil
		}
		if try == stepTries {
			e.checkApplyError(t, kind, fmt.Sprintf("%s (run %d times)", step, try), diags, err)
			return err
		}
		if !e.checkGaveUp(t, kind, step, diags, err) {
			return err
		}
	}
}

// saysRetried matches an error that says the provider retried and gave up.
var saysRetried = regexp.MustCompile(`(?i)retr|attempts|gave up`)

// checkGaveUp accepts a failed step only when no error blames the user and
// every error says it gave up after retrying.
func (e *faultEnv) checkGaveUp(t *testing.T, kind, step string, diags []string, err error) bool {
	t.Helper()
	if err == nil {
		return true
	}
	var other []string
	for _, d := range diags {
		if blamesUser.MatchString(d) || !saysRetried.MatchString(d) {
			other = append(other, d)
		}
	}
	if len(other) > 0 || len(diags) == 0 {
		t.Errorf("%s: FAILED %s under %s faults with errors that do not say they gave up after retrying (%s):\n%s",
			kind, step, kind, e.counts(), failure(other, err))
		return false
	}
	t.Logf("%s: %s gave up after retrying (%d errors); running it again", kind, step, len(diags))
	return true
}

func (e *faultEnv) checkApplyError(t *testing.T, kind, step string, diags []string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var blaming, other []string
	for _, d := range diags {
		if blamesUser.MatchString(d) {
			blaming = append(blaming, d)
		} else {
			other = append(other, d)
		}
	}
	if len(blaming) > 0 {
		t.Errorf("%s: FAILED %s blames the user for the provider's own write (%d errors):\n%s", kind, step, len(blaming), strings.Join(blaming, "\n"))
	}
	if len(other) > 0 || len(diags) == 0 {
		t.Errorf("%s: FAILED %s under %s faults (%s):\n%s", kind, step, kind, e.counts(), failure(other, err))
	}
}

// checkNoOrphans compares the services with the state.
func (e *faultEnv) checkNoOrphans(t *testing.T, run *tfRun, fx faultFixture, kind, when string) {
	t.Helper()
	have, err := e.remote(t, fx)
	if err != nil {
		t.Fatalf("%s: listing the services %s: %v", kind, when, err)
	}
	state := stateObjects(run.state())
	if orphans := have.minus(state); !orphans.empty() {
		t.Errorf("%s: FAILED on the services but not in the state %s: %v", kind, when, orphans)
	}
	if len(state.preExisting) > 0 {
		t.Errorf("%s: FAILED grants this run wrote are recorded pre_existing %s (destroy will leave them): %v", kind, when, state.preExisting)
	}
	for _, role := range state.roles {
		r, err := testAWSClient(t, e.moto).GetRole(context.Background(), role)
		if err != nil {
			t.Errorf("%s: role %s is in the state but reading it from moto failed %s: %v", kind, role, when, err)
			continue
		}
		if _, ok := r.InlinePolicies["read"]; !ok {
			t.Errorf("%s: FAILED role %s is in the state without its inline policy %q %s (has %v)", kind, role, "read", when, r.InlinePolicies)
		}
	}
}

// sweep, once a subtest is done, destroys without faults and then deletes
// whatever is still on the services, so that no run leaves anything behind.
func (e *faultEnv) sweep(t *testing.T, run *tfRun, fx faultFixture) {
	e.clear()
	if _, diags, err := run.destroy(); err != nil {
		t.Logf("cleanup destroy without faults failed: %s", failure(diags, err))
	}
	left, err := e.remote(t, fx)
	if err != nil || left.empty() {
		return
	}
	ctx := context.Background()
	for _, id := range left.conns3 {
		_ = testClient(t, e.af3).DeleteConnection(ctx, id)
	}
	for _, id := range left.conns2 {
		_ = testClient(t, e.af2).DeleteConnection(ctx, id)
	}
	for _, name := range left.secrets {
		_, _ = testSecretsClient(t, e.moto).SecretsManager.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
			SecretId: aws.String(name), ForceDeleteWithoutRecovery: aws.Bool(true)})
	}
	for _, name := range left.roles {
		_ = testAWSClient(t, e.moto).DeleteRole(ctx, name)
	}
	t.Logf("cleanup deleted what destroy left: %v", left)
}

// requestTimeoutLine is the line that sets request_timeout (issue 14: a
// per-request timeout on every client, an attribute of each block) to d
// in the airflow, google and aws blocks, written for the attribute's type;
// it fails when a block lacks the attribute.
func requestTimeoutLine(d time.Duration) (string, error) {
	var resp provider.SchemaResponse
	New("test")().Schema(context.Background(), provider.SchemaRequest{}, &resp)
	line := ""
	for _, name := range []string{"airflow", "google", "aws"} {
		block, ok := resp.Schema.Blocks[name].(schema.SingleNestedBlock)
		if !ok {
			return "", fmt.Errorf("the provider has no %s block", name)
		}
		var l string
		switch block.Attributes["request_timeout"].(type) {
		case schema.StringAttribute:
			l = fmt.Sprintf("    request_timeout = %q\n", d.String())
		case schema.Int64Attribute, schema.NumberAttribute, schema.Float64Attribute:
			l = fmt.Sprintf("    request_timeout = %d\n", int(d.Seconds()))
		default:
			return "", fmt.Errorf("the %s block has no request_timeout attribute of a string or number type", name)
		}
		if line != "" && l != line {
			return "", fmt.Errorf("request_timeout has different types in different blocks")
		}
		line = l
	}
	return line, nil
}

// TestAccFaults_silentPastTheTimeout holds 30% of the requests unanswered
// for 30s, with request_timeout at 2s: the clients must give up on each
// at their timeout and try again, so the configuration applies, plans
// empty and destroys, all well before the holds end.
func TestAccFaults_silentPastTheTimeout(t *testing.T) {
	e := newFaultEnv(t)
	line, err := requestTimeoutLine(2 * time.Second)
	if err != nil {
		t.Fatalf("FAILED no per-request timeout to set: %v", err)
	}
	fx := e.fixture(t, "silent_30s")
	run := newTFRun(t, e.configWith(fx, line))
	t.Cleanup(func() { e.sweep(t, run, fx) })
	e.set(faultproxy.Fault{Kind: faultproxy.Silent, Rate: 0.3, Seed: 1606, Delay: 30 * time.Second})
	began := time.Now()
	e.exercise(t, run, fx, "silent_30s")
	if took := time.Since(began); took > 3*time.Minute {
		t.Errorf("FAILED apply, plan and destroy took %.0fs with a 2s request timeout", took.Seconds())
	}
	t.Logf("silent_30s: requests %s", e.counts())
}

// TestAccFaults_everythingFails puts every service under 503 for every
// request: the apply must fail soon, saying that it retried, and create
// nothing.
func TestAccFaults_everythingFails(t *testing.T) {
	e := newFaultEnv(t)
	fx := e.fixture(t, "all_503")
	run := newTFRun(t, e.config(fx))
	t.Cleanup(func() { e.sweep(t, run, fx) })
	e.set(faultproxy.Fault{Kind: faultproxy.Unavailable})
	took, diags, err := run.apply()
	t.Logf("apply under 100%% 503 failed after %.1fs; requests %s", took.Seconds(), e.counts())
	if err == nil {
		t.Fatalf("apply succeeded with every request answered 503")
	}
	d := failure(diags, err)
	const bound = 60 * time.Second
	if took > bound {
		t.Errorf("FAILED giving up took %.1fs, want under %v", took.Seconds(), bound)
	}
	if blamesUser.MatchString(d) {
		t.Errorf("FAILED an error blames the user:\n%s", d)
	}
	var silent []string
	for _, diag := range diags {
		if !saysRetried.MatchString(diag) {
			silent = append(silent, diag)
		}
	}
	if len(silent) > 0 || len(diags) == 0 {
		t.Errorf("FAILED %d of %d errors do not say they retried:\n%s", len(silent), len(diags), failure(silent, err))
	}
	if left, err := e.remote(t, fx); err != nil || !left.empty() {
		t.Errorf("FAILED with every request refused, the services have %v (%v)", left, err)
	}
}

// errorsOf is the error diagnostics in terraform's -json output, each as
// "ADDRESS: SUMMARY: DETAIL" on one line.
func errorsOf(jsonLines string) []string {
	var out []string
	for _, l := range strings.Split(jsonLines, "\n") {
		var m struct {
			Type       string `json:"type"`
			Diagnostic struct {
				Severity, Summary, Detail, Address string
			} `json:"diagnostic"`
		}
		if json.Unmarshal([]byte(l), &m) != nil || m.Type != "diagnostic" || m.Diagnostic.Severity != "error" {
			continue
		}
		d := m.Diagnostic
		line := strings.Join(strings.Fields(d.Summary+": "+d.Detail), " ")
		if d.Address != "" {
			line = d.Address + ": " + line
		}
		out = append(out, line)
	}
	return out
}
