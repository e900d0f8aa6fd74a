package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

// The shared-hops scenario of issue 19: sharedRoles AWS roles trusted by
// the workers' account with one audience, each with its check.
const (
	sharedRoles    = 100
	sharedAudience = "bench-shared"
)

// checksResult is the shared-hops scenario: a plan whose checks all pass,
// and one whose checks all meet the same broken hop.
type checksResult struct {
	Measurements []measurement `json:"measurements"`
	Budgets      []budget      `json:"budgets"`
}

func (e *env) checksConfig() string {
	var b strings.Builder
	b.WriteString(e.providerBlock())
	fmt.Fprintf(&b, `
resource "airflowiam_web_identity_role" "shared" {
  count                  = %d
  name                   = "bench-shared-${count.index}"
  google_service_account = %q
  audience               = %q
}
`, sharedRoles, workerEmail(), sharedAudience)
	for i := range sharedRoles {
		fmt.Fprintf(&b, `
check "shared_%03d" {
  data "airflowiam_token_exchange" "x%03d" {
    role_arn        = airflowiam_web_identity_role.shared[%d].arn
    audience        = %q
    service_account = %q
  }
  assert {
    condition     = data.airflowiam_token_exchange.x%03d.assumed_role_arn != null
    error_message = "the token exchange assumed no role"
  }
}
`, i, i, i, sharedAudience, workerEmail(), i)
	}
	return b.String()
}

// measureChecks applies the roles, then plans without refreshing them (the
// checks are all that call out) with the path whole and with the
// provider's Token Creator grant on the workers' account removed.
func (e *env) measureChecks(ctx context.Context, runs int, log io.Writer) (*checksResult, error) {
	dir := filepath.Join(e.dir, "checks")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(e.checksConfig()), 0o600); err != nil {
		return nil, err
	}
	var output string
	tf := func(args ...string) (time.Duration, int64, error) {
		wall, rss, out, err := e.terraformRunOutput(ctx, dir, append(args, "-input=false", "-no-color")...)
		output = out
		return wall, rss, err
	}
	fmt.Fprintf(log, "bench: %d checks over %d roles: apply\n", sharedRoles, sharedRoles)
	if _, _, err := tf("apply", "-auto-approve"); err != nil {
		return nil, err
	}
	defer func() { _, _, _ = tf("destroy", "-auto-approve", "-parallelism=20") }()

	// -json gives each diagnostic on its own line, where the human output
	// folds similar warnings into one.
	plan := func() (time.Duration, int64, error) { return tf("plan", "-refresh=false", "-lock=false", "-json") }
	fmt.Fprintf(log, "bench: %d checks: plan, path whole x%d\n", sharedRoles, runs)
	whole, err := e.repeat(fmt.Sprintf("plan, %d checks pass", sharedRoles), runs, plan)
	if err != nil {
		return nil, err
	}
	res := &checksResult{}
	passed := len(diagnostics(output, "")) == 0

	g, err := gcpiam.NewClient(ctx, gcpiam.Config{AccessToken: adminToken, IAMEndpoint: e.gcpURL})
	if err != nil {
		return nil, err
	}
	const tokenCreator = "roles/iam.serviceAccountTokenCreator"
	if _, err := g.RemoveMember(ctx, workerEmail(), tokenCreator, adminMember); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "bench: %d checks: plan, hop broken x%d\n", sharedRoles, runs)
	broken, err := e.repeat(fmt.Sprintf("plan, %d checks meet one broken hop", sharedRoles), runs, plan)
	brokenOut := output
	if _, rerr := g.AddMember(ctx, workerEmail(), tokenCreator, adminMember); err == nil {
		err = rerr
	}
	if err != nil {
		return nil, err
	}
	res.Measurements = []measurement{*whole, *broken}
	res.Budgets = checksBudgets(whole, broken, passed, brokenOut)
	return res, nil
}

// checksBudgets are issue 19's: one ID token minted, at most one STS
// exchange and one trust-policy read per role, each hop's policy read at
// most once; a broken hop is named by every check.
func checksBudgets(whole, broken *measurement, passed bool, brokenOut string) []budget {
	var out []budget
	add := func(name, limit, actual string, ok bool) {
		out = append(out, budget{Name: name, Limit: limit, Actual: actual, OK: ok})
	}
	g, a := whole.Requests["google"], whole.Requests["aws"]
	add(whole.Name+": every check passes", "yes", yesNo(passed), passed)
	add(whole.Name+": ID tokens minted", "1", fmt.Sprint(g["generateIdToken"]), g["generateIdToken"] == 1)
	add(whole.Name+": STS exchanges", fmt.Sprintf("<= %d", sharedRoles), fmt.Sprint(a["AssumeRoleWithWebIdentity"]),
		a["AssumeRoleWithWebIdentity"] <= sharedRoles)
	add(whole.Name+": trust-policy reads (GetRole)", fmt.Sprintf("<= %d", sharedRoles), fmt.Sprint(a["GetRole"]), a["GetRole"] <= sharedRoles)
	gb := broken.Requests["google"]
	named := len(diagnostics(brokenOut, "Impersonation Hop 1 of 1 Is Broken"))
	add(broken.Name+": checks naming the broken hop", fmt.Sprint(sharedRoles), fmt.Sprint(named), named == sharedRoles)
	add(broken.Name+": ID tokens minted", "1", fmt.Sprint(gb["generateIdToken"]), gb["generateIdToken"] == 1)
	// One hop: the workers' account, and its project's policy.
	add(broken.Name+": IAM policy reads", "<= 2 (the hop's account and its project, once)", fmt.Sprint(gb["getIamPolicy"]),
		gb["getIamPolicy"] <= 2)
	return out
}

// diagnostics are the lines of terraform's -json output that carry a
// diagnostic containing text, but for the warning about dev_overrides.
func diagnostics(jsonOutput, text string) []string {
	var out []string
	for _, line := range strings.Split(jsonOutput, "\n") {
		if strings.Contains(line, `"type":"diagnostic"`) && strings.Contains(line, text) &&
			!strings.Contains(line, "development overrides") {
			out = append(out, line)
		}
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (c *checksResult) markdown(b *strings.Builder) {
	fmt.Fprintf(b, "### %d checks over %d roles trusted by one account with one audience\n\n", sharedRoles, sharedRoles)
	b.WriteString("| measurement | wall | requests (Airflow / Google / AWS) | ID tokens | STS | GetRole | getIamPolicy | provider peak RSS |\n" +
		"|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, m := range c.Measurements {
		g, a := m.Requests["google"], m.Requests["aws"]
		fmt.Fprintf(b, "| %s | %.2f s | %s | %d | %d | %d | %d | %.1f MB |\n", m.Name, float64(m.WallMS)/1000, requestsText(m.Requests),
			g["generateIdToken"], a["AssumeRoleWithWebIdentity"], a["GetRole"], g["getIamPolicy"], float64(m.PeakRSSKB)/1024)
	}
	budgetTable(b, c.Budgets)
}
