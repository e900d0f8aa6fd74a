package fakegcp

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	iamcredentials "google.golang.org/api/iamcredentials/v1"
)

func TestLoadSeedTestdata(t *testing.T) {
	seed, err := LoadSeed("testdata/seed.json")
	if err != nil {
		t.Fatal(err)
	}
	s := NewTestServer(t)
	if err := s.Seed(seed); err != nil {
		t.Fatal(err)
	}
	worker := "airflow-worker@airflow-prod.iam.gserviceaccount.com"
	reader := "bq-reader@airflow-prod.iam.gserviceaccount.com"
	if sa, ok := s.ServiceAccount("100000000000000000001"); !ok || sa.Email != worker || sa.DisplayName != "Airflow workers" {
		t.Errorf("seeded worker %+v", sa)
	}
	if n, _ := s.ProjectNumber("airflow-prod"); n != "123456789012" {
		t.Errorf("project number %q", n)
	}
	// The admin token reads everything, the condition included.
	p, err := iamClient(t, s, "admin-token").Projects.ServiceAccounts.GetIamPolicy(saName(reader)).OptionsRequestedPolicyVersion(3).Do()
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 3 || len(p.Bindings) != 2 {
		t.Errorf("policy %+v", p)
	}
	// domain:example.com viewers can read.
	if _, err := iamClient(t, s, s.AccessTokenFor("user:someone@example.com")).Projects.ServiceAccounts.Get(saName(worker)).Do(); err != nil {
		t.Errorf("domain viewer: %v", err)
	}
	_, err = iamClient(t, s, s.AccessTokenFor("user:someone@example.org")).Projects.ServiceAccounts.Get(saName(worker)).Do()
	wantAPIError(t, err, 403, "PERMISSION_DENIED")

	// The workers' KSA becomes the worker GSA, which impersonates the reader.
	ksa := credClient(t, s, "ksa-token")
	wt, err := ksa.Projects.ServiceAccounts.GenerateAccessToken(saName(worker), &iamcredentials.GenerateAccessTokenRequest{Scope: []string{scopeCloudPlatform}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{wt.AccessToken, "worker-token"} {
		if _, err := credClient(t, s, tok).Projects.ServiceAccounts.GenerateIdToken(saName(reader),
			&iamcredentials.GenerateIdTokenRequest{Audience: "x"}).Do(); err != nil {
			t.Errorf("worker -> reader: %v", err)
		}
	}
	_, err = ksa.Projects.ServiceAccounts.GenerateAccessToken(saName(reader), &iamcredentials.GenerateAccessTokenRequest{Scope: []string{scopeCloudPlatform}}).Do()
	wantAPIError(t, err, 403, "PERMISSION_DENIED")
	// With the worker as a delegate, the KSA's grant on the worker must
	// carry implicitDelegation, which Workload Identity User lacks: only
	// Token Creator makes the worker a delegate.
	delegated := func() error {
		_, err := ksa.Projects.ServiceAccounts.GenerateAccessToken(saName(reader), &iamcredentials.GenerateAccessTokenRequest{
			Scope: []string{scopeCloudPlatform}, Delegates: []string{saName(worker)},
		}).Do()
		return err
	}
	wantAPIError(t, delegated(), 403, "PERMISSION_DENIED")
	if err := s.AddMember(worker, tokenCreator, "serviceAccount:airflow-prod.svc.id.goog[airflow/airflow-worker]"); err != nil {
		t.Fatal(err)
	}
	if err := delegated(); err != nil {
		t.Errorf("KSA -> worker -> reader: %v", err)
	}
	// Seeding the same account again fails.
	if err := s.Seed(seed); err == nil {
		t.Error("seeding twice succeeded")
	}
}

func TestSeedValidation(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"projects":[{"project_id":"p-123456","serviceaccounts":[]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSeed(bad); err == nil || !strings.Contains(err.Error(), "serviceaccounts") {
		t.Errorf("unknown field: %v", err)
	}
	if _, err := LoadSeed(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file")
	}
	for name, seed := range map[string]Seed{
		"bad project id": {Projects: []SeedProject{{ProjectID: "P"}}},
		"bad account id": {Projects: []SeedProject{{ProjectID: testProject, ServiceAccounts: []SeedServiceAccount{{AccountID: "x"}}}}},
		"bad unique id":  {Projects: []SeedProject{{ProjectID: testProject, ServiceAccounts: []SeedServiceAccount{{AccountID: "good-id", UniqueID: "12"}}}}},
		"bad role":       {Projects: []SeedProject{{ProjectID: testProject, Bindings: []Binding{{Role: "roles/nope", Members: []string{alice}}}}}},
		"missing sa member": {Projects: []SeedProject{{ProjectID: testProject, Bindings: []Binding{{Role: "roles/viewer",
			Members: []string{"serviceAccount:" + saEmail("ghost-sa")}}}}}},
		"bad token member": {Tokens: map[string]string{"t": "robot:x"}},
	} {
		err := New().Seed(seed)
		var ae *APIError
		if err == nil || (name != "bad token member" && !errors.As(err, &ae)) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Bindings may name accounts seeded later in the same seed.
	s := New()
	if err := s.Seed(Seed{Projects: []SeedProject{{
		ProjectID: testProject,
		ServiceAccounts: []SeedServiceAccount{
			{AccountID: "first-sa", Bindings: []Binding{{Role: tokenCreator, Members: []string{"serviceAccount:" + saEmail("second-sa")}}}},
			{AccountID: "second-sa"},
		},
	}}}); err != nil {
		t.Error(err)
	}
}
