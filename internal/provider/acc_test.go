package provider

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
)

// Shared fixtures of the acceptance tests: the harness, provider blocks for
// each service, and checks that ask the real services.

// TestMain starts the services acceptance tests need (when TF_ACC is set)
// and stops them afterwards.
func TestMain(m *testing.M) {
	// The AWS SDK's default chain would otherwise try the instance metadata
	// address when a test configures no credentials; tests talk to loopback only.
	if err := os.Setenv("AWS_EC2_METADATA_DISABLED", "true"); err != nil {
		panic(err)
	}
	os.Exit(acctest.Main(m))
}

// protoV6ProviderFactories serves the provider in-process for every test.
var protoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"airflowiam": func() (tfprotov6.ProviderServer, error) { return NewServer("test")(), nil },
}

// forEachAirflow runs f once per Airflow major version, in parallel.
func forEachAirflow(t *testing.T, f func(t *testing.T, af *acctest.Airflow)) {
	t.Helper()
	for _, af := range acctest.Airflows(t) {
		t.Run(af.Name, func(t *testing.T) {
			f(t, af)
		})
	}
}

// forEachTarget runs f once per Airflow major version and once more per
// major through each managed front that serves it (MWAA and Cloud Composer:
// both), in parallel: the same scenario, with the provider's blocks
// switched to the front (see providerConfig).
func forEachTarget(t *testing.T, f func(t *testing.T, af *acctest.Airflow)) {
	t.Helper()
	for _, af := range acctest.Airflows(t) {
		forEachFront(t, af, f)
	}
}

// forEachFront runs f on af directly and through each managed front. Each
// front-routed subtest fails when the scenario did not really go through
// the front: MWAA counts InvokeRestApi calls, each reaching Airflow once;
// ThroughComposer checks that requests were forwarded and that the
// provider fetched one Google token per process.
func forEachFront(t *testing.T, af *acctest.Airflow, f func(t *testing.T, af *acctest.Airflow)) {
	t.Helper()
	t.Run(af.Name, func(t *testing.T) { f(t, af) })
	t.Run(af.Name+"_mwaa", func(t *testing.T) {
		front := acctest.MWAAFront(t, af)
		t.Cleanup(func() {
			calls, forwarded := front.Front.InvokeCalls(), front.Front.Forwarded()
			t.Logf("%s: %d InvokeRestApi calls, %d GetEnvironment calls", t.Name(), calls, front.Front.GetEnvironmentCalls())
			if calls == 0 || forwarded != calls {
				t.Errorf("InvokeRestApi calls = %d, forwarded to Airflow = %d; want the same, above 0", calls, forwarded)
			}
		})
		f(t, front)
	})
	t.Run(af.Name+"_composer", func(t *testing.T) { f(t, acctest.ThroughComposer(t, af)) })
}

// providerConfig is a provider block for af with explicit credentials; for
// an Airflow behind a managed front, the blocks that reach it there.
func providerConfig(af *acctest.Airflow) string {
	switch {
	case af.Composer != nil:
		return "\nprovider \"airflowiam\" {\n" + af.Composer.ProviderBlocks() + "}\n"
	case af.Front != nil:
		return "\nprovider \"airflowiam\" {\n" + airflowBlock(af) + mwaaAWSBlock(af.Front, af.Front.AccessKeyID) + "}\n"
	}
	return "\nprovider \"airflowiam\" {\n" + airflowBlock(af) + "}\n"
}

// mwaaAWSBlock is the aws block that reaches an MWAA double with key.
func mwaaAWSBlock(front *acctest.MWAA, key string) string {
	attrs := [][2]string{{"region", front.Region}, {"access_key", key}, {"secret_key", front.SecretAccessKey},
		{"sts_endpoint", front.STSURL}, {"mwaa_endpoint", front.URL}}
	var b strings.Builder
	b.WriteString("  aws {\n")
	for _, kv := range attrs {
		fmt.Fprintf(&b, "    %s = %q\n", kv[0], kv[1])
	}
	return b.String() + "  }\n"
}

// airflowBlock is the provider's airflow block for af.
func airflowBlock(af *acctest.Airflow) string {
	if af.Front != nil {
		return fmt.Sprintf("  airflow {\n    mwaa_environment = %q\n  }\n", af.Front.Environment)
	}
	return fmt.Sprintf(`  airflow {
    endpoint    = %q
    username    = %q
    password    = %q
    api_version = %q
  }
`, af.URL, af.Username, af.Password, af.APIVersion)
}

// testClient is an Airflow client for out-of-band changes and checks.
func testClient(t *testing.T, af *acctest.Airflow) *airflow.Client {
	t.Helper()
	c, err := airflow.NewClient(airflow.Config{
		Endpoint: af.URL, Username: af.Username, Password: af.Password, APIVersion: af.APIVersion,
	})
	if err != nil {
		t.Fatalf("test client: %v", err)
	}
	return c
}

// checkAPIConnection asserts on the connection as Airflow returns it.
func checkAPIConnection(t *testing.T, af *acctest.Airflow, id string, check func(*airflow.Connection) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		conn, err := testClient(t, af).GetConnection(context.Background(), id)
		if err != nil {
			return fmt.Errorf("reading connection %q from %s: %w", id, af.Name, err)
		}
		return check(conn)
	}
}

// checkConnectionDestroyed asserts that Airflow no longer has the connection.
func checkConnectionDestroyed(t *testing.T, af *acctest.Airflow, ids ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, id := range ids {
			_, err := testClient(t, af).GetConnection(context.Background(), id)
			if err == nil {
				return fmt.Errorf("connection %q still exists on %s after destroy", id, af.Name)
			}
			if !airflow.IsNotFound(err) {
				return fmt.Errorf("checking connection %q on %s: %w", id, af.Name, err)
			}
		}
		return nil
	}
}

// checkNoSecretInWorkingDir reads every file Terraform wrote under dir
// (state, backups, plans; not the configuration, which holds the secret by
// design) and fails if any contains one of secrets.
func checkNoSecretInWorkingDir(dir string, secrets ...string) resource.TestCheckFunc {
	return checkWorkingDir(dir, func(b []byte) string {
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				return "a secret"
			}
		}
		return ""
	})
}

// checkWorkingDir runs found over every file Terraform wrote under dir
// (not the configuration) and fails naming the file and what found
// reported. It also fails when it saw no state file, so it cannot pass by
// reading nothing.
func checkWorkingDir(dir string, found func([]byte) string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		statesSeen := 0
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if strings.HasSuffix(p, ".tf") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if strings.HasSuffix(p, ".tfstate") {
				statesSeen++
			}
			if what := found(b); what != "" {
				return fmt.Errorf("%s found in %s", what, p)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if statesSeen == 0 {
			return fmt.Errorf("no state file found under %s: the check read nothing", dir)
		}
		return nil
	}
}

func strPtr(s string) *string { return &s }

func int64Ptr(i int64) *int64 { return &i }

func derefString(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

// googleProviderBlock is a provider block whose google block talks to g as
// its administrator.
func googleProviderBlock(g *acctest.GCP) string {
	return "\nprovider \"airflowiam\" {\n" + googleBlock(g) + "}\n"
}

// googleBlock is the provider's google block for g's administrator.
func googleBlock(g *acctest.GCP) string {
	return fmt.Sprintf(`  google {
    access_token            = %q
    iam_endpoint            = %q
    iamcredentials_endpoint = %q
    oauth2_endpoint         = %q
    resourcemanager_endpoint = %q
  }
`, g.AdminToken, g.URL, g.URL, g.URL, g.URL)
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// plantForeign puts foreignBindings on each account.
func plantForeign(t *testing.T, g *acctest.GCP, role string, accounts ...string) {
	t.Helper()
	for _, sa := range accounts {
		if err := g.SetPolicy(sa, fakegcp.Policy{Version: 3, Bindings: foreignBindings(role)}); err != nil {
			t.Fatalf("planting foreign bindings on %s: %v", sa, err)
		}
	}
}

// checkForeignIntact asserts that every foreign binding is still on each
// account, condition included.
func checkForeignIntact(g *acctest.GCP, role string, accounts ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, sa := range accounts {
			p, err := g.Policy(sa)
			if err != nil {
				return fmt.Errorf("reading policy of %s: %w", sa, err)
			}
			if p.Version != 3 {
				return fmt.Errorf("%s: policy version %d, want 3 (conditions need it)", sa, p.Version)
			}
			for _, want := range foreignBindings(role) {
				if !policyHolds(p, want) {
					return fmt.Errorf("%s lost a binding it did not own: %+v; policy now %+v", sa, want, p.Bindings)
				}
			}
		}
		return nil
	}
}

// checkGrants asserts exactly which chain members hold role on each account,
// ignoring the foreign member planted by plantForeign.
func checkGrants(g *acctest.GCP, role string, want map[string][]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for sa, members := range want {
			got, err := unconditionalMembers(g, sa, role)
			if err != nil {
				return fmt.Errorf("reading policy of %s: %w", sa, err)
			}
			got = slices.DeleteFunc(slices.Clone(got), func(m string) bool { return m == "user:someone-else@example.com" })
			slices.Sort(got)
			w := slices.Clone(members)
			slices.Sort(w)
			if !slices.Equal(got, w) {
				return fmt.Errorf("%s: %s held by %v, want %v", sa, role, got, w)
			}
		}
		return nil
	}
}

func sa(email string) string { return "serviceAccount:" + email }

func awsProviderBlock(m *acctest.Moto) string {
	return "\nprovider \"airflowiam\" {\n" + awsBlock(m) + "}\n"
}

// awsBlock is the provider's aws block for moto.
func awsBlock(m *acctest.Moto) string {
	return awsBlockWithSTS(m, m.URL)
}

// awsBlockWithSTS is awsBlock with STS calls sent to stsURL.
func awsBlockWithSTS(m *acctest.Moto, stsURL string) string {
	return fmt.Sprintf(`  aws {
    region       = %q
    access_key   = %q
    secret_key   = %q
    iam_endpoint = %q
    sts_endpoint = %q
  }
`, m.Region, m.AccessKeyID, m.SecretAccessKey, m.URL, stsURL)
}

func testAWSClient(t *testing.T, m *acctest.Moto) *awsiam.Client {
	t.Helper()
	return awsiam.NewClient(m.AWSConfig(), awsiam.Endpoints{IAM: m.URL, STS: m.URL})
}

// foreignBindings are members other people manage on an account: the same
// role for someone else, a conditional grant of the same role, and another
// role.
func foreignBindings(role string) []fakegcp.Binding {
	return []fakegcp.Binding{
		{Role: role, Members: []string{"user:someone-else@example.com"}},
		{Role: role, Members: []string{"group:oncall@example.com"}, Condition: &fakegcp.Expr{
			Expression: `request.time < timestamp("2030-01-01T00:00:00Z")`, Title: "until-2030",
		}},
		{Role: "roles/iam.serviceAccountUser", Members: []string{"group:deployers@example.com"}},
	}
}

func policyHolds(p fakegcp.Policy, want fakegcp.Binding) bool {
	for _, b := range p.Bindings {
		if b.Role != want.Role || (b.Condition == nil) != (want.Condition == nil) {
			continue
		}
		if b.Condition != nil && *b.Condition != *want.Condition {
			continue
		}
		held := true
		for _, m := range want.Members {
			held = held && slices.Contains(b.Members, m)
		}
		if held {
			return true
		}
	}
	return false
}

// unconditionalMembers is the members of the unconditional binding of role.
func unconditionalMembers(g *acctest.GCP, sa, role string) ([]string, error) {
	p, err := g.Policy(sa)
	if err != nil {
		return nil, err
	}
	for _, b := range p.Bindings {
		if b.Role == role && b.Condition == nil {
			return b.Members, nil
		}
	}
	return nil, nil
}
