package gcpiam

import (
	"encoding/json"
	"testing"

	iam "google.golang.org/api/iam/v1"
)

const tokenCreator = "roles/iam.serviceAccountTokenCreator"

// conditionalPolicy is a version 3 policy with a conditional and an
// unconditional binding of the same role, and a foreign role.
func conditionalPolicy() *iam.Policy {
	return &iam.Policy{
		Version: 3,
		Etag:    "BwYAAAAAAAE=",
		Bindings: []*iam.Binding{
			{Role: tokenCreator, Members: []string{"user:alice@example.com", "serviceAccount:ops@p.iam.gserviceaccount.com"}},
			{
				Role:      tokenCreator,
				Members:   []string{"user:bob@example.com"},
				Condition: &iam.Expr{Expression: `request.time < timestamp("2030-01-01T00:00:00Z")`, Title: "until-2030"},
			},
			{Role: "roles/iam.serviceAccountUser", Members: []string{"group:ops@example.com"}},
		},
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAddMember_keepsEverythingElse(t *testing.T) {
	p := conditionalPolicy()
	if !addMember(p, tokenCreator, "serviceAccount:airflow@p.iam.gserviceaccount.com") {
		t.Fatal("addMember reported no change")
	}
	want := conditionalPolicy()
	want.Bindings[0].Members = append(want.Bindings[0].Members, "serviceAccount:airflow@p.iam.gserviceaccount.com")
	if got, w := mustJSON(t, p), mustJSON(t, want); got != w {
		t.Errorf("policy after add:\n got %s\nwant %s", got, w)
	}
}

func TestAddMember_conditionalBindingDoesNotCount(t *testing.T) {
	p := conditionalPolicy()
	// bob holds the role only under a condition: an unconditional grant is new.
	if !addMember(p, tokenCreator, "user:bob@example.com") {
		t.Fatal("a conditional binding was taken for an unconditional one")
	}
	if got := p.Bindings[1].Members; len(got) != 1 {
		t.Errorf("conditional binding changed: %v", got)
	}
	if p.Bindings[1].Condition == nil || p.Version != 3 {
		t.Error("condition or version lost")
	}
}

func TestAddMember_newBindingAndNoOp(t *testing.T) {
	p := &iam.Policy{Etag: "ACAB"}
	if !addMember(p, "roles/iam.workloadIdentityUser", "serviceAccount:p.svc.id.goog[ns/ksa]") {
		t.Fatal("no change on an empty policy")
	}
	if len(p.Bindings) != 1 || p.Bindings[0].Role != "roles/iam.workloadIdentityUser" {
		t.Fatalf("bindings = %s", mustJSON(t, p.Bindings))
	}
	before := mustJSON(t, p)
	if addMember(p, "roles/iam.workloadIdentityUser", "serviceAccount:p.svc.id.goog[ns/ksa]") {
		t.Error("adding a present member reported a change")
	}
	// Emails compare case-insensitively, as in IAM.
	q := conditionalPolicy()
	if addMember(q, tokenCreator, "user:Alice@Example.com") {
		t.Error("a member differing only in case was added again")
	}
	if mustJSON(t, p) != before {
		t.Error("a no-op add changed the policy")
	}
}

func TestRemoveMember_keepsEverythingElse(t *testing.T) {
	p := conditionalPolicy()
	if !removeMember(p, tokenCreator, "user:alice@example.com") {
		t.Fatal("removeMember reported no change")
	}
	want := conditionalPolicy()
	want.Bindings[0].Members = want.Bindings[0].Members[1:]
	if got, w := mustJSON(t, p), mustJSON(t, want); got != w {
		t.Errorf("policy after remove:\n got %s\nwant %s", got, w)
	}
}

func TestRemoveMember_dropsEmptyBindingOnly(t *testing.T) {
	p := conditionalPolicy()
	removeMember(p, tokenCreator, "user:alice@example.com")
	removeMember(p, tokenCreator, "serviceAccount:ops@p.iam.gserviceaccount.com")
	want := conditionalPolicy()
	want.Bindings = want.Bindings[1:]
	if got, w := mustJSON(t, p), mustJSON(t, want); got != w {
		t.Errorf("policy:\n got %s\nwant %s", got, w)
	}
}

func TestRemoveMember_neverTouchesConditionalBindings(t *testing.T) {
	p := conditionalPolicy()
	if removeMember(p, tokenCreator, "user:bob@example.com") {
		t.Error("removed a member that only a conditional binding held")
	}
	if removeMember(p, tokenCreator, "user:nobody@example.com") {
		t.Error("removing an absent member reported a change")
	}
	if got, w := mustJSON(t, p), mustJSON(t, conditionalPolicy()); got != w {
		t.Errorf("policy changed:\n got %s\nwant %s", got, w)
	}
}

func TestSameMember(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"user:a@example.com", "user:A@EXAMPLE.com", true},
		{"serviceAccount:x@p.iam.gserviceaccount.com", "serviceAccount:X@p.iam.gserviceaccount.com", true},
		{"user:a@example.com", "group:a@example.com", false},
		{"principal://iam.googleapis.com/x/subject/Ab", "principal://iam.googleapis.com/x/subject/ab", false},
		{"allUsers", "allUsers", true},
		{"allUsers", "allusers", false},
	} {
		if got := SameMember(tc.a, tc.b); got != tc.want {
			t.Errorf("SameMember(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
