package gcpsecrets

import (
	"testing"

	cloudresourcemanager "google.golang.org/api/cloudresourcemanager/v1"
	secretmanager "google.golang.org/api/secretmanager/v1"
)

func TestAccessGrants(t *testing.T) {
	const task = "serviceAccount:task@p.iam.gserviceaccount.com"
	secret := &secretmanager.Policy{Bindings: []*secretmanager.Binding{
		{Role: RoleSecretAccessor, Members: []string{"serviceAccount:other@p.iam.gserviceaccount.com", "serviceAccount:TASK@p.iam.gserviceaccount.com"}},
		{Role: RoleSecretAccessor, Members: []string{task}, Condition: &secretmanager.Expr{Title: "until-2030", Expression: "request.time < ..."}},
		{Role: "roles/secretmanager.viewer", Members: []string{task}}, // reads no payload
	}}
	project := &cloudresourcemanager.Policy{Bindings: []*cloudresourcemanager.Binding{
		{Role: "roles/editor", Members: []string{"allAuthenticatedUsers"}},
		{Role: "roles/secretmanager.secretAccessor", Members: []string{"user:someone@example.com"}},
	}}
	got := AccessGrants(task, secret, "p", project)
	want := []Grant{
		{Role: RoleSecretAccessor, Member: "serviceAccount:TASK@p.iam.gserviceaccount.com"},
		{Role: RoleSecretAccessor, Member: task, Condition: "until-2030"},
		{Role: "roles/editor", Project: "p", Member: "allAuthenticatedUsers"},
	}
	if len(got) != len(want) {
		t.Fatalf("AccessGrants = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("grant %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if !got[0].Unconditional() || got[1].Unconditional() {
		t.Errorf("Unconditional: %v %v", got[0].Unconditional(), got[1].Unconditional())
	}
	if g := AccessGrants(task, nil, "p", nil); len(g) != 0 {
		t.Errorf("no policies: %+v", g)
	}
}

func TestSecretNameParts(t *testing.T) {
	if p, id := ProjectOf("projects/123/secrets/airflow-connections-a"), SecretIDOf("projects/123/secrets/airflow-connections-a"); p != "123" || id != "airflow-connections-a" {
		t.Errorf("got %q %q", p, id)
	}
	if ProjectOf("secrets/x") != "" || SecretIDOf("projects/p") != "" {
		t.Error("malformed names give parts")
	}
}
