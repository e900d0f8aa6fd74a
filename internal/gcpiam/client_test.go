package gcpiam

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
)

const admin = "user:admin@example.com"

// newFake starts fakegcp with one project whose owner is admin and one
// service account, and returns a client acting as admin.
func newFake(t *testing.T) (*fakegcp.Server, *Client, fakegcp.ServiceAccount) {
	t.Helper()
	s := fakegcp.NewTestServer(t)
	if err := s.Seed(fakegcp.Seed{Projects: []fakegcp.SeedProject{{
		ProjectID:       "airflow-prod",
		Bindings:        []fakegcp.Binding{{Role: "roles/owner", Members: []string{admin}}},
		ServiceAccounts: []fakegcp.SeedServiceAccount{{AccountID: "bq-target"}},
	}}}); err != nil {
		t.Fatal(err)
	}
	sa, ok := s.ServiceAccount("bq-target@airflow-prod.iam.gserviceaccount.com")
	if !ok {
		t.Fatal("seeded account missing")
	}
	c, err := NewClient(t.Context(), Config{AccessToken: s.AccessTokenFor(admin), IAMEndpoint: s.URL(), IAMCredentialsEndpoint: s.URL(), ResourceManagerEndpoint: s.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return s, c, sa
}

func TestServiceAccount_byEmailAndUniqueID(t *testing.T) {
	_, c, want := newFake(t)
	for _, ref := range []string{want.Email, want.UniqueID} {
		got, err := c.ServiceAccount(t.Context(), ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if got.Email != want.Email || got.UniqueID != want.UniqueID || got.ProjectID != "airflow-prod" {
			t.Errorf("%s: got %+v, want %+v", ref, got, want)
		}
	}
	_, err := c.ServiceAccount(t.Context(), "nobody@airflow-prod.iam.gserviceaccount.com")
	if !IsNotFound(err) {
		t.Errorf("missing account: err = %v, want a 404", err)
	}
}

// Writers addressing one account by email and by unique ID share one lock:
// twenty concurrent grants cost twenty writes, with no conflict to retry.
func TestAddMember_lockSharedByEmailAndUniqueID(t *testing.T) {
	s, c, sa := newFake(t)
	if _, err := c.ServiceAccount(t.Context(), sa.UniqueID); err != nil { // learn the unique ID's email once
		t.Fatal(err)
	}
	s.ResetCounts()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	var want []string
	for i := range 20 {
		ref := sa.Email
		if i%2 == 1 {
			ref = sa.UniqueID
		}
		member := fmt.Sprintf("user:u%02d@example.com", i)
		want = append(want, member)
		wg.Go(func() {
			if _, err := c.AddMember(t.Context(), ref, RoleTokenCreator, member); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	counts := s.RequestCounts()
	if got := counts["iam.projects.serviceAccounts.setIamPolicy"]; got != 20 {
		t.Errorf("setIamPolicy calls = %d, want 20: writers through the email and the unique ID collided", got)
	}
	p, err := s.Policy(sa.Email)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range p.Bindings {
		if b.Role == RoleTokenCreator {
			got = append(got, b.Members...)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("members = %v, want %v", got, want)
	}
}

// A grant costs one read and one write; a grant already in place costs one
// read and no write.
func TestAddMember_requestBudget(t *testing.T) {
	s, c, sa := newFake(t)
	s.ResetCounts()
	if added, err := c.AddMember(t.Context(), sa.Email, RoleTokenCreator, "user:a@example.com"); err != nil || !added {
		t.Fatalf("added=%v err=%v", added, err)
	}
	if added, err := c.AddMember(t.Context(), sa.Email, RoleTokenCreator, "user:a@example.com"); err != nil || added {
		t.Fatalf("second add: added=%v err=%v", added, err)
	}
	counts := s.RequestCounts()
	get, set := counts["iam.projects.serviceAccounts.getIamPolicy"], counts["iam.projects.serviceAccounts.setIamPolicy"]
	if get != 2 || set != 1 {
		t.Errorf("getIamPolicy, setIamPolicy = %d, %d; want 2, 1", get, set)
	}
}

// Through the real API shape: a version 3 policy with conditions survives an
// add and a remove, and an injected conflict is retried.
func TestModify_keepsConditionsAndRetriesConflicts(t *testing.T) {
	s, c, sa := newFake(t)
	cond := &fakegcp.Expr{Expression: `request.time < timestamp("2030-01-01T00:00:00Z")`, Title: "until-2030"}
	if err := s.SetPolicy(sa.Email, fakegcp.Policy{Version: 3, Bindings: []fakegcp.Binding{
		{Role: RoleTokenCreator, Members: []string{"group:oncall@example.com"}, Condition: cond},
		{Role: RoleTokenCreator, Members: []string{"user:keep@example.com"}},
	}}); err != nil {
		t.Fatal(err)
	}
	s.ResetCounts()
	s.InjectEtagConflicts(2)
	c.retry.Sleep = func(context.Context, time.Duration) error { return nil }
	if _, err := c.AddMember(t.Context(), sa.Email, RoleTokenCreator, "user:new@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RemoveMember(t.Context(), sa.Email, RoleTokenCreator, "user:keep@example.com"); err != nil {
		t.Fatal(err)
	}
	if got := s.RequestCounts()["iam.projects.serviceAccounts.setIamPolicy"]; got != 4 {
		t.Errorf("setIamPolicy calls = %d, want 4 (two writes, two conflicts retried)", got)
	}
	p, err := s.Policy(sa.Email)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 3 {
		t.Errorf("version = %d, want 3", p.Version)
	}
	var sawCond, sawNew bool
	for _, b := range p.Bindings {
		switch {
		case b.Condition != nil:
			sawCond = *b.Condition == *cond && slices.Equal(b.Members, []string{"group:oncall@example.com"})
		case b.Role == RoleTokenCreator:
			sawNew = slices.Equal(b.Members, []string{"user:new@example.com"})
		}
	}
	if !sawCond || !sawNew {
		t.Errorf("policy after edits: %+v", p.Bindings)
	}
}

// ID tokens minted through a chain verify against the signing keys, carry
// the account's unique ID in azp and sub, and a tampered token does not.
func TestIDTokens_mintAndVerify(t *testing.T) {
	s, _, target := newFake(t)
	c, err := NewClient(t.Context(), Config{AccessToken: s.AccessTokenFor(admin), IAMEndpoint: s.URL(), IAMCredentialsEndpoint: s.URL(), OAuth2Endpoint: s.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(target.Email, RoleOpenIDTokenCreator, admin); err != nil {
		t.Fatal(err)
	}
	tok, err := c.GenerateIDToken(t.Context(), target.Email, nil, "aud-1", true)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := c.VerifyIDToken(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Audience != "aud-1" || claims.AZP != target.UniqueID || claims.Subject != target.UniqueID || claims.Email != target.Email {
		t.Errorf("claims = %+v", claims)
	}
	tampered := tok[:len(tok)-4] + "AAAA"
	if _, err := c.VerifyIDToken(t.Context(), tampered); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("tampered token: err = %v", err)
	}
	// The key set was fetched once for both verifications.
	if n := s.RequestCounts()["oidc.jwks"]; n != 1 {
		t.Errorf("the signing keys were fetched %d times, want 1", n)
	}
	if email, err := c.CallerEmail(t.Context()); err != nil || email != "admin@example.com" {
		t.Errorf("CallerEmail = %q, %v", email, err)
	}
}

// A service-account key mints ID tokens for itself at its token URI.
func TestOwnIDToken_fromKey(t *testing.T) {
	s, _, target := newFake(t)
	key, err := s.CreateServiceAccountKey(target.Email)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(t.Context(), Config{Credentials: string(key), IAMEndpoint: s.URL(), IAMCredentialsEndpoint: s.URL(), OAuth2Endpoint: s.URL()})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.OwnIDToken(t.Context(), "aud-2")
	if err != nil {
		t.Fatal(err)
	}
	claims, err := c.VerifyIDToken(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	// Tokens from a key's token endpoint carry the email in azp, unlike
	// generateIdToken's.
	if claims.Audience != "aud-2" || claims.AZP != target.Email || claims.Subject != target.UniqueID {
		t.Errorf("claims = %+v", claims)
	}
	// An access token alone cannot.
	c2, err := NewClient(t.Context(), Config{AccessToken: "x", IAMEndpoint: s.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.OwnIDToken(t.Context(), "aud"); !errors.Is(err, ErrNoOwnIDToken) {
		t.Errorf("err = %v, want ErrNoOwnIDToken", err)
	}
}

func TestDiagnoseChain(t *testing.T) {
	s, c, target := newFake(t)
	d1, err := s.CreateServiceAccount("airflow-prod", "delegate-one")
	if err != nil {
		t.Fatal(err)
	}
	d2, err := s.CreateServiceAccount("airflow-prod", "delegate-two")
	if err != nil {
		t.Fatal(err)
	}
	hops := ChainHops(admin, []string{d1.Email, target.Email}, "")
	rep := c.DiagnoseChain(t.Context(), hops, PermissionGetAccessToken)
	if rep.Broken != 0 {
		t.Fatalf("no grants: %+v; want hop 0 broken", rep)
	}
	// The admin's only grant is roles/owner, inherited from the project,
	// which mints nothing.
	if h := rep.Hops[0]; h.Needed != PermissionImplicitDelegation || h.Hop.Role != RoleTokenCreator || h.Holds() ||
		len(h.Grants) != 1 || h.Grants[0].Role != "roles/owner" || h.Grants[0].Project != "airflow-prod" {
		t.Errorf("hop 0 = %+v", h)
	}
	if err := s.AddMember(d1.Email, RoleTokenCreator, admin); err != nil {
		t.Fatal(err)
	}
	// OpenID Token Creator is enough on the target for ID tokens, not for
	// access tokens.
	if err := s.AddMember(target.Email, RoleOpenIDTokenCreator, "serviceAccount:"+d1.Email); err != nil {
		t.Fatal(err)
	}
	rep = c.DiagnoseChain(t.Context(), hops, PermissionGetAccessToken)
	if rep.Broken != 1 || rep.Hops[1].Hop.Role != RoleTokenCreator || len(rep.Hops[1].Grants) != 1 || rep.Hops[1].Grants[0].Permits {
		t.Errorf("access tokens: %+v, want hop 1 broken by a too narrow grant", rep)
	}
	rep = c.DiagnoseChain(t.Context(), hops, PermissionGetOpenIDToken)
	if rep.Broken != -1 || rep.Unsure != -1 {
		t.Errorf("ID tokens: %+v, want nothing broken", rep)
	}
	if rep.Hops[1].Hop.Role != RoleOpenIDTokenCreator {
		t.Errorf("ID tokens: the working role on the target is %s", rep.Hops[1].Hop.Role)
	}

	// OpenID Token Creator on a delegate is too narrow: delegates need
	// implicitDelegation.
	if err := s.RemoveMember(d1.Email, RoleTokenCreator, admin); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(d1.Email, RoleOpenIDTokenCreator, admin); err != nil {
		t.Fatal(err)
	}
	rep = c.DiagnoseChain(t.Context(), hops, PermissionGetOpenIDToken)
	if rep.Broken != 0 || !slices.ContainsFunc(rep.Hops[0].Grants, func(g Grant) bool { return g.Role == RoleOpenIDTokenCreator && !g.Permits }) {
		t.Errorf("OpenID on a delegate: %+v, want hop 0 broken", rep)
	}

	// Grants present in another order than the delegates.
	three := ChainHops(admin, []string{d2.Email, d1.Email, target.Email}, "")
	if err := s.AddMember(d2.Email, RoleTokenCreator, "serviceAccount:"+d1.Email); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(d1.Email, RoleTokenCreator, admin); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(target.Email, RoleOpenIDTokenCreator, "serviceAccount:"+d2.Email); err != nil {
		t.Fatal(err)
	}
	rep = c.DiagnoseChain(t.Context(), three, PermissionGetOpenIDToken)
	if rep.Broken != 0 || !slices.Equal(rep.Order, []string{d1.Email, d2.Email}) {
		t.Errorf("reversed delegates: broken %d, order %v; want 0 and %v", rep.Broken, rep.Order, []string{d1.Email, d2.Email})
	}
}

// A grant through domain:D counts for a user of D; one through a group may
// or may not, so the hop is unsure rather than broken; a policy the caller
// cannot read makes its hop unsure too.
func TestDiagnoseChain_membersAndUnreadablePolicies(t *testing.T) {
	s, c, target := newFake(t)
	hops := ChainHops(admin, []string{target.Email}, "")
	if err := s.AddMember(target.Email, RoleTokenCreator, "domain:example.com"); err != nil {
		t.Fatal(err)
	}
	if rep := c.DiagnoseChain(t.Context(), hops, PermissionGetAccessToken); rep.Broken != -1 || rep.Unsure != -1 || !rep.Hops[0].Holds() {
		t.Errorf("domain member: %+v, want the hop held", rep)
	}
	if err := s.RemoveMember(target.Email, RoleTokenCreator, "domain:example.com"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(target.Email, RoleTokenCreator, "group:ops@example.com"); err != nil {
		t.Fatal(err)
	}
	rep := c.DiagnoseChain(t.Context(), hops, PermissionGetAccessToken)
	if rep.Broken != -1 || rep.Unsure != 0 || rep.Hops[0].Grants[0].Member != "group:ops@example.com" {
		t.Errorf("group member: %+v, want hop 0 unsure through the group", rep)
	}

	// A caller without getIamPolicy on the account or its project.
	intern, err := NewClient(t.Context(), Config{AccessToken: s.AccessTokenFor("user:intern@example.com"), IAMEndpoint: s.URL(),
		IAMCredentialsEndpoint: s.URL(), ResourceManagerEndpoint: s.URL()})
	if err != nil {
		t.Fatal(err)
	}
	rep = intern.DiagnoseChain(t.Context(), ChainHops("user:intern@example.com", []string{target.Email}, ""), PermissionGetAccessToken)
	if rep.Broken != -1 || rep.Unsure != 0 || rep.Hops[0].PolicyUnread == "" || rep.Hops[0].ProjectUnread == "" {
		t.Errorf("unreadable policies: %+v, want hop 0 unsure", rep)
	}
}

// A plan's read stands in for the first read of the grant that follows it:
// planning and making a new grant cost one read and one write.
func TestPlanPolicy_servesTheNextWrite(t *testing.T) {
	s, c, sa := newFake(t)
	s.ResetCounts()
	p, err := c.PlanPolicy(t.Context(), sa.Email)
	if err != nil || PolicyHasMember(p, RoleTokenCreator, "user:a@example.com") {
		t.Fatalf("plan read: %v, %v", p, err)
	}
	if added, err := c.AddMember(t.Context(), sa.Email, RoleTokenCreator, "user:a@example.com"); err != nil || !added {
		t.Fatalf("added=%v err=%v", added, err)
	}
	counts := s.RequestCounts()
	if get, set := counts["iam.projects.serviceAccounts.getIamPolicy"], counts["iam.projects.serviceAccounts.setIamPolicy"]; get != 1 || set != 1 {
		t.Errorf("getIamPolicy, setIamPolicy = %d, %d; want 1, 1", get, set)
	}
	// Used once: the next write reads again.
	s.ResetCounts()
	if added, err := c.AddMember(t.Context(), sa.Email, RoleTokenCreator, "user:b@example.com"); err != nil || !added {
		t.Fatalf("added=%v err=%v", added, err)
	}
	if get := s.RequestCounts()["iam.projects.serviceAccounts.getIamPolicy"]; get != 1 {
		t.Errorf("getIamPolicy = %d after the plan's read was used, want 1", get)
	}
}

// A change made between the plan's read and the write is kept: the write
// carries the plan's etag, Google refuses it, and the write starts again
// from a fresh read.
func TestPlanPolicy_changeAfterThePlanIsKept(t *testing.T) {
	s, c, sa := newFake(t)
	if _, err := c.PlanPolicy(t.Context(), sa.Email); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPolicy(sa.Email, fakegcp.Policy{Version: 1, Bindings: []fakegcp.Binding{
		{Role: RoleTokenCreator, Members: []string{"user:someone-else@example.com"}},
	}}); err != nil {
		t.Fatal(err)
	}
	s.ResetCounts()
	c.retry.Sleep = func(context.Context, time.Duration) error { return nil }
	if added, err := c.AddMember(t.Context(), sa.Email, RoleTokenCreator, "user:a@example.com"); err != nil || !added {
		t.Fatalf("added=%v err=%v", added, err)
	}
	p, err := c.Policy(t.Context(), sa.Email)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"user:someone-else@example.com", "user:a@example.com"} {
		if !PolicyHasMember(p, RoleTokenCreator, m) {
			t.Errorf("%s missing after the write: %+v", m, p.Bindings)
		}
	}
	if set := s.RequestCounts()["iam.projects.serviceAccounts.setIamPolicy"]; set != 2 {
		t.Errorf("setIamPolicy = %d, want 2 (refused on the plan's etag, then written)", set)
	}
}

// A plan's read that finds the grant in place is not trusted for "nothing
// to write": a fresh read decides, so a grant removed since is made again.
func TestPlanPolicy_noWriteIsConfirmedByAFreshRead(t *testing.T) {
	s, c, sa := newFake(t)
	if _, err := c.AddMember(t.Context(), sa.Email, RoleTokenCreator, "user:a@example.com"); err != nil {
		t.Fatal(err)
	}
	if p, err := c.PlanPolicy(t.Context(), sa.Email); err != nil || !PolicyHasMember(p, RoleTokenCreator, "user:a@example.com") {
		t.Fatalf("plan read: %v, %v", p, err)
	}
	if err := s.SetPolicy(sa.Email, fakegcp.Policy{Version: 1}); err != nil {
		t.Fatal(err)
	}
	added, err := c.AddMember(t.Context(), sa.Email, RoleTokenCreator, "user:a@example.com")
	if err != nil || !added {
		t.Fatalf("added=%v err=%v, want the grant made again", added, err)
	}
}

// A plan's read older than plannedFor is not used.
func TestPlanPolicy_oldReadIsNotUsed(t *testing.T) {
	s, c, sa := newFake(t)
	if _, err := c.PlanPolicy(t.Context(), sa.Email); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	for k, p := range c.planned {
		p.at = p.at.Add(-2 * plannedFor)
		c.planned[k] = p
	}
	c.mu.Unlock()
	s.ResetCounts()
	if _, err := c.AddMember(t.Context(), sa.Email, RoleTokenCreator, "user:a@example.com"); err != nil {
		t.Fatal(err)
	}
	if get := s.RequestCounts()["iam.projects.serviceAccounts.getIamPolicy"]; get != 1 {
		t.Errorf("getIamPolicy = %d, want 1 (the old read was not used)", get)
	}
}
