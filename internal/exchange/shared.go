package exchange

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

// Shared holds what checks of one provider process have in common: the
// caller's identities, each distinct ID token (account, delegates,
// audience), access token, chain diagnosis, trust policy and STS exchange.
// Each is made once and reused by every check that needs it; checks that
// need the same one at the same time wait for a single call. A failure is
// reused too, except by a check that retries it after waiting for IAM
// propagation, which calls again (once for all who retry it). Tokens and
// credentials are reused only while they are valid. Everything stays in
// memory and goes with the process. The zero value is ready to use; a
// Shared must not be copied.
type Shared struct {
	mu      sync.Mutex
	seq     uint64 // completions so far
	entries map[string]*entry
}

// entry is one call's result, or a call in flight when done is open.
type entry struct {
	done chan struct{}
	val  any
	err  error
	// seq orders completions; a propagation retry redoes a failure, or a
	// diagnosis, that completed at or before the sequence it saw.
	seq uint64
	// until is when a result stops being valid; zero means as long as the
	// process lives. A result whose lifetime is unknown is never reused
	// once complete.
	until time.Time
	// retriable marks a result that a propagation retry redoes (failures
	// always are).
	retriable bool
}

// reuseMargin is how long before its expiry a token or credential stops
// being reused, so that the check never hands on one about to lapse.
const reuseMargin = 5 * time.Minute

// result is what a shared call returns: the value, until when it may be
// reused (zero with forever for no limit), and whether a retry redoes it.
type result struct {
	val       any
	until     time.Time
	forever   bool
	retriable bool
}

// completed returns how many calls have completed so far: a retry redoes
// the failures among them.
func (s *Shared) completed() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// do returns the result of fn for key: one in flight or one still
// reusable, else fn's own. retryAfter is 0, or the completions seen by a
// check retrying after a propagation wait, whose failures are redone.
func (s *Shared) do(ctx context.Context, key string, retryAfter uint64, now func() time.Time, fn func() (result, error)) (any, error) {
	for {
		s.mu.Lock()
		if s.entries == nil {
			s.entries = map[string]*entry{}
		}
		e := s.entries[key]
		if e != nil && !e.pending() && !e.reusable(retryAfter, now()) {
			e = nil
		}
		if e == nil {
			e = &entry{done: make(chan struct{})}
			s.entries[key] = e
			s.mu.Unlock()
			s.finish(key, e, fn)
			return e.val, e.err
		}
		s.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		// The call was cut short by its own caller's context, not ours:
		// call again.
		if isContextError(e.err) && ctx.Err() == nil {
			continue
		}
		return e.val, e.err
	}
}

func (s *Shared) finish(key string, e *entry, fn func() (result, error)) {
	res, err := fn()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	e.val, e.err, e.seq, e.retriable = res.val, err, s.seq, res.retriable
	switch {
	case err != nil && isContextError(err):
		// Never shared: the next caller calls again.
		delete(s.entries, key)
	case err == nil && (res.forever || res.retriable):
	case err == nil && res.until.IsZero():
		delete(s.entries, key)
	case err == nil:
		e.until = res.until
	}
	close(e.done)
}

func (e *entry) pending() bool {
	select {
	case <-e.done:
		return false
	default:
		return true
	}
}

func (e *entry) reusable(retryAfter uint64, now time.Time) bool {
	if e.err != nil || e.retriable {
		return e.seq > retryAfter
	}
	return e.until.IsZero() || now.Before(e.until)
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// key joins a call's name and arguments.
func key(parts ...string) string { return strings.Join(parts, "\x00") }

// validUntil is when a token or credential expiring at exp stops being
// reused; zero (never reused) when exp is unknown.
func validUntil(exp time.Time) time.Time {
	if exp.IsZero() {
		return time.Time{}
	}
	return exp.Add(-reuseMargin)
}

// jwtExpiry reads the exp claim of a JWT without verifying it: only to know
// how long the token may be reused. Zero when it cannot be read.
func jwtExpiry(token string) time.Time {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(raw, &claims) != nil || claims.Exp == 0 {
		return time.Time{}
	}
	return time.Unix(claims.Exp, 0)
}

// sharedGoogle is Google through the Shared of a run's checker.
type sharedGoogle struct {
	g Google
	s *Shared
	r *run
}

func (x sharedGoogle) CallerEmail(ctx context.Context) (string, error) {
	v, err := x.s.do(ctx, key("caller-email"), x.r.retryAfter, x.r.c.Now, func() (result, error) {
		email, err := x.g.CallerEmail(ctx)
		return result{val: email, forever: true}, err
	})
	s, _ := v.(string)
	return s, err
}

func (x sharedGoogle) GenerateIDToken(ctx context.Context, target string, delegates []string, audience string, includeEmail bool) (string, error) {
	k := key("id-token", target, strings.Join(delegates, ","), audience, boolText(includeEmail))
	return x.token(ctx, k, func() (string, error) {
		return x.g.GenerateIDToken(ctx, target, delegates, audience, includeEmail)
	})
}

func (x sharedGoogle) OwnIDToken(ctx context.Context, audience string) (string, error) {
	return x.token(ctx, key("own-id-token", audience), func() (string, error) { return x.g.OwnIDToken(ctx, audience) })
}

func (x sharedGoogle) token(ctx context.Context, k string, mint func() (string, error)) (string, error) {
	v, err := x.s.do(ctx, k, x.r.retryAfter, x.r.c.Now, func() (result, error) {
		token, err := mint()
		return result{val: token, until: validUntil(jwtExpiry(token))}, err
	})
	s, _ := v.(string)
	return s, err
}

func (x sharedGoogle) VerifyIDToken(ctx context.Context, token string) (*gcpiam.IDClaims, error) {
	v, err := x.s.do(ctx, key("verify", token), x.r.retryAfter, x.r.c.Now, func() (result, error) {
		claims, err := x.g.VerifyIDToken(ctx, token)
		res := result{val: claims}
		if claims != nil && claims.Expiry > 0 {
			res.until = validUntil(time.Unix(claims.Expiry, 0))
		}
		return res, err
	})
	claims, _ := v.(*gcpiam.IDClaims)
	if claims == nil {
		return nil, err
	}
	c := *claims
	return &c, err
}

func (x sharedGoogle) GenerateAccessToken(ctx context.Context, target string, delegates, scopes []string) (*oauth2.Token, error) {
	k := key("access-token", target, strings.Join(delegates, ","), strings.Join(scopes, ","))
	v, err := x.s.do(ctx, k, x.r.retryAfter, x.r.c.Now, func() (result, error) {
		tok, err := x.g.GenerateAccessToken(ctx, target, delegates, scopes)
		res := result{val: tok}
		if tok != nil {
			res.until = validUntil(tok.Expiry)
		}
		return res, err
	})
	tok, _ := v.(*oauth2.Token)
	return tok, err
}

// DiagnoseChain shares the reading of a chain's accounts and policies: each
// check gets its own copy of the report, which it may adjust.
func (x sharedGoogle) DiagnoseChain(ctx context.Context, hops []gcpiam.Hop, permission string) *gcpiam.ChainReport {
	parts := []string{"diagnose", permission}
	for _, h := range hops {
		parts = append(parts, h.Grantee, h.ServiceAccount)
	}
	v, _ := x.s.do(ctx, key(parts...), x.r.retryAfter, x.r.c.Now, func() (result, error) {
		return result{val: x.g.DiagnoseChain(ctx, hops, permission), retriable: true}, nil
	})
	rep, _ := v.(*gcpiam.ChainReport)
	if rep == nil {
		// Interrupted while waiting for another check's diagnosis.
		return x.g.DiagnoseChain(ctx, hops, permission)
	}
	c := *rep
	c.Hops = append([]gcpiam.HopReport(nil), rep.Hops...)
	c.Order = append([]string(nil), rep.Order...)
	if rep.Order == nil {
		c.Order = nil
	}
	return &c
}

// sharedAWS is AWS through the Shared of a run's checker. Nothing on the
// AWS side is retried for propagation.
type sharedAWS struct {
	a   AWS
	s   *Shared
	now func() time.Time
}

func (x sharedAWS) CallerAccount(ctx context.Context) (string, error) {
	v, err := x.s.do(ctx, key("aws-caller"), 0, x.now, func() (result, error) {
		account, err := x.a.CallerAccount(ctx)
		return result{val: account, forever: true}, err
	})
	s, _ := v.(string)
	return s, err
}

func (x sharedAWS) TrustPolicy(ctx context.Context, roleARN string) (string, error) {
	v, err := x.s.do(ctx, key("trust-policy", roleARN), 0, x.now, func() (result, error) {
		doc, err := x.a.TrustPolicy(ctx, roleARN)
		return result{val: doc, forever: true}, err
	})
	s, _ := v.(string)
	return s, err
}

func (x sharedAWS) AssumeRoleWithWebIdentity(ctx context.Context, roleARN, sessionName, token string) (*awsiam.TemporaryCredentials, error) {
	v, err := x.s.do(ctx, key("sts", roleARN, sessionName, token), 0, x.now, func() (result, error) {
		creds, err := x.a.AssumeRoleWithWebIdentity(ctx, roleARN, sessionName, token)
		res := result{val: creds}
		if creds != nil {
			res.until = validUntil(creds.Expiration)
		}
		return res, err
	})
	creds, _ := v.(*awsiam.TemporaryCredentials)
	return creds, err
}

type identity struct{ account, arn string }

func (x sharedAWS) CallerIdentity(ctx context.Context, creds *awsiam.TemporaryCredentials) (string, string, error) {
	if creds == nil || creds.AccessKeyID == "" {
		return x.a.CallerIdentity(ctx, creds)
	}
	v, err := x.s.do(ctx, key("caller-identity", creds.AccessKeyID), 0, x.now, func() (result, error) {
		account, arn, err := x.a.CallerIdentity(ctx, creds)
		return result{val: identity{account, arn}, until: validUntil(creds.Expiration)}, err
	})
	id, _ := v.(identity)
	return id.account, id.arn, err
}

func boolText(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
