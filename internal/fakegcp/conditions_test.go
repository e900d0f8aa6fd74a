package fakegcp

import (
	"testing"
	"time"

	iam "google.golang.org/api/iam/v1"
	iamcredentials "google.golang.org/api/iamcredentials/v1"
)

// setConditional replaces the policy of email with one conditional Token
// Creator binding for alice.
func setConditional(t *testing.T, s *Server, email, expression string) {
	t.Helper()
	if err := s.SetPolicy(email, Policy{Version: 3, Bindings: []Binding{
		{Role: tokenCreator, Members: []string{alice}, Condition: &Expr{Expression: expression, Title: "t"}},
	}}); err != nil {
		t.Fatal(err)
	}
}

// A conditional binding grants while its condition is true at the fake's
// clock, and not before or after.
func TestConditionalGrantFollowsTheClock(t *testing.T) {
	clock := newFakeClock() // 2030-01-02T03:04:05Z
	s := newSeeded(t, []string{"target-sa"}, WithClock(clock.Now))
	target := saEmail("target-sa")
	// A fresh caller token each time: the clock moves past their expiry.
	gen := func() error {
		_, err := credClient(t, s, s.AccessTokenFor(alice)).Projects.ServiceAccounts.GenerateIdToken(saName(target),
			&iamcredentials.GenerateIdTokenRequest{Audience: "a"}).Do()
		return err
	}

	// A window that has not opened yet.
	setConditional(t, s, target, `request.time >= timestamp("2030-01-02T04:00:00Z") && request.time < timestamp("2030-01-02T05:00:00Z")`)
	wantAPIError(t, gen(), 403, "PERMISSION_DENIED")
	clock.Advance(time.Hour)
	if err := gen(); err != nil {
		t.Fatalf("inside the window: %v", err)
	}
	clock.Advance(time.Hour)
	wantAPIError(t, gen(), 403, "PERMISSION_DENIED")

	// testIamPermissions answers the same way.
	svc := iamClient(t, s, s.AccessTokenFor(alice))
	resp, err := svc.Projects.ServiceAccounts.TestIamPermissions(saName(target), &iam.TestIamPermissionsRequest{
		Permissions: []string{"iam.serviceAccounts.getOpenIdToken"},
	}).Do()
	if err != nil || len(resp.Permissions) != 0 {
		t.Errorf("after the window: %v, %v", resp, err)
	}
}

// Service accounts do not recognise resource attributes, so a condition
// that reads resource.* grants nothing, on the account's own policy and on
// the project alike, whatever it compares.
func TestConditionalGrantResourceAttributes(t *testing.T) {
	s := newSeeded(t, []string{"target-sa", "other-sa"})
	target := saEmail("target-sa")
	cred := credClient(t, s, s.AccessTokenFor(alice))
	gen := func(email string) error {
		_, err := cred.Projects.ServiceAccounts.GenerateAccessToken(saName(email), &iamcredentials.GenerateAccessTokenRequest{Scope: []string{scopeCloudPlatform}}).Do()
		return err
	}

	setConditional(t, s, target, `resource.name == "projects/`+testProject+`/serviceAccounts/`+target+`" && resource.type == "iam.googleapis.com/ServiceAccount"`)
	wantAPIError(t, gen(target), 403, "PERMISSION_DENIED")
	setConditional(t, s, target, `request.time > timestamp("2000-01-01T00:00:00Z") || resource.service == "iam.googleapis.com"`)
	if err := gen(target); err != nil {
		t.Errorf("a condition true by its time alone: %v", err)
	}

	if err := s.SetPolicy(target, Policy{}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetProjectBindings(testProject, []Binding{
		{Role: "roles/owner", Members: []string{admin}},
		{Role: tokenCreator, Members: []string{alice}, Condition: &Expr{
			Title: "only target-", Expression: `resource.name.startsWith("projects/` + testProject + `/serviceAccounts/target-")`,
		}},
	}); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, gen(target), 403, "PERMISSION_DENIED")

	// A conditional project binding grants no project-level permission:
	// the fake does not model those requests' attributes.
	if err := s.SetProjectBindings(testProject, []Binding{
		{Role: "roles/owner", Members: []string{admin}},
		{Role: "roles/viewer", Members: []string{alice}, Condition: &Expr{Title: "always", Expression: `request.time > timestamp("2000-01-01T00:00:00Z")`}},
	}); err != nil {
		t.Fatal(err)
	}
	svc := iamClient(t, s, s.AccessTokenFor(alice))
	if _, err := svc.Projects.ServiceAccounts.Get(saName(target)).Do(); err != nil {
		t.Errorf("get through a true project condition: %v", err)
	}
	_, err := svc.Projects.ServiceAccounts.List("projects/" + testProject).Do()
	wantAPIError(t, err, 403, "PERMISSION_DENIED")
}

// A condition the fake cannot evaluate grants nothing; setIamPolicy still
// stores it.
func TestConditionalGrantUnknownDenies(t *testing.T) {
	s := newSeeded(t, []string{"target-sa"})
	target := saEmail("target-sa")
	cred := credClient(t, s, s.AccessTokenFor(alice))
	for _, expr := range []string{
		`resource.matchTag("123/env", "prod")`,
		`api.getAttribute("iam.googleapis.com/modifiedGrantsByRole", []).hasOnly(["roles/viewer"])`,
		`request.host == "example.com"`,
		`request.time <`,
	} {
		setConditional(t, s, target, expr)
		if p, _ := s.Policy(target); len(p.Bindings) != 1 || p.Bindings[0].Condition.Expression != expr {
			t.Errorf("%s: stored %+v", expr, p.Bindings)
		}
		_, err := cred.Projects.ServiceAccounts.GenerateAccessToken(saName(target), &iamcredentials.GenerateAccessTokenRequest{Scope: []string{scopeCloudPlatform}}).Do()
		wantAPIError(t, err, 403, "PERMISSION_DENIED")
	}
}

// Conditional members wait for the propagation delay like unconditional
// ones, and a conditional hop counts in a delegation chain.
func TestConditionalGrantPropagationAndChains(t *testing.T) {
	clock := newFakeClock()
	s := newSeeded(t, []string{"delegate-one", "target-sa"}, WithClock(clock.Now))
	s.SetPropagationDelay(time.Minute)
	d1, target := saEmail("delegate-one"), saEmail("target-sa")
	cred := credClient(t, s, s.AccessTokenFor(alice))
	gen := func() error {
		_, err := cred.Projects.ServiceAccounts.GenerateIdToken(saName(target), &iamcredentials.GenerateIdTokenRequest{
			Audience: "a", Delegates: []string{saName(d1)},
		}).Do()
		return err
	}
	always := `request.time > timestamp("2000-01-01T00:00:00Z")`
	setConditional(t, s, d1, always)
	if err := s.AddMember(target, openIDTokenCreator, "serviceAccount:"+d1); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, gen(), 403, "PERMISSION_DENIED")
	clock.Advance(time.Minute)
	if err := gen(); err != nil {
		t.Fatalf("after the delay: %v", err)
	}

	// Through setIamPolicy: an unrelated write keeps the conditional
	// member's grant time; a changed condition is a new binding that waits.
	svc := iamClient(t, s, s.AccessTokenFor(admin))
	p, err := svc.Projects.ServiceAccounts.GetIamPolicy(saName(d1)).OptionsRequestedPolicyVersion(3).Do()
	if err != nil {
		t.Fatal(err)
	}
	p.Bindings = append(p.Bindings, &iam.Binding{Role: "roles/viewer", Members: []string{"user:bob@example.com"}})
	if p, err = svc.Projects.ServiceAccounts.SetIamPolicy(saName(d1), &iam.SetIamPolicyRequest{Policy: p}).Do(); err != nil {
		t.Fatal(err)
	}
	if err := gen(); err != nil {
		t.Errorf("after an unrelated write: %v", err)
	}
	for _, b := range p.Bindings {
		if b.Condition != nil {
			b.Condition.Expression = `request.time > timestamp("2001-01-01T00:00:00Z")`
		}
	}
	if _, err = svc.Projects.ServiceAccounts.SetIamPolicy(saName(d1), &iam.SetIamPolicyRequest{Policy: p}).Do(); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, gen(), 403, "PERMISSION_DENIED")
	clock.Advance(time.Minute)
	if err := gen(); err != nil {
		t.Errorf("changed condition after the delay: %v", err)
	}

	// A false condition on the delegate hop breaks the chain.
	setConditional(t, s, d1, `request.time < timestamp("2000-01-01T00:00:00Z")`)
	clock.Advance(time.Minute)
	wantAPIError(t, gen(), 403, "PERMISSION_DENIED")
}
