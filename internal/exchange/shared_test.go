package exchange

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awspolicy"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

const delegate = "d0@p.iam.gserviceaccount.com"

var base = time.Unix(1.9e9, 0)

// countingGoogle counts every call, safely across checks running at once.
// brokenHop (-1: none) is a hop with no grant; while denials > 0 every
// mint is denied and the count goes down.
type countingGoogle struct {
	mu          sync.Mutex
	calls       map[string]int
	policyReads map[string]int
	brokenHop   int
	denials     int
	exp         time.Time
}

func newCountingGoogle() *countingGoogle {
	return &countingGoogle{calls: map[string]int{}, policyReads: map[string]int{}, brokenHop: -1, exp: base.Add(time.Hour)}
}

func (g *countingGoogle) count(name string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[name]
}

func (g *countingGoogle) tick(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls[name]++
}

func (g *countingGoogle) deny() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.brokenHop >= 0 {
		return true
	}
	if g.denials > 0 {
		g.denials--
		return true
	}
	return false
}

func (g *countingGoogle) CallerEmail(context.Context) (string, error) {
	g.tick("caller")
	return "ci@p.iam.gserviceaccount.com", nil
}

func (g *countingGoogle) GenerateIDToken(_ context.Context, target string, delegates []string, audience string, _ bool) (string, error) {
	g.tick("id-token")
	// Let checks that start at the same time find the call in flight.
	time.Sleep(time.Millisecond)
	if g.deny() {
		return "", denied
	}
	payload := fmt.Sprintf(`{"exp":%d,"aud":%q,"sub":%q}`, g.exp.Unix(), audience, target+strings.Join(delegates, ","))
	return "h." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".s", nil
}

func (g *countingGoogle) OwnIDToken(context.Context, string) (string, error) {
	return "", gcpiam.ErrNoOwnIDToken
}

func (g *countingGoogle) VerifyIDToken(context.Context, string) (*gcpiam.IDClaims, error) {
	g.tick("verify")
	return &gcpiam.IDClaims{Audience: "aud-1", AZP: workerID, Subject: workerID, Email: worker, Expiry: g.exp.Unix()}, nil
}

func (g *countingGoogle) GenerateAccessToken(context.Context, string, []string, []string) (*oauth2.Token, error) {
	g.tick("access-token")
	if g.deny() {
		return nil, denied
	}
	return &oauth2.Token{AccessToken: "ya29.x", Expiry: g.exp}, nil
}

// DiagnoseChain reads each hop's policy (counted per account) and reports
// brokenHop as holding nothing.
func (g *countingGoogle) DiagnoseChain(_ context.Context, hops []gcpiam.Hop, permission string) *gcpiam.ChainReport {
	g.tick("diagnose")
	g.mu.Lock()
	defer g.mu.Unlock()
	rep := &gcpiam.ChainReport{Broken: g.brokenHop, Unsure: -1}
	for i, h := range hops {
		g.policyReads[h.ServiceAccount]++
		hr := gcpiam.HopReport{Hop: h, Needed: gcpiam.NeededAt(i, len(hops), permission)}
		hr.Hop.Role = gcpiam.WorkingRole(h.Grantee, hr.Needed)
		if i != g.brokenHop {
			hr.Grants = []gcpiam.Grant{{Role: hr.Hop.Role, Permits: true, Known: true, ConditionNow: 1, Direct: true}}
		}
		rep.Hops = append(rep.Hops, hr)
	}
	return rep
}

// countingAWS is one account whose roles all trust the worker.
type countingAWS struct {
	mu          sync.Mutex
	trustReads  map[string]int
	exchanges   map[string]int
	identities  int
	accountRead int
}

func newCountingAWS() *countingAWS {
	return &countingAWS{trustReads: map[string]int{}, exchanges: map[string]int{}}
}

func (a *countingAWS) CallerAccount(context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.accountRead++
	return "123456789012", nil
}

func (a *countingAWS) TrustPolicy(_ context.Context, role string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.trustReads[role]++
	return awspolicy.GoogleTrust(workerID, worker, "aud-1").JSON(), nil
}

func (a *countingAWS) AssumeRoleWithWebIdentity(_ context.Context, role, _, _ string) (*awsiam.TemporaryCredentials, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.exchanges[role]++
	return &awsiam.TemporaryCredentials{AccessKeyID: "ASIA" + role, AssumedRoleARN: role + "/s", Expiration: base.Add(time.Hour)}, nil
}

func (a *countingAWS) CallerIdentity(context.Context, *awsiam.TemporaryCredentials) (string, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.identities++
	return "123456789012", "", nil
}

func sum(m map[string]int) (total, most int) {
	for _, n := range m {
		total += n
		most = max(most, n)
	}
	return total, most
}

func sharedChecker(g Google, a AWS, s *Shared) *Checker {
	return &Checker{Google: g, AWS: a, Shared: s, Now: func() time.Time { return base },
		Sleep: func(context.Context, time.Duration) error { return nil }}
}

func roleInput(i int) Input {
	return Input{RoleARN: fmt.Sprintf("arn:aws:iam::123456789012:role/r%d", i), Audience: "aud-1",
		ServiceAccount: worker, Delegates: []string{delegate}, PropagationTimeout: time.Minute}
}

// runAll runs the checks at once, as Terraform reads data sources in
// parallel, and returns their results in order.
func runAll(c *Checker, ins []Input) []*Result {
	out := make([]*Result, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Go(func() { out[i] = c.Run(context.Background(), in) })
	}
	wg.Wait()
	return out
}

func hundredRoles() []Input {
	ins := make([]Input, 100)
	for i := range ins {
		ins[i] = roleInput(i)
	}
	return ins
}

// 100 checks over 100 roles trusted by one account with one audience: one
// ID token, one verification, one exchange and one trust-policy read per
// role.
func TestShared_hundredRolesOneAccount(t *testing.T) {
	g, a := newCountingGoogle(), newCountingAWS()
	res := runAll(sharedChecker(g, a, &Shared{}), hundredRoles())
	for i, r := range res {
		if r.Failure != nil {
			t.Fatalf("check %d: %+v", i, r.Failure)
		}
		if want := fmt.Sprintf("arn:aws:iam::123456789012:role/r%d/s", i); r.AssumedRoleARN != want {
			t.Errorf("check %d assumed %s, want %s", i, r.AssumedRoleARN, want)
		}
	}
	for name, want := range map[string]int{"caller": 1, "id-token": 1, "verify": 1, "diagnose": 0} {
		if got := g.count(name); got != want {
			t.Errorf("%s: %d calls, want %d", name, got, want)
		}
	}
	if total, most := sum(a.exchanges); total != 100 || most != 1 {
		t.Errorf("STS exchanges: %d (at most %d per role), want 100 (1 per role)", total, most)
	}
	if total, most := sum(a.trustReads); total != 100 || most != 1 {
		t.Errorf("trust-policy reads: %d (at most %d per role), want 100 (1 per role)", total, most)
	}
	if a.accountRead != 1 || a.identities != 100 {
		t.Errorf("caller account read %d times (want 1), caller identities %d (want 100)", a.accountRead, a.identities)
	}
}

// A broken hop shared by 100 checks is diagnosed once, each hop policy read
// once, and every check names it.
func TestShared_brokenHopDiagnosedForEveryCheck(t *testing.T) {
	g, a := newCountingGoogle(), newCountingAWS()
	g.brokenHop = 1
	res := runAll(sharedChecker(g, a, &Shared{}), hundredRoles())
	want := "Impersonation Hop 2 of 2 Is Broken: " + delegate + " Cannot Mint ID Tokens for " + worker
	for i, r := range res {
		if r.Failure == nil || r.Failure.Summary != want || r.Failure.Step != StepIDToken {
			t.Fatalf("check %d: failure %+v, want %q", i, r.Failure, want)
		}
		if !strings.Contains(r.Failure.Detail, "--role="+gcpiam.RoleOpenIDTokenCreator) {
			t.Errorf("check %d: detail lacks the fix: %s", i, r.Failure.Detail)
		}
	}
	if n := g.count("id-token"); n != 1 {
		t.Errorf("minted %d times, want 1", n)
	}
	if n := g.count("diagnose"); n != 1 {
		t.Errorf("diagnosed %d times, want 1", n)
	}
	for sa, n := range g.policyReads {
		if n > 1 {
			t.Errorf("policy of %s read %d times, want at most 1", sa, n)
		}
	}
	if total, _ := sum(a.exchanges); total != 0 {
		t.Errorf("%d STS exchanges after a failed mint", total)
	}
}

// Checks sharing a diagnosis each adjust their own copy: the one whose
// workers' account is also a delegate of gcp_impersonation_chain is told
// Token Creator, the other OpenID Token Creator, in either order.
func TestShared_diagnosisIsCopiedPerCheck(t *testing.T) {
	g := newCountingGoogle()
	g.brokenHop = 1
	c := sharedChecker(g, newCountingAWS(), &Shared{})
	plain := roleInput(0)
	chained := roleInput(0)
	chained.GCPChain = []string{"t@p.iam.gserviceaccount.com"}
	for _, in := range []Input{chained, plain, chained, plain} {
		want := gcpiam.RoleOpenIDTokenCreator
		if len(in.GCPChain) > 0 {
			want = gcpiam.RoleTokenCreator
		}
		r := c.Run(t.Context(), in)
		if r.Failure == nil || !strings.Contains(r.Failure.Detail, "--role="+want+"\n") && !strings.HasSuffix(r.Failure.Detail, "--role="+want) {
			t.Errorf("chain %v: detail does not name %s: %+v", in.GCPChain, want, r.Failure)
		}
	}
	if n := g.count("diagnose"); n != 1 {
		t.Errorf("diagnosed %d times, want 1", n)
	}
}

// A check that waits for propagation mints again after the wait; a later
// check reuses its success.
func TestShared_propagationRetryMintsAgain(t *testing.T) {
	g := newCountingGoogle()
	g.denials = 1
	c := sharedChecker(g, newCountingAWS(), &Shared{})
	for i := range 2 {
		if r := c.Run(t.Context(), roleInput(i)); r.Failure != nil {
			t.Fatalf("check %d: %+v", i, r.Failure)
		}
	}
	if n := g.count("id-token"); n != 2 {
		t.Errorf("minted %d times, want 2 (a denial, then the retry, shared by the second check)", n)
	}
	if n := g.count("diagnose"); n != 1 {
		t.Errorf("diagnosed %d times, want 1", n)
	}
}

// A token is reused only while it is valid, with a margin.
func TestShared_expiredTokenIsMintedAgain(t *testing.T) {
	g := newCountingGoogle()
	s := &Shared{}
	for i, now := range []time.Time{base, base.Add(50 * time.Minute), base.Add(56 * time.Minute)} {
		c := sharedChecker(g, newCountingAWS(), s)
		c.Now = func() time.Time { return now }
		if r := c.Run(t.Context(), roleInput(0)); r.Failure != nil {
			t.Fatalf("check %d: %+v", i, r.Failure)
		}
	}
	if n := g.count("id-token"); n != 2 {
		t.Errorf("minted %d times, want 2 (reused at +50m, minted again within 5m of expiry)", n)
	}
}

// A call cut short by its caller's context is not handed to others.
func TestShared_cancelledCallIsNotShared(t *testing.T) {
	s := &Shared{}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	now := func() time.Time { return base }
	_, err := s.do(ctx, "k", 0, now, func() (result, error) { return result{}, ctx.Err() })
	if err == nil {
		t.Fatal("want the cancellation")
	}
	v, err := s.do(t.Context(), "k", 0, now, func() (result, error) { return result{val: "ok", forever: true}, nil })
	if err != nil || v != "ok" {
		t.Errorf("second call got %v, %v; want ok", v, err)
	}
}

func TestJWTExpiry(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"exp":1900000000}`))
	for token, want := range map[string]time.Time{
		"h." + payload + ".s": time.Unix(1900000000, 0),
		"h.payload.s":         {},
		"not-a-jwt":           {},
		"h.e30.s":             {}, // {}
	} {
		if got := jwtExpiry(token); !got.Equal(want) {
			t.Errorf("jwtExpiry(%q) = %v, want %v", token, got, want)
		}
	}
}
