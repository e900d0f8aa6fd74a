package fakegcp

import (
	"encoding/base64"
	"strings"
	"testing"

	iamcredentials "google.golang.org/api/iamcredentials/v1"
)

const openIDTokenCreator = "roles/iam.serviceAccountOpenIdTokenCreator"

// Google requires Token Creator (implicitDelegation) on every delegate of
// a chain; OpenID Token Creator counts only on the target. A 2-hop chain
// alice -> d1 -> target.
func TestDelegateHopNeedsImplicitDelegation(t *testing.T) {
	s := newSeeded(t, []string{"delegate-one", "target-sa"})
	d1, target := saEmail("delegate-one"), saEmail("target-sa")
	cred := credClient(t, s, s.AccessTokenFor(alice))
	idToken := func() error {
		_, err := cred.Projects.ServiceAccounts.GenerateIdToken(saName(target), &iamcredentials.GenerateIdTokenRequest{
			Audience: "sts.amazonaws.com", Delegates: []string{saName(d1)},
		}).Do()
		return err
	}
	accessToken := func() error {
		_, err := cred.Projects.ServiceAccounts.GenerateAccessToken(saName(target), &iamcredentials.GenerateAccessTokenRequest{
			Scope: []string{scopeCloudPlatform}, Delegates: []string{saName(d1)},
		}).Do()
		return err
	}
	grant := func(on, role, who string) {
		t.Helper()
		if err := s.AddMember(on, role, who); err != nil {
			t.Fatal(err)
		}
	}
	revoke := func(on, role, who string) {
		t.Helper()
		if err := s.RemoveMember(on, role, who); err != nil {
			t.Fatal(err)
		}
	}

	// OpenID Token Creator on both hops: the first hop has no
	// implicitDelegation, so Google refuses the chain.
	grant(d1, openIDTokenCreator, alice)
	grant(target, openIDTokenCreator, "serviceAccount:"+d1)
	ge := wantAPIError(t, idToken(), 403, "PERMISSION_DENIED")
	// The denial names the requested permission, not the hop or
	// implicitDelegation.
	if ge.Message != "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist)." || strings.Contains(ge.Body, d1) {
		t.Errorf("403 %s", ge.Body)
	}
	// Yet alice may mint ID tokens for d1 itself, without delegates.
	if _, err := cred.Projects.ServiceAccounts.GenerateIdToken(saName(d1), &iamcredentials.GenerateIdTokenRequest{Audience: "a"}).Do(); err != nil {
		t.Errorf("direct ID token for d1: %v", err)
	}

	// Token Creator on the first hop, OpenID Token Creator on the last:
	// what Google accepts for ID tokens.
	grant(d1, tokenCreator, alice)
	revoke(d1, openIDTokenCreator, alice)
	if err := idToken(); err != nil {
		t.Fatalf("TC on d1, OIDC on target: %v", err)
	}
	// Access tokens need getAccessToken on the target, which OpenID Token
	// Creator lacks.
	wantAPIError(t, accessToken(), 403, "PERMISSION_DENIED")

	// Downgrading the first hop to OpenID Token Creator breaks the chain
	// again.
	revoke(d1, tokenCreator, alice)
	grant(d1, openIDTokenCreator, alice)
	wantAPIError(t, idToken(), 403, "PERMISSION_DENIED")

	// Workload Identity User mints tokens for the account itself but does
	// not make it a delegate either.
	revoke(d1, openIDTokenCreator, alice)
	grant(d1, "roles/iam.workloadIdentityUser", alice)
	if _, err := cred.Projects.ServiceAccounts.GenerateAccessToken(saName(d1), &iamcredentials.GenerateAccessTokenRequest{Scope: []string{scopeCloudPlatform}}).Do(); err != nil {
		t.Errorf("direct access token with Workload Identity User: %v", err)
	}
	wantAPIError(t, idToken(), 403, "PERMISSION_DENIED")

	// Token Creator on both hops serves both token kinds.
	grant(d1, tokenCreator, alice)
	grant(target, tokenCreator, "serviceAccount:"+d1)
	if err := idToken(); err != nil {
		t.Errorf("ID token, TC on both hops: %v", err)
	}
	if err := accessToken(); err != nil {
		t.Errorf("access token, TC on both hops: %v", err)
	}
}

// In a 3-hop chain alice -> d1 -> d2 -> target, the middle hop is a
// delegate too.
func TestMiddleHopNeedsImplicitDelegation(t *testing.T) {
	s, chain := chainServer(t)
	d1, d2, target := chain[0], chain[1], chain[2]
	cred := credClient(t, s, s.AccessTokenFor(alice))
	idToken := func() error {
		_, err := cred.Projects.ServiceAccounts.GenerateIdToken(saName(target), &iamcredentials.GenerateIdTokenRequest{
			Audience: "aud", Delegates: []string{saName(d1), saName(d2)},
		}).Do()
		return err
	}
	if err := idToken(); err != nil {
		t.Fatal(err)
	}
	// d1 on d2 with OpenID Token Creator only.
	if err := s.RemoveMember(d2, tokenCreator, "serviceAccount:"+d1); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(d2, openIDTokenCreator, "serviceAccount:"+d1); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, idToken(), 403, "PERMISSION_DENIED")
	// Back to Token Creator on d2, and OpenID Token Creator on the last hop
	// only: accepted.
	if err := s.AddMember(d2, tokenCreator, "serviceAccount:"+d1); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveMember(target, tokenCreator, "serviceAccount:"+d2); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(target, openIDTokenCreator, "serviceAccount:"+d2); err != nil {
		t.Fatal(err)
	}
	if err := idToken(); err != nil {
		t.Errorf("OIDC on the last hop only: %v", err)
	}
}

// signJwt and signBlob take delegates and follow the same rule: the
// requested permission on the target, implicitDelegation on each delegate.
func TestSignWithDelegates(t *testing.T) {
	s := newSeeded(t, []string{"delegate-one", "target-sa"})
	d1, target := saEmail("delegate-one"), saEmail("target-sa")
	cred := credClient(t, s, s.AccessTokenFor(alice))
	if err := s.AddMember(target, tokenCreator, "serviceAccount:"+d1); err != nil {
		t.Fatal(err)
	}
	sign := func() (error, error) {
		_, jerr := cred.Projects.ServiceAccounts.SignJwt(saName(target), &iamcredentials.SignJwtRequest{
			Payload: `{"sub":"x"}`, Delegates: []string{saName(d1)},
		}).Do()
		_, berr := cred.Projects.ServiceAccounts.SignBlob(saName(target), &iamcredentials.SignBlobRequest{
			Payload: base64.StdEncoding.EncodeToString([]byte("blob")), Delegates: []string{saName(d1)},
		}).Do()
		return jerr, berr
	}
	// OpenID Token Creator on d1 is no delegation grant.
	if err := s.AddMember(d1, openIDTokenCreator, alice); err != nil {
		t.Fatal(err)
	}
	jerr, berr := sign()
	if ge := wantAPIError(t, jerr, 403, "PERMISSION_DENIED"); !strings.Contains(ge.Message, "iam.serviceAccounts.signJwt") {
		t.Errorf("signJwt 403 %q", ge.Message)
	}
	if ge := wantAPIError(t, berr, 403, "PERMISSION_DENIED"); !strings.Contains(ge.Message, "iam.serviceAccounts.signBlob") {
		t.Errorf("signBlob 403 %q", ge.Message)
	}
	if err := s.AddMember(d1, tokenCreator, alice); err != nil {
		t.Fatal(err)
	}
	if jerr, berr := sign(); jerr != nil || berr != nil {
		t.Errorf("with Token Creator on d1: signJwt %v, signBlob %v", jerr, berr)
	}
	// OpenID Token Creator on the target does not sign.
	if err := s.RemoveMember(target, tokenCreator, "serviceAccount:"+d1); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(target, openIDTokenCreator, "serviceAccount:"+d1); err != nil {
		t.Fatal(err)
	}
	jerr, berr = sign()
	wantAPIError(t, jerr, 403, "PERMISSION_DENIED")
	wantAPIError(t, berr, 403, "PERMISSION_DENIED")
}

// Grants inherited from the project count on every account of the project,
// for delegate hops and for the target.
func TestProjectGrantsInChains(t *testing.T) {
	s := newSeeded(t, []string{"delegate-one", "target-sa", "other-sa"})
	d1, target := saEmail("delegate-one"), saEmail("target-sa")
	cred := credClient(t, s, s.AccessTokenFor(alice))
	idToken := func(delegates ...string) error {
		_, err := cred.Projects.ServiceAccounts.GenerateIdToken(saName(target), &iamcredentials.GenerateIdTokenRequest{
			Audience: "aud", Delegates: delegates,
		}).Do()
		return err
	}
	wantAPIError(t, idToken(), 403, "PERMISSION_DENIED")
	// Token Creator on the project: alice may mint for any account of it.
	if err := s.SetProjectBindings(testProject, []Binding{
		{Role: "roles/owner", Members: []string{admin}},
		{Role: tokenCreator, Members: []string{alice}},
		{Role: openIDTokenCreator, Members: []string{"serviceAccount:" + d1}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := idToken(); err != nil {
		t.Errorf("direct, project Token Creator: %v", err)
	}
	if _, err := cred.Projects.ServiceAccounts.GenerateAccessToken(saName(saEmail("other-sa")), &iamcredentials.GenerateAccessTokenRequest{Scope: []string{scopeCloudPlatform}}).Do(); err != nil {
		t.Errorf("another account of the project: %v", err)
	}
	// alice -> d1 through the project's Token Creator, d1 -> target through
	// the project's OpenID Token Creator.
	if err := idToken(saName(d1)); err != nil {
		t.Errorf("chain through project grants: %v", err)
	}
	_, err := cred.Projects.ServiceAccounts.GenerateAccessToken(saName(target), &iamcredentials.GenerateAccessTokenRequest{
		Scope: []string{scopeCloudPlatform}, Delegates: []string{saName(d1)},
	}).Do()
	wantAPIError(t, err, 403, "PERMISSION_DENIED")
	// A grant in another project counts for none of these accounts.
	if err := s.SetProjectBindings("other-project", []Binding{{Role: tokenCreator, Members: []string{"user:bob@example.com"}}}); err != nil {
		t.Fatal(err)
	}
	_, err = credClient(t, s, s.AccessTokenFor("user:bob@example.com")).Projects.ServiceAccounts.GenerateIdToken(saName(target),
		&iamcredentials.GenerateIdTokenRequest{Audience: "aud"}).Do()
	wantAPIError(t, err, 403, "PERMISSION_DENIED")
}

// A disabled target or delegate fails with FAILED_PRECONDITION, but only for
// a caller allowed to walk the chain; a deleted one is 404, and a new
// account with the same email inherits none of the old one's grants.
func TestDisabledAndDeletedHops(t *testing.T) {
	s, chain := chainServer(t)
	d1, d2, target := chain[0], chain[1], chain[2]
	delegates := []string{saName(d1), saName(d2)}
	gen := func(tok string) error {
		_, err := credClient(t, s, tok).Projects.ServiceAccounts.GenerateAccessToken(saName(target), &iamcredentials.GenerateAccessTokenRequest{
			Scope: []string{scopeCloudPlatform}, Delegates: delegates,
		}).Do()
		return err
	}
	aliceTok := s.AccessTokenFor(alice)
	for _, disabled := range []string{d2, target} {
		if err := s.SetServiceAccountDisabled(disabled, true); err != nil {
			t.Fatal(err)
		}
		wantAPIError(t, gen(aliceTok), 400, "FAILED_PRECONDITION")
		// Someone without the grants learns nothing about the account.
		wantAPIError(t, gen(s.AccessTokenFor("user:mallory@example.com")), 403, "PERMISSION_DENIED")
		if err := s.SetServiceAccountDisabled(disabled, false); err != nil {
			t.Fatal(err)
		}
		if err := gen(aliceTok); err != nil {
			t.Fatalf("after enabling %s: %v", disabled, err)
		}
	}

	// Delete d2: the chain names an unknown account.
	old, _ := s.ServiceAccount(d2)
	if err := s.DeleteServiceAccount(d2); err != nil {
		t.Fatal(err)
	}
	ge := wantAPIError(t, gen(aliceTok), 404, "NOT_FOUND")
	if !strings.Contains(ge.Message, d2) {
		t.Errorf("404 %q", ge.Message)
	}
	// Recreated with the same email, d2 is a new principal: the target's
	// binding now names deleted:serviceAccount:d2?uid=OLD and grants it
	// nothing, and d1's grant on the old d2 went with its policy.
	if _, err := s.CreateServiceAccount(testProject, "delegate-two"); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Policy(target)
	if len(p.Bindings) != 1 || p.Bindings[0].Members[0] != "deleted:serviceAccount:"+d2+"?uid="+old.UniqueID {
		t.Errorf("target policy %+v", p.Bindings)
	}
	wantAPIError(t, gen(aliceTok), 403, "PERMISSION_DENIED")
	if err := s.AddMember(d2, tokenCreator, "serviceAccount:"+d1); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, gen(aliceTok), 403, "PERMISSION_DENIED")
	if err := s.AddMember(target, tokenCreator, "serviceAccount:"+d2); err != nil {
		t.Fatal(err)
	}
	if err := gen(aliceTok); err != nil {
		t.Errorf("after granting the new d2: %v", err)
	}

	// A deleted target is 404 too.
	if err := s.DeleteServiceAccount(target); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, gen(aliceTok), 404, "NOT_FOUND")
}
