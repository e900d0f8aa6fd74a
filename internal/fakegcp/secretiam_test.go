package fakegcp

import (
	"net/http"
	"testing"

	secretmanager "google.golang.org/api/secretmanager/v1"
)

// TestSecretIamPolicy: a secret's own policy lets a reader access that one
// secret and no other; the policy round-trips with etags; only secret-level
// roles are accepted; the project's grants still apply.
func TestSecretIamPolicy(t *testing.T) {
	s := newSeeded(t, []string{"task-a", "task-b"})
	sm := secretsClient(t, s, s.AccessTokenFor(admin))
	parent := "projects/" + testProject
	for _, id := range []string{"conn-a", "conn-b"} {
		sec, err := sm.Projects.Secrets.Create(parent, &secretmanager.Secret{Replication: automatic()}).SecretId(id).Do()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sm.Projects.Secrets.AddVersion(sec.Name, payload("value of "+id)).Do(); err != nil {
			t.Fatal(err)
		}
	}
	a := "serviceAccount:" + saEmail("task-a")
	asA := secretsClient(t, s, s.AccessTokenFor(a))
	nameA := parent + "/secrets/conn-a"
	nameB := parent + "/secrets/conn-b"

	_, err := asA.Projects.Secrets.Versions.Access(nameA + "/versions/latest").Do()
	wantSecretError(t, err, http.StatusForbidden, "PERMISSION_DENIED", "secretmanager.versions.access")

	empty, err := sm.Projects.Secrets.GetIamPolicy(nameA).OptionsRequestedPolicyVersion(3).Do()
	if err != nil || empty.Etag != emptyPolicyEtag || len(empty.Bindings) != 0 {
		t.Fatalf("policy never written: %+v, %v", empty, err)
	}
	empty.Bindings = []*secretmanager.Binding{{Role: "roles/secretmanager.secretAccessor", Members: []string{a}}}
	written, err := sm.Projects.Secrets.SetIamPolicy(nameA, &secretmanager.SetIamPolicyRequest{Policy: empty}).Do()
	if err != nil || written.Etag == emptyPolicyEtag {
		t.Fatalf("setIamPolicy: %+v, %v", written, err)
	}
	// The etag that was read is stale now.
	_, err = sm.Projects.Secrets.SetIamPolicy(nameA, &secretmanager.SetIamPolicyRequest{Policy: empty}).Do()
	wantSecretError(t, err, http.StatusConflict, "ABORTED", "concurrent policy changes")

	got, err := asA.Projects.Secrets.Versions.Access(nameA + "/versions/latest").Do()
	if err != nil || got.Payload == nil {
		t.Fatalf("reader of conn-a: %+v, %v", got, err)
	}
	_, err = asA.Projects.Secrets.Versions.Access(nameB + "/versions/latest").Do()
	wantSecretError(t, err, http.StatusForbidden, "PERMISSION_DENIED", "secretmanager.versions.access")
	// secretAccessor holds no other permission.
	_, err = asA.Projects.Secrets.Get(nameA).Do()
	wantSecretError(t, err, http.StatusForbidden, "PERMISSION_DENIED", "secretmanager.secrets.get")
	_, err = asA.Projects.Secrets.GetIamPolicy(nameA).Do()
	wantSecretError(t, err, http.StatusForbidden, "PERMISSION_DENIED", "secretmanager.secrets.getIamPolicy")

	// Roles that cannot be granted on a secret are refused.
	cur, _ := sm.Projects.Secrets.GetIamPolicy(nameA).Do()
	cur.Bindings = append(cur.Bindings, &secretmanager.Binding{Role: "roles/iam.serviceAccountUser", Members: []string{a}})
	_, err = sm.Projects.Secrets.SetIamPolicy(nameA, &secretmanager.SetIamPolicyRequest{Policy: cur}).Do()
	wantSecretError(t, err, http.StatusBadRequest, "INVALID_ARGUMENT", "not supported for this resource")

	// A conditional binding grants nothing here (the fake does not model
	// Secret Manager's resource attributes).
	b := "serviceAccount:" + saEmail("task-b")
	if err := s.SetSecretPolicy(testProject, "conn-b", Policy{Version: 3, Bindings: []Binding{{Role: "roles/secretmanager.secretAccessor", Members: []string{b},
		Condition: &Expr{Expression: "true", Title: "always"}}}}); err != nil {
		t.Fatal(err)
	}
	_, err = secretsClient(t, s, s.AccessTokenFor(b)).Projects.Secrets.Versions.Access(nameB + "/versions/latest").Do()
	wantSecretError(t, err, http.StatusForbidden, "PERMISSION_DENIED", "secretmanager.versions.access")

	// A project-wide grant reads every secret.
	if err := s.SetProjectBindings(testProject, []Binding{{Role: "roles/owner", Members: []string{admin}},
		{Role: "roles/secretmanager.secretAccessor", Members: []string{b}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := secretsClient(t, s, s.AccessTokenFor(b)).Projects.Secrets.Versions.Access(nameA + "/versions/latest").Do(); err != nil {
		t.Fatalf("project-wide accessor: %v", err)
	}

	// Deleting the secret deletes its policy: a new secret of the same name
	// starts empty.
	if _, err := sm.Projects.Secrets.Delete(nameA).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.Projects.Secrets.Create(parent, &secretmanager.Secret{Replication: automatic()}).SecretId("conn-a").Do(); err != nil {
		t.Fatal(err)
	}
	if p, err := s.SecretPolicy(testProject, "conn-a"); err != nil || len(p.Bindings) != 0 {
		t.Fatalf("recreated secret's policy %+v, %v", p, err)
	}
}

// TestSecretIamPolicyUnknownSecret: a missing secret is 404 for a caller
// who may read it, 403 for anyone else.
func TestSecretIamPolicyUnknownSecret(t *testing.T) {
	s := newSeeded(t, []string{"task-a"})
	name := "projects/" + testProject + "/secrets/missing"
	_, err := secretsClient(t, s, s.AccessTokenFor(admin)).Projects.Secrets.GetIamPolicy(name).Do()
	wantSecretError(t, err, http.StatusNotFound, "NOT_FOUND", "not found")
	_, err = secretsClient(t, s, s.AccessTokenFor("serviceAccount:"+saEmail("task-a"))).Projects.Secrets.GetIamPolicy(name).Do()
	wantSecretError(t, err, http.StatusForbidden, "PERMISSION_DENIED", "getIamPolicy")
}
