package gcpsecrets

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
)

func newSecretWithReaders(t *testing.T) (*Client, *fakegcp.Server, string) {
	t.Helper()
	c, s := newClient(t)
	for _, id := range []string{"task-a", "task-b"} {
		if _, err := s.CreateServiceAccount(project, id); err != nil {
			t.Fatal(err)
		}
	}
	sec, err := c.Create(context.Background(), CreateInput{Project: project, SecretID: "airflow-connections-a", Value: "postgres://h"})
	if err != nil {
		t.Fatal(err)
	}
	return c, s, sec.Name
}

func taskMember(id string) string {
	return "serviceAccount:" + id + "@" + project + ".iam.gserviceaccount.com"
}

// TestEditAccessorsKeepsForeignBindings: the accessor binding becomes what
// edit returns; conditional bindings of the role and other roles stay.
func TestEditAccessorsKeepsForeignBindings(t *testing.T) {
	c, s, name := newSecretWithReaders(t)
	ctx := context.Background()
	foreign := []fakegcp.Binding{
		{Role: RoleSecretAccessor, Members: []string{"user:audit@example.com"}, Condition: &fakegcp.Expr{Expression: `request.time < timestamp("2030-01-01T00:00:00Z")`, Title: "until-2030"}},
		{Role: "roles/secretmanager.viewer", Members: []string{"group:ops@example.com"}},
	}
	if err := s.SetSecretPolicy(project, "airflow-connections-a", fakegcp.Policy{Version: 3, Bindings: foreign}); err != nil {
		t.Fatal(err)
	}
	set := func(want ...string) func([]string) []string { return func([]string) []string { return want } }
	if err := c.EditAccessors(ctx, name, set(taskMember("task-a"), taskMember("task-b"))); err != nil {
		t.Fatal(err)
	}
	got, err := c.Accessors(ctx, name)
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{taskMember("task-a"), taskMember("task-b")}) {
		t.Fatalf("accessors %v, %v", got, err)
	}
	if err := c.EditAccessors(ctx, name, set(taskMember("task-b"))); err != nil {
		t.Fatal(err)
	}
	if err := c.EditAccessors(ctx, name, set()); err != nil {
		t.Fatal(err)
	}
	p, _ := s.SecretPolicy(project, "airflow-connections-a")
	if len(p.Bindings) != 2 || p.Version != 3 {
		t.Fatalf("policy after removing every reader: %+v", p)
	}
	for i, b := range p.Bindings {
		if b.Role == RoleSecretAccessor && (b.Condition == nil || b.Members[0] != "user:audit@example.com") {
			t.Fatalf("binding %d: %+v", i, b)
		}
	}
}

// TestEditAccessorsRetriesConflicts: a concurrent change (409 ABORTED) makes
// the whole read-modify-write start again, and the member written by the
// other writer survives.
func TestEditAccessorsRetriesConflicts(t *testing.T) {
	c, s, name := newSecretWithReaders(t)
	policyRetry.Sleep = func(context.Context, time.Duration) error { return nil }
	t.Cleanup(func() { policyRetry.Sleep = nil })
	ctx := context.Background()
	s.InjectEtagConflicts(2)
	calls := 0
	err := c.EditAccessors(ctx, name, func(cur []string) []string {
		calls++
		if calls == 1 {
			// Someone else adds task-b between our read and our write.
			if err := s.EditSecretMember(project, "airflow-connections-a", RoleSecretAccessor, taskMember("task-b"), true); err != nil {
				t.Fatal(err)
			}
		}
		return append(cur, taskMember("task-a"))
	})
	// The stale etag and the two injected conflicts fail three writes.
	if err != nil || calls != 4 {
		t.Fatalf("EditAccessors: %v after %d reads, want success after 4", err, calls)
	}
	got, _ := c.Accessors(ctx, name)
	slices.Sort(got)
	if !slices.Equal(got, []string{taskMember("task-a"), taskMember("task-b")}) {
		t.Fatalf("accessors %v", got)
	}
}

// TestAccessAsReader: a reader reads through its own token, a non-reader
// is ErrDenied, a missing secret is ErrNotFound to someone who may look.
func TestAccessAsReader(t *testing.T) {
	c, s, name := newSecretWithReaders(t)
	ctx := context.Background()
	if err := c.EditAccessors(ctx, name, func([]string) []string { return []string{taskMember("task-a")} }); err != nil {
		t.Fatal(err)
	}
	as := func(member string) *Client {
		r, err := c.As(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: s.AccessTokenFor(member)}))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if v, err := as(taskMember("task-a")).Access(ctx, name); err != nil || v != "postgres://h" {
		t.Fatalf("reader: %q, %v", v, err)
	}
	if _, err := as(taskMember("task-b")).Access(ctx, name); !errors.Is(err, ErrDenied) {
		t.Fatalf("non-reader: %v, want ErrDenied", err)
	}
	if _, err := c.Access(ctx, SecretPath(project, "missing")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing secret: %v, want ErrNotFound", err)
	}
	if _, err := c.Accessors(ctx, SecretPath(project, "missing")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("policy of a missing secret: %v, want ErrNotFound", err)
	}
}
