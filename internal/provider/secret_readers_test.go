package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"golang.org/x/oauth2"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpsecrets"
)

// secretForeignBindings are members other people manage on a secret: a
// conditional grant of the accessor role and another role.
func secretForeignBindings() []fakegcp.Binding {
	return []fakegcp.Binding{
		{Role: gcpsecrets.RoleSecretAccessor, Members: []string{"group:audit@example.com"}, Condition: &fakegcp.Expr{
			Expression: `request.time < timestamp("2030-01-01T00:00:00Z")`, Title: "until-2030",
		}},
		{Role: "roles/secretmanager.viewer", Members: []string{"group:ops@example.com"}},
	}
}

// plantSecretForeign adds secretForeignBindings to a secret's policy,
// keeping what is there.
func plantSecretForeign(t *testing.T, g *acctest.GCP, secretID string) {
	t.Helper()
	p, err := g.SecretPolicy(g.Project, secretID)
	if err != nil {
		t.Fatalf("reading the policy of %s: %v", secretID, err)
	}
	p.Version = 3
	p.Bindings = append(p.Bindings, secretForeignBindings()...)
	if err := g.SetSecretPolicy(g.Project, secretID, p); err != nil {
		t.Fatalf("planting foreign bindings on %s: %v", secretID, err)
	}
}

// checkSecretReaders asserts exactly who holds the unconditional accessor
// binding of a secret, and, with foreign, that the foreign bindings are
// intact.
func checkSecretReaders(g *acctest.GCP, secretID string, foreign bool, want ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		p, err := g.SecretPolicy(g.Project, secretID)
		if err != nil {
			return fmt.Errorf("reading the policy of %s: %w", secretID, err)
		}
		var got []string
		for _, b := range p.Bindings {
			if b.Role == gcpsecrets.RoleSecretAccessor && b.Condition == nil {
				got = append(got, b.Members...)
			}
		}
		slices.Sort(got)
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			return fmt.Errorf("%s: %s held by %v, want %v", secretID, gcpsecrets.RoleSecretAccessor, got, w)
		}
		if !foreign {
			return nil
		}
		for _, fb := range secretForeignBindings() {
			if !policyHolds(p, fb) {
				return fmt.Errorf("%s lost a binding it did not own: %+v; policy now %+v", secretID, fb, p.Bindings)
			}
		}
		return nil
	}
}

// checkReads asserts that member can (or cannot) read the secret with a
// token of its own, through the fake's permission checks.
func checkReads(g *acctest.GCP, secretID, member string, allowed bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := context.Background()
		admin, err := gcpsecrets.NewClient(ctx, oauthClient(g.AdminToken), g.URL, "test")
		if err != nil {
			return err
		}
		as, err := admin.As(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: g.AccessTokenFor(member)}))
		if err != nil {
			return err
		}
		_, err = as.Access(ctx, gcpsecrets.SecretPath(g.Project, secretID))
		switch {
		case allowed && err != nil:
			return fmt.Errorf("%s cannot read %s: %w", member, secretID, err)
		case !allowed && !errors.Is(err, gcpsecrets.ErrDenied):
			return fmt.Errorf("%s reading %s: %v, want permission denied", member, secretID, err)
		}
		return nil
	}
}

func TestAccGCPSecretConnection_readers(t *testing.T) {
	g := acctest.FakeGCP(t)
	emails := g.ServiceAccounts(t, "task-a", "task-b", "task-c")
	a, b, c := sa(emails[0]), sa(emails[1]), sa(emails[2])
	id := tfacctest.RandomWithPrefix("tfacc_readers")
	secretID := "airflow-connections-" + id
	config := func(readers string) string {
		line := ""
		if readers != "" {
			line = "readers = " + readers
		}
		return googleSecretsProviderBlock(g) + fmt.Sprintf(`
resource "airflowiam_gcp_secret_connection" "test" {
  project       = %q
  connection_id = %q
  conn_type     = "postgres"
  host          = "db.internal"
  %s
}
`, g.Project, id, line)
	}
	// The configured spelling of task-b is kept although Google lower-cases it.
	bUpper := "serviceAccount:" + strings.ToUpper(emails[1][:1]) + emails[1][1:]
	edit := func(member string, add bool) func() {
		return func() {
			if err := g.EditSecretMember(g.Project, secretID, gcpsecrets.RoleSecretAccessor, member, add); err != nil {
				t.Fatal(err)
			}
		}
	}
	emptyAfterApply := resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkGCPSecretGone(g, secretID),
		Steps: []resource.TestStep{
			{
				Config: config(fmt.Sprintf("[%q, %q]", a, bUpper)),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkSecretReaders(g, secretID, false, a, b),
					checkReads(g, secretID, a, true),
					checkReads(g, secretID, c, false),
				),
				ConfigPlanChecks: emptyAfterApply,
			},
			{
				// Readers change; members other people manage stay.
				PreConfig: func() { plantSecretForeign(t, g, secretID) },
				Config:    config(fmt.Sprintf("[%q, %q]", bUpper, c)),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkSecretReaders(g, secretID, true, b, c),
					checkReads(g, secretID, a, false),
					checkReads(g, secretID, c, true),
				),
				ConfigPlanChecks: emptyAfterApply,
			},
			{
				// A reader added out of band shows in the plan and is removed.
				PreConfig: edit(a, true),
				Config:    config(fmt.Sprintf("[%q, %q]", bUpper, c)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(gcpSecretAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: checkSecretReaders(g, secretID, true, b, c),
			},
			{
				// A reader removed out of band shows in the plan and comes back.
				PreConfig: edit(c, false),
				Config:    config(fmt.Sprintf("[%q, %q]", bUpper, c)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(gcpSecretAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: checkSecretReaders(g, secretID, true, b, c),
			},
			{
				// Unset, the readers this resource granted are revoked and the
				// policy is left alone from then on.
				Config:           config(""),
				Check:            checkSecretReaders(g, secretID, true),
				ConfigPlanChecks: emptyAfterApply,
			},
			{
				// An empty set is managed: a member added out of band is removed.
				PreConfig:        edit(a, true),
				Config:           config("[]"),
				Check:            checkSecretReaders(g, secretID, true),
				ConfigPlanChecks: emptyAfterApply,
			},
		},
	})
}

// TestAccGCPSecretConnection_readersRefused: member forms are checked at
// plan time, and a failed grant leaves no secret behind.
func TestAccGCPSecretConnection_readersRefused(t *testing.T) {
	g := acctest.FakeGCP(t)
	base := func(attrs string) string {
		return googleSecretsProviderBlock(g) + fmt.Sprintf(`
resource "airflowiam_gcp_secret_connection" "test" {
  project       = %q
  connection_id = "readers_refused"
  conn_type     = "postgres"
  %s
}
`, g.Project, attrs)
	}
	testRefusedPlans(t, base, []refusedPlan{
		{"bare email", `readers = ["task@airflow-prod.iam.gserviceaccount.com"]`, regexp.MustCompile(`(?s)must\s+be\s+an\s+IAM\s+member`)},
		{"unknown kind", `readers = ["robot:task@example.com"]`, regexp.MustCompile(`(?s)must\s+be\s+an\s+IAM\s+member`)},
	})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			// Google refuses a service account that does not exist.
			Config:      base(`readers = ["serviceAccount:nobody@airflow-prod.iam.gserviceaccount.com"]`),
			ExpectError: regexp.MustCompile(`(?s)setting\s+the\s+readers.*does\s+not\s+exist`),
		}},
	})
	if _, ok := g.Secret(g.Project, "airflow-connections-readers_refused"); ok {
		t.Fatal("a failed grant left the secret behind")
	}
}

// oauthClient is an HTTP client that sends token.
func oauthClient(token string) *http.Client {
	return &http.Client{Transport: &oauth2.Transport{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})}}
}
