package fakegcp

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// userClientID is the OAuth client that user tokens report in tokeninfo,
// standing in for the client (gcloud, a web app) a real user token was
// issued to.
const userClientID = "100000000000-fakegcp.apps.googleusercontent.com"

// Google's own token URIs, also accepted as the audience of assertions.
var googleTokenURIs = []string{
	"https://oauth2.googleapis.com/token",
	"https://accounts.google.com/o/oauth2/token",
	"https://www.googleapis.com/oauth2/v4/token",
}

// baseURLFor is the server's base URL, or the one the request came to.
func (s *Server) baseURLFor(r *http.Request) string {
	s.mu.Lock()
	u := s.urlLocked()
	s.mu.Unlock()
	if u != "" {
		return u
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

type tokenResponse struct {
	AccessToken string `json:"access_token,omitempty"`
	ExpiresIn   int    `json:"expires_in,omitempty"`
	TokenType   string `json:"token_type,omitempty"`
	IDToken     string `json:"id_token,omitempty"`
}

// tokenError is a token endpoint's error answer.
type tokenError struct {
	status            int
	code, description string
}

func invalidGrant(description string) *tokenError {
	return &tokenError{http.StatusBadRequest, "invalid_grant", description}
}

// checkAssertionLocked verifies a JWT-bearer assertion as Google's token
// endpoint does: signed by a key of its issuer's enabled account, for this
// token URI, short-lived and current, and without domain-wide delegation.
func (s *Server) checkAssertionLocked(assertion, tokenURI string) (*account, *jwtClaims, *tokenError) {
	p, err := parseJWT(assertion)
	if err != nil {
		return nil, nil, invalidGrant("Invalid JWT: " + err.Error())
	}
	c, err := parseClaims(p.payload)
	if err != nil {
		return nil, nil, invalidGrant("Invalid JWT: claims: " + err.Error())
	}
	k := s.assertionKeyLocked(p, c.Iss)
	if k == nil {
		return nil, nil, invalidGrant("Invalid JWT Signature.")
	}
	a := k.owner
	if c.Iss != a.email || a.disabled {
		return nil, nil, invalidGrant("Invalid grant: account not found")
	}
	auds := c.audiences()
	if !slices.Contains(auds, tokenURI) && !slices.ContainsFunc(auds, func(u string) bool { return slices.Contains(googleTokenURIs, u) }) {
		return nil, nil, invalidGrant("Invalid JWT: Failed audience check. The right audience is " + tokenURI)
	}
	iat, okIat := unixClaim(c.Iat)
	exp, okExp := unixClaim(c.Exp)
	now := s.now()
	if !okIat || !okExp || exp-iat > int64(time.Hour/time.Second) || !time.Unix(exp, 0).After(now) || time.Unix(iat, 0).After(now.Add(jwtSkew)) {
		return nil, nil, invalidGrant("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	}
	if c.Sub != "" && c.Sub != c.Iss {
		// Domain-wide delegation: the fake knows no Workspace domain.
		return nil, nil, &tokenError{http.StatusUnauthorized, "unauthorized_client", "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}
	}
	return a, c, nil
}

// serveToken is the OAuth 2.0 token endpoint for the JWT-bearer grant
// (RFC 7523) with assertions signed by a service-account key: the flow of
// golang.org/x/oauth2/jwt and of every Google client library with a key
// file. An assertion with a target_audience claim gets an ID token instead.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, _ []string) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != jwtBearerGrant {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt)
		return
	}
	assertion := r.PostForm.Get("assertion")
	if assertion == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: assertion")
		return
	}
	tokenURI := s.baseURLFor(r) + "/token"

	s.mu.Lock()
	defer s.mu.Unlock()
	a, c, oerr := s.checkAssertionLocked(assertion, tokenURI)
	if oerr != nil {
		writeOAuthError(w, oerr.status, oerr.code, oerr.description)
		return
	}
	now := s.now()
	if c.TargetAudience != "" {
		tok, err := s.idTokenLocked(a, c.TargetAudience, a.email, true)
		if err != nil {
			writeOAuthError(w, http.StatusInternalServerError, "internal_failure", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, tokenResponse{IDToken: tok})
		return
	}
	if strings.TrimSpace(c.Scope) == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	id := &identity{member: a.member(), uid: a.uid, scopes: strings.Fields(c.Scope), expiry: now.Add(tokenLifetime)}
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: s.mintLocked(id),
		ExpiresIn:   int(tokenLifetime/time.Second) - 1,
		TokenType:   "Bearer",
	})
}

// assertionKeyLocked finds the service-account key that signed an
// assertion: by kid, or, without one, any key of the issuing account.
func (s *Server) assertionKeyLocked(p *parsedJWT, iss string) *signingKey {
	var candidates []*signingKey
	if p.header.Kid != "" {
		if k := s.keysByID[p.header.Kid]; k != nil && k.owner != nil {
			candidates = append(candidates, k)
		}
	} else if a := s.accounts[strings.ToLower(iss)]; a != nil {
		candidates = append(candidates, a.userKeys...)
		if a.systemKey != nil {
			candidates = append(candidates, a.systemKey)
		}
	}
	for _, k := range candidates {
		if p.verify(&k.priv.PublicKey) == nil {
			return k
		}
	}
	return nil
}

// tokenInfo is the answer of /oauth2/v3/tokeninfo for an access token;
// like Google's, numbers and booleans are strings.
type tokenInfo struct {
	Azp           string `json:"azp,omitempty"`
	Aud           string `json:"aud,omitempty"`
	Sub           string `json:"sub,omitempty"`
	Scope         string `json:"scope"`
	Exp           string `json:"exp"`
	ExpiresIn     string `json:"expires_in"`
	Email         string `json:"email,omitempty"`
	EmailVerified string `json:"email_verified,omitempty"`
	AccessType    string `json:"access_type"`
}

// serveTokenInfo describes an access_token, or checks an id_token signed by
// the issuer, from the query or a form body.
func (s *Server) serveTokenInfo(w http.ResponseWriter, r *http.Request, _ []string) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if idt := r.Form.Get("id_token"); idt != "" {
		claims, err := s.checkIDTokenLocked(idt)
		if err != nil {
			writeOAuthError(w, http.StatusBadRequest, "invalid_token", "Invalid Value")
			return
		}
		writeJSON(w, http.StatusOK, claims)
		return
	}
	id := s.identityLocked(r.Form.Get("access_token"))
	if id == nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_token", "Invalid Value")
		return
	}
	now := s.now()
	exp := id.expiry
	if exp.IsZero() {
		exp = now.Add(tokenLifetime)
	}
	info := tokenInfo{
		Scope:      strings.Join(id.scopes, " "),
		Exp:        strconv.FormatInt(exp.Unix(), 10),
		ExpiresIn:  strconv.FormatInt(int64(exp.Sub(now)/time.Second), 10),
		AccessType: "online",
	}
	email := id.email()
	uid := id.uid
	if a := s.accounts[email]; uid == "" && a != nil && id.member == a.member() {
		uid = a.uid // a static token naming an account
	}
	if uid != "" {
		info.Azp, info.Aud, info.Sub = uid, uid, uid
	} else {
		info.Azp, info.Aud, info.Sub = userClientID, userClientID, numericID(id.member)
	}
	if isEmail(email) {
		info.Email, info.EmailVerified = email, "true"
	}
	writeJSON(w, http.StatusOK, info)
}

// checkIDTokenLocked verifies an ID token from this server and returns its
// claims and header fields as strings, like tokeninfo?id_token=.
func (s *Server) checkIDTokenLocked(tok string) (map[string]string, error) {
	p, err := parseJWT(tok)
	if err != nil {
		return nil, err
	}
	var key *signingKey
	for _, k := range s.issuerKeys {
		if k.kid == p.header.Kid {
			key = k
		}
	}
	if key == nil {
		return nil, errors.New("unknown kid")
	}
	if err := p.verify(&key.priv.PublicKey); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(p.payload)))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return nil, err
	}
	out := map[string]string{"alg": p.header.Alg, "kid": p.header.Kid, "typ": p.header.Typ}
	for k, v := range claims {
		switch v := v.(type) {
		case string:
			out[k] = v
		case bool:
			out[k] = strconv.FormatBool(v)
		case json.Number:
			out[k] = v.String()
		default:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	exp, err := strconv.ParseInt(out["exp"], 10, 64)
	if err != nil || !time.Unix(exp, 0).After(s.now()) {
		return nil, errors.New("expired")
	}
	return out, nil
}

type openIDConfiguration struct {
	Issuer                           string   `json:"issuer"`
	AuthorizationEndpoint            string   `json:"authorization_endpoint"`
	TokenEndpoint                    string   `json:"token_endpoint"`
	JWKSURI                          string   `json:"jwks_uri"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported                  []string `json:"scopes_supported"`
	TokenEndpointAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
	GrantTypesSupported              []string `json:"grant_types_supported"`
}

func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request, _ []string) {
	base := s.baseURLFor(r)
	writeJSON(w, http.StatusOK, openIDConfiguration{
		Issuer:                           s.issuer,
		AuthorizationEndpoint:            base + "/o/oauth2/v2/auth",
		TokenEndpoint:                    base + "/token",
		JWKSURI:                          base + "/oauth2/v3/certs",
		ResponseTypesSupported:           []string{"code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token", "none"},
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: []string{"RS256"},
		ScopesSupported:                  []string{"openid", "email", "profile"},
		TokenEndpointAuthMethods:         []string{"client_secret_post", "client_secret_basic"},
		ClaimsSupported:                  []string{"aud", "azp", "email", "email_verified", "exp", "iat", "iss", "sub"},
		GrantTypesSupported:              []string{"authorization_code", "refresh_token", jwtBearerGrant},
	})
}

func (s *Server) serveJWKS(w http.ResponseWriter, _ *http.Request, _ []string) {
	set, err := s.IssuerJWKS()
	if err != nil {
		writeError(w, errInternal(err))
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSON(w, http.StatusOK, set)
}

// IssuerJWKS returns the public keys that sign ID tokens, as served at
// /oauth2/v3/certs.
func (s *Server) IssuerJWKS() (JWKS, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.issuerKeyLocked(); err != nil {
		return JWKS{}, err
	}
	set := JWKS{Keys: []JWK{}}
	for _, k := range s.issuerKeys {
		set.Keys = append(set.Keys, publicJWK(k))
	}
	return set, nil
}

// serveServiceAccountJWKS publishes an account's public keys, system- and
// user-managed, which verify what signJwt signs.
func (s *Server) serveServiceAccountJWKS(w http.ResponseWriter, _ *http.Request, params []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.lookupLocked(params[0])
	if a == nil {
		writeError(w, errNotFound("Service account %s not found.", params[0]))
		return
	}
	sys, err := s.systemKeyLocked(a)
	if err != nil {
		writeError(w, errInternal(err))
		return
	}
	set := JWKS{Keys: []JWK{publicJWK(sys)}}
	for _, k := range a.userKeys {
		set.Keys = append(set.Keys, publicJWK(k))
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSON(w, http.StatusOK, set)
}

// keyFile is a Google service-account JSON key file.
type keyFile struct {
	Type                    string `json:"type"`
	ProjectID               string `json:"project_id"`
	PrivateKeyID            string `json:"private_key_id"`
	PrivateKey              string `json:"private_key"`
	ClientEmail             string `json:"client_email"`
	ClientID                string `json:"client_id"`
	AuthURI                 string `json:"auth_uri"`
	TokenURI                string `json:"token_uri"`
	AuthProviderX509CertURL string `json:"auth_provider_x509_cert_url"`
	ClientX509CertURL       string `json:"client_x509_cert_url"`
	UniverseDomain          string `json:"universe_domain"`
}

// CreateServiceAccountKey makes a user-managed key for an account and
// returns it as a Google JSON key file whose token_uri is this server's
// /token. The server accepts assertions and self-signed JWTs signed with
// it until the account is deleted. The server must have a URL (Start or
// WithBaseURL).
func (s *Server) CreateServiceAccountKey(emailOrUniqueID string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	base := s.urlLocked()
	if base == "" {
		return nil, errors.New("fakegcp: the server has no URL for token_uri; call Start or use WithBaseURL")
	}
	a, err := s.mustAccountLocked(emailOrUniqueID)
	if err != nil {
		return nil, err
	}
	k, err := s.newKeyLocked(a)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return nil, err
	}
	a.userKeys = append(a.userKeys, k)
	s.keysByID[k.kid] = k
	return json.MarshalIndent(keyFile{
		Type:                    "service_account",
		ProjectID:               a.project.id,
		PrivateKeyID:            k.kid,
		PrivateKey:              string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		ClientEmail:             a.email,
		ClientID:                a.uid,
		AuthURI:                 base + "/o/oauth2/auth",
		TokenURI:                base + "/token",
		AuthProviderX509CertURL: base + "/oauth2/v1/certs",
		ClientX509CertURL:       base + "/robot/v1/metadata/x509/" + a.email,
		UniverseDomain:          "googleapis.com",
	}, "", "  ")
}
