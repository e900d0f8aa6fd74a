package fakegcp

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Wire types of the IAM Credentials API v1, named after the discovery
// schemas.

type generateAccessTokenRequest struct {
	Delegates []string `json:"delegates,omitempty"`
	Scope     []string `json:"scope,omitempty"`
	Lifetime  string   `json:"lifetime,omitempty"`
}

type generateAccessTokenResponse struct {
	AccessToken string `json:"accessToken"`
	ExpireTime  string `json:"expireTime"`
}

type generateIDTokenRequest struct {
	Audience     string   `json:"audience,omitempty"`
	Delegates    []string `json:"delegates,omitempty"`
	IncludeEmail bool     `json:"includeEmail,omitempty"`
	// Accepted, but no google.organization_number claim is added: the fake
	// has no organizations.
	OrganizationNumberIncluded bool `json:"organizationNumberIncluded,omitempty"`
}

type generateIDTokenResponse struct {
	Token string `json:"token"`
}

type signJWTRequest struct {
	Delegates []string `json:"delegates,omitempty"`
	Payload   string   `json:"payload,omitempty"`
}

type signJWTResponse struct {
	KeyID     string `json:"keyId"`
	SignedJWT string `json:"signedJwt"`
}

type signBlobRequest struct {
	Delegates []string `json:"delegates,omitempty"`
	Payload   string   `json:"payload,omitempty"` // base64
}

type signBlobResponse struct {
	KeyID      string `json:"keyId"`
	SignedBlob string `json:"signedBlob"` // base64
}

// IDTokenClaims are the claims of an ID token from generateIdToken or from
// the token endpoint's target_audience flow.
type IDTokenClaims struct {
	Aud           string `json:"aud"`
	Azp           string `json:"azp"`
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
	Exp           int64  `json:"exp"`
	Iat           int64  `json:"iat"`
	Iss           string `json:"iss"`
	Sub           string `json:"sub"`
}

const (
	maxAccessTokenLifetime = time.Hour
	maxSignedJWTLifetime   = 12 * time.Hour
)

// credAccountLocked resolves a service account named in an IAM Credentials
// request, where the project must be the - wildcard.
func (s *Server) credAccountLocked(projectSeg, accountSeg, name string) (*account, *APIError) {
	if projectSeg != "-" {
		return nil, errInvalid("Invalid resource name %s: the - wildcard character is required in place of the project ID; replacing it with a project ID is invalid.", name)
	}
	a, e := s.resolveLocked(projectSeg, accountSeg)
	if e != nil {
		return nil, e
	}
	if a == nil {
		return nil, errNotFound("Not found; Gaia id not found for email %s", accountSeg)
	}
	return a, nil
}

// chainLocked resolves the target and delegates of a credentials request
// and walks the delegation chain caller -> delegates[0] -> ... -> target.
//
// Google's IAM Credentials reference (the delegates field of
// generateAccessToken, generateIdToken, signJwt and signBlob,
// https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken)
// and https://cloud.google.com/iam/docs/create-short-lived-credentials-delegated
// require each account in the chain to hold Token Creator on the next one.
// The permission that grant must carry depends on where it sits:
//
//   - on a delegate (the caller on delegates[0], each delegate on the one
//     after it): iam.serviceAccounts.implicitDelegation, which only
//     roles/iam.serviceAccountTokenCreator grants
//     (https://cloud.google.com/iam/docs/service-account-permissions);
//   - on the target (the name of the request; from the last delegate, or
//     from the caller when there are no delegates): the permission of the
//     method, perm (getAccessToken, getOpenIdToken, signJwt or signBlob).
//
// So OpenID Token Creator may only be the last hop of a chain for ID
// tokens. A missing grant anywhere is the same 403, naming perm and not the
// hop where the chain broke. Only a caller who may walk the whole chain
// learns that an account in it is disabled.
func (s *Server) chainLocked(c *call, delegates []string, perm string) (*account, *APIError) {
	target, e := s.credAccountLocked(c.params[0], c.params[1], c.resource())
	if e != nil {
		return nil, e
	}
	hops := make([]*account, 0, len(delegates)+1)
	for _, d := range delegates {
		projectSeg, accountSeg, ok := parseAccountName(d)
		if !ok && s.bareDelegates && isEmail(d) && !strings.Contains(d, "/") {
			projectSeg, accountSeg, ok = "-", d, true // AcceptBareDelegates (metadata.go)
		}
		if !ok {
			return nil, errInvalid("Invalid delegate %q: delegates must have the form projects/-/serviceAccounts/{ACCOUNT_EMAIL_OR_UNIQUEID}.", d)
		}
		a, e := s.credAccountLocked(projectSeg, accountSeg, d)
		if e != nil {
			return nil, e
		}
		hops = append(hops, a)
	}
	hops = append(hops, target)
	holder := c.caller.member
	for i, hop := range hops {
		need := permImplicitDelegation
		if i == len(hops)-1 {
			need = perm
		}
		if !s.holdsLocked(holder, hop, need) {
			return nil, credentialsDenied(perm)
		}
		holder = hop.member()
	}
	// A disabled account cannot be impersonated: "requests for new access
	// tokens will fail" (https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/disable).
	// Google does not document the status; the fake answers 400
	// FAILED_PRECONDITION for a disabled target or delegate alike.
	for _, hop := range hops {
		if hop.disabled {
			return nil, errFailedPrecondition("Precondition check failed: service account %s is disabled.", hop.email)
		}
	}
	return target, nil
}

// parseLifetime reads a google-duration such as "3600s" or "1.5s".
func parseLifetime(v string) (time.Duration, *APIError) {
	if v == "" {
		return maxAccessTokenLifetime, nil
	}
	num, ok := strings.CutSuffix(v, "s")
	f, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil {
		return 0, errInvalid("Invalid value at 'lifetime' (type.googleapis.com/google.protobuf.Duration), Field 'lifetime', Illegal duration format; duration must end with 's': %q", v)
	}
	d := time.Duration(f * float64(time.Second))
	if d <= 0 {
		return 0, errInvalid("The lifetime %s is not positive.", v)
	}
	if d > maxAccessTokenLifetime {
		return 0, errInvalid("The lifetime %s exceeds the maximum of 3600s; longer lifetimes need the constraints/iam.allowServiceAccountCredentialLifetimeExtension organization policy, which the fake does not have.", v)
	}
	return d, nil
}

func (s *Server) generateAccessToken(c *call) (any, *APIError) {
	var req generateAccessTokenRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if len(req.Scope) == 0 {
		return nil, errInvalid("Field scope is required: at least one OAuth scope must be requested.")
	}
	lifetime, e := parseLifetime(req.Lifetime)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	target, e := s.chainLocked(c, req.Delegates, permGetAccessToken)
	if e != nil {
		return nil, e
	}
	exp := s.now().Add(lifetime)
	tok := s.mintLocked(&identity{member: target.member(), uid: target.uid, scopes: req.Scope, expiry: exp})
	return generateAccessTokenResponse{AccessToken: tok, ExpireTime: exp.UTC().Format(time.RFC3339)}, nil
}

func (s *Server) generateIDToken(c *call) (any, *APIError) {
	var req generateIDTokenRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if req.Audience == "" {
		return nil, errInvalid("Field audience is required.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	target, e := s.chainLocked(c, req.Delegates, permGetOpenIDToken)
	if e != nil {
		return nil, e
	}
	tok, err := s.idTokenLocked(target, req.Audience, target.uid, req.IncludeEmail)
	if err != nil {
		return nil, errInternal(err)
	}
	return generateIDTokenResponse{Token: tok}, nil
}

// idTokenLocked signs a one-hour ID token for a with the issuer's key.
func (s *Server) idTokenLocked(a *account, audience, azp string, includeEmail bool) (string, error) {
	k, err := s.issuerKeyLocked()
	if err != nil {
		return "", err
	}
	now := s.now()
	claims := IDTokenClaims{
		Aud: audience, Azp: azp, Iss: s.issuer, Sub: a.uid,
		Iat: now.Unix(), Exp: now.Add(time.Hour).Unix(),
	}
	if includeEmail {
		claims.Email, claims.EmailVerified = a.email, true
	}
	return signClaims(k, claims)
}

func (s *Server) signJWT(c *call) (any, *APIError) {
	var req signJWTRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	payload, e := s.checkJWTPayloadLocked(req.Payload)
	if e != nil {
		return nil, e
	}
	target, e := s.chainLocked(c, req.Delegates, permSignJWT)
	if e != nil {
		return nil, e
	}
	k, err := s.systemKeyLocked(target)
	if err != nil {
		return nil, errInternal(err)
	}
	signed, err := signJWTPayload(k, payload)
	if err != nil {
		return nil, errInternal(err)
	}
	return signJWTResponse{KeyID: k.kid, SignedJWT: signed}, nil
}

// checkJWTPayloadLocked validates a signJwt payload: a JSON object whose
// exp, if present, is an integer neither past nor more than 12 hours
// ahead. Without exp, one is added an hour ahead, as Google does.
func (s *Server) checkJWTPayloadLocked(payload string) ([]byte, *APIError) {
	if payload == "" {
		return nil, errInvalid("Field payload is required.")
	}
	dec := json.NewDecoder(strings.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, errInvalid("Invalid JWT payload: it must be a serialized JSON object: %v", err)
	}
	now := s.now()
	raw, has := claims["exp"]
	if !has {
		claims["exp"] = now.Add(time.Hour).Unix()
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(claims); err != nil {
			return nil, errInternal(err)
		}
		return bytes.TrimSpace(buf.Bytes()), nil
	}
	n, ok := raw.(json.Number)
	exp, err := n.Int64()
	if !ok || err != nil {
		return nil, errInvalid("Invalid JWT payload: exp must be an integer timestamp.")
	}
	if t := time.Unix(exp, 0); t.Before(now) || t.After(now.Add(maxSignedJWTLifetime)) {
		return nil, errInvalid("Invalid JWT payload: exp must not be in the past or more than 12 hours in the future.")
	}
	return []byte(payload), nil
}

func (s *Server) signBlob(c *call) (any, *APIError) {
	var req signBlobRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	blob, err := base64.StdEncoding.DecodeString(req.Payload)
	if err != nil {
		if blob, err = base64.URLEncoding.DecodeString(req.Payload); err != nil {
			return nil, errInvalid("Invalid value at 'payload' (TYPE_BYTES), Base64 decoding failed.")
		}
	}
	if len(blob) == 0 {
		return nil, errInvalid("Field payload is required.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	target, e := s.chainLocked(c, req.Delegates, permSignBlob)
	if e != nil {
		return nil, e
	}
	k, err := s.systemKeyLocked(target)
	if err != nil {
		return nil, errInternal(err)
	}
	sig, err := signRS256(k.priv, blob)
	if err != nil {
		return nil, errInternal(err)
	}
	return signBlobResponse{KeyID: k.kid, SignedBlob: base64.StdEncoding.EncodeToString(sig)}, nil
}
