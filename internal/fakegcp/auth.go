package fakegcp

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Scopes.
const (
	scopeCloudPlatform = "https://www.googleapis.com/auth/cloud-platform"
	scopeIAM           = "https://www.googleapis.com/auth/iam"
)

// tokenLifetime is how long minted access tokens live.
const tokenLifetime = time.Hour

// jwtSkew is the clock skew allowed on iat of JWTs the fake is given.
const jwtSkew = 5 * time.Minute

// identity is who a bearer token speaks for.
type identity struct {
	member string // "user:a@example.com", "serviceAccount:x@p.iam.gserviceaccount.com", ...
	// uid ties a token to one incarnation of a service account: it stops
	// working when the account is deleted or disabled. Empty for others.
	uid    string
	scopes []string  // nil: not scope-restricted (a self-signed JWT with an audience)
	expiry time.Time // zero: never expires
}

func (id *identity) hasAnyScope(want ...string) bool {
	if id.scopes == nil {
		return true
	}
	for _, w := range want {
		if slices.Contains(id.scopes, w) {
			return true
		}
	}
	return false
}

// email is the member without its type prefix.
func (id *identity) email() string {
	_, rest, _ := strings.Cut(id.member, ":")
	return rest
}

// normaliseCaller turns a member (or a bare email) into the member string
// permission checks compare with.
func normaliseCaller(member string) string {
	kind, rest, ok := strings.Cut(member, ":")
	if !ok {
		if strings.HasSuffix(strings.ToLower(member), ".gserviceaccount.com") {
			return "serviceAccount:" + strings.ToLower(member)
		}
		return "user:" + strings.ToLower(member)
	}
	switch kind {
	case "user", "group", "serviceAccount", "domain":
		return kind + ":" + strings.ToLower(rest)
	}
	return member
}

// mintLocked stores a new opaque access token.
func (s *Server) mintLocked(id *identity) string {
	tok := "ya29.fake." + randomHex(24)
	s.tokens[tok] = id
	return tok
}

// identityForMemberLocked makes a one-hour identity for member, tied to the
// service account when member names one the server knows.
func (s *Server) identityForMemberLocked(member string, scopes []string) *identity {
	id := &identity{member: normaliseCaller(member), scopes: scopes, expiry: s.now().Add(tokenLifetime)}
	if email, ok := strings.CutPrefix(id.member, "serviceAccount:"); ok {
		if a := s.accounts[email]; a != nil {
			id.uid = a.uid
		}
	}
	return id
}

// AccessTokenFor mints a one-hour cloud-platform access token that the
// server accepts as member ("user:a@example.com",
// "serviceAccount:x@p.iam.gserviceaccount.com", or a bare email). A token
// for an existing service account stops working when it is deleted.
func (s *Server) AccessTokenFor(member string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mintLocked(s.identityForMemberLocked(member, []string{scopeCloudPlatform}))
}

func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if t := r.URL.Query().Get("access_token"); t != "" {
			return t, true
		}
		return "", false
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(tok), true
}

// authenticate resolves the caller of an API request and checks the
// token's scopes.
func (s *Server) authenticate(r *http.Request, rt *route) (*identity, *APIError) {
	tok, present := bearerToken(r)
	if !present {
		return nil, errUnauthenticated(true, rt)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.identityLocked(tok)
	if id == nil {
		return nil, errUnauthenticated(false, rt)
	}
	if !id.hasAnyScope(scopeCloudPlatform, scopeIAM) {
		return nil, errInsufficientScopes(rt)
	}
	return id, nil
}

// identityLocked resolves a bearer token: an opaque token the server
// minted, or a JWT self-signed with a service-account key. nil means the
// token is unknown, expired, or belongs to a deleted or disabled account.
func (s *Server) identityLocked(tok string) *identity {
	if tok == "" {
		return nil
	}
	id := s.tokens[tok]
	if id == nil && strings.Count(tok, ".") == 2 {
		id = s.selfSignedIdentityLocked(tok)
	}
	if id == nil {
		return nil
	}
	if !id.expiry.IsZero() && !s.now().Before(id.expiry) {
		return nil
	}
	if id.uid != "" {
		if a := s.byUID[id.uid]; a == nil || a.disabled {
			return nil
		}
	}
	return id
}

// selfSignedIdentityLocked accepts a JWT signed with one of a service
// account's keys, with iss = sub = the account's email, an audience or a
// scope, and a lifetime of at most an hour, as Google accepts them in place
// of an access token. The audience is not compared with a service name: one
// fake serves every API.
func (s *Server) selfSignedIdentityLocked(tok string) *identity {
	p, err := parseJWT(tok)
	if err != nil {
		return nil
	}
	k := s.keysByID[p.header.Kid]
	if k == nil || k.owner == nil || p.verify(&k.priv.PublicKey) != nil {
		return nil
	}
	c, err := parseClaims(p.payload)
	if err != nil || c.Iss != k.owner.email || c.Sub != k.owner.email {
		return nil
	}
	if len(c.audiences()) == 0 && c.Scope == "" {
		return nil
	}
	iat, okIat := unixClaim(c.Iat)
	exp, okExp := unixClaim(c.Exp)
	if !okIat || !okExp || exp-iat > int64(tokenLifetime/time.Second) || time.Unix(iat, 0).After(s.now().Add(jwtSkew)) {
		return nil
	}
	id := &identity{member: k.owner.member(), uid: k.owner.uid, expiry: time.Unix(exp, 0)}
	if c.Scope != "" {
		id.scopes = strings.Fields(c.Scope)
	}
	return id
}

// numericID makes a stable 21-digit subject ID for identities that are not
// service accounts, such as users.
func numericID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return fmt.Sprintf("1%020d", binary.BigEndian.Uint64(sum[:8]))
}
