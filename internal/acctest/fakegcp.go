package acctest

import (
	"os"
	"testing"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
)

// GCP is an in-process fake of Google IAM and IAM Credentials, seeded with
// one project, an administrator and the Airflow workers' service account.
// Each call starts its own server, so tests that use it may run in parallel.
type GCP struct {
	*fakegcp.Server
	URL     string // base URL of every API: set it as iam_endpoint and iamcredentials_endpoint
	Project string // "airflow-prod"
	// AdminToken is a bearer token for Admin, who holds roles/owner on the
	// project: enough to read and edit service-account policies.
	Admin      string // "user:admin@example.com"
	AdminToken string
	Worker     string // email of the Airflow workers' service account
}

// Emails of the seeded service accounts.
const (
	gcpProject = "airflow-prod"
	gcpAdmin   = "user:admin@example.com"
)

// FakeGCP starts a seeded fakegcp server for t and stops it when t ends.
// Like the other services, it skips the test when TF_ACC is unset.
func FakeGCP(t testing.TB) *GCP {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance tests need TF_ACC=1 (make testacc starts every service they use)")
		return nil
	}
	s := fakegcp.NewTestServer(t)
	if err := s.Seed(fakegcp.Seed{Projects: []fakegcp.SeedProject{{
		ProjectID: gcpProject,
		Bindings:  []fakegcp.Binding{{Role: "roles/owner", Members: []string{gcpAdmin}}},
		ServiceAccounts: []fakegcp.SeedServiceAccount{
			{AccountID: "airflow-worker", DisplayName: "Airflow workers"},
		},
	}}}); err != nil {
		t.Fatalf("acctest: seeding fakegcp: %v", err)
	}
	return &GCP{
		Server:     s,
		URL:        s.URL(),
		Project:    gcpProject,
		Admin:      gcpAdmin,
		AdminToken: s.AccessTokenFor(gcpAdmin),
		Worker:     "airflow-worker@" + gcpProject + ".iam.gserviceaccount.com",
	}
}

// ServiceAccounts creates service accounts with the given account IDs in
// the project and returns their emails.
func (g *GCP) ServiceAccounts(t testing.TB, accountIDs ...string) []string {
	t.Helper()
	emails := make([]string, len(accountIDs))
	for i, id := range accountIDs {
		sa, err := g.CreateServiceAccount(g.Project, id)
		if err != nil {
			t.Fatalf("acctest: creating service account %s: %v", id, err)
		}
		emails[i] = sa.Email
	}
	return emails
}
