package gcpiam

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// GoogleIssuers are the iss values of Google-signed ID tokens.
var GoogleIssuers = []string{"https://accounts.google.com", "accounts.google.com"}

// ErrNoOwnIDToken says that the provider's credentials cannot mint an ID
// token for themselves.
var ErrNoOwnIDToken = errors.New("the provider's Google credentials cannot mint an ID token for their own identity " +
	"(only a service-account key, or impersonate_service_account in the google block, can)")

// IDClaims are the claims of a Google ID token that matter to AWS.
type IDClaims struct {
	Issuer   string `json:"iss"`
	Audience string `json:"aud"`
	AZP      string `json:"azp"`
	Subject  string `json:"sub"`
	Email    string `json:"email"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
}

// CallerEmail is the email of the provider's own Google identity, as
// tokeninfo reports it; "" when the token carries none (an external
// identity).
func (c *Client) CallerEmail(ctx context.Context) (string, error) {
	tok, err := c.tokens.Token()
	if err != nil {
		return "", err
	}
	form := url.Values{"access_token": {tok.AccessToken}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.oauth2+"oauth2/v3/tokeninfo", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var info struct {
		Email string `json:"email"`
	}
	if err := c.getJSON(req, &info); err != nil {
		if IsRejectedCredentials(err) && c.externalAccount() {
			// A federated access token (workload identity federation,
			// https://cloud.google.com/iam/docs/workload-identity-federation)
			// belongs to no Google account, and tokeninfo is not documented
			// to describe one: its refusal says nothing about the
			// credentials. The identity is unknown, not rejected; a real
			// rejection shows when a token is minted.
			return "", nil
		}
		return "", fmt.Errorf("tokeninfo: %w", err)
	}
	return info.Email, nil
}

// externalAccount says whether the provider's own token is a federated one
// (external_account credentials, given or from Application Default
// Credentials) rather than a Google account's.
func (c *Client) externalAccount() bool {
	if c.impersonate != "" {
		return false
	}
	creds := c.credsJSON
	if creds == nil {
		if path := os.Getenv(EnvApplicationCredentials); path != "" {
			creds, _ = os.ReadFile(path)
		}
	}
	var f struct {
		Type string `json:"type"`
	}
	return creds != nil && json.Unmarshal(creds, &f) == nil && strings.HasPrefix(f.Type, "external_account")
}

// CallerMember is the IAM member of an email tokeninfo reported.
func CallerMember(email string) string {
	if strings.HasSuffix(email, ".gserviceaccount.com") {
		return "serviceAccount:" + email
	}
	return "user:" + email
}

// OwnIDToken mints an ID token for the provider's own identity: for an
// impersonated service account, through the IAM Credentials API as the base
// credentials (the grant that makes impersonate_service_account work is the
// one used; an account is never asked to mint on itself), or from a
// service-account key at the key's token URI. Other credentials cannot,
// and give ErrNoOwnIDToken. The token is a secret.
//
// Written here rather than with google.golang.org/api/idtoken: its token
// sources build their own clients, so the impersonated flow would ignore
// iamcredentials_endpoint, as google.golang.org/api/impersonate does.
func (c *Client) OwnIDToken(ctx context.Context, audience string) (string, error) {
	if c.impersonate != "" {
		return generateIDToken(ctx, c.baseCreds, c.impersonate, c.delegates, audience, true)
	}
	keyJSON := c.credsJSON
	if keyJSON == nil {
		if path := os.Getenv(EnvApplicationCredentials); path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				return "", fmt.Errorf("reading %s: %w", EnvApplicationCredentials, err)
			}
			keyJSON = b
		}
	}
	var key struct {
		Type         string `json:"type"`
		ClientEmail  string `json:"client_email"`
		PrivateKeyID string `json:"private_key_id"`
		PrivateKey   string `json:"private_key"`
		TokenURI     string `json:"token_uri"`
	}
	if keyJSON == nil || json.Unmarshal(keyJSON, &key) != nil || key.Type != "service_account" {
		return "", ErrNoOwnIDToken
	}
	assertion, err := signAssertion(key.PrivateKey, key.PrivateKeyID, map[string]any{
		"iss": key.ClientEmail, "sub": key.ClientEmail, "aud": key.TokenURI,
		"target_audience": audience, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("signing with the key of %s: %w", key.ClientEmail, err)
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, key.TokenURI, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var out struct {
		IDToken string `json:"id_token"`
	}
	if err := c.getJSON(req, &out); err != nil {
		return "", fmt.Errorf("exchanging the key of %s for an ID token: %w", key.ClientEmail, err)
	}
	if out.IDToken == "" {
		return "", fmt.Errorf("the token endpoint %s returned no id_token", key.TokenURI)
	}
	return out.IDToken, nil
}

// VerifyIDToken checks an ID token's RS256 signature against Google's
// signing keys, its issuer and its expiry, and returns its claims.
func (c *Client) VerifyIDToken(ctx context.Context, token string) (*IDClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT: expected three dot-separated parts")
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return nil, fmt.Errorf("reading the JWT header: %w", err)
	}
	if header.Alg != "RS256" {
		return nil, fmt.Errorf("the token is signed with %q, not RS256", header.Alg)
	}
	key, err := c.signingKey(ctx, header.Kid)
	if err != nil {
		return nil, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("reading the JWT signature: %w", err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return nil, fmt.Errorf("the signature does not verify with Google's key %s", header.Kid)
	}
	var claims IDClaims
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, fmt.Errorf("reading the JWT claims: %w", err)
	}
	if !slices.Contains(GoogleIssuers, claims.Issuer) {
		return nil, fmt.Errorf("issuer %q is not Google's (%s)", claims.Issuer, strings.Join(GoogleIssuers, " or "))
	}
	if time.Now().Unix() >= claims.Expiry {
		return nil, fmt.Errorf("the token expired at %s", time.Unix(claims.Expiry, 0).UTC().Format(time.RFC3339))
	}
	return &claims, nil
}

// keyCacheTTL bounds how long fetched signing keys are trusted without a
// refetch. Google rotates its ID-token keys every few days and publishes the
// next key ahead of use, so an hour is safe; a kid not in the cache refetches
// at once.
const keyCacheTTL = time.Hour

// signingKey returns Google's ID-token signing key with kid, from the keys
// fetched earlier when they are fresh and hold kid, else from a new fetch.
//
// Written here rather than with google.golang.org/api/idtoken: its
// Validate fetches the certificates from a fixed Google URL, with no
// endpoint option, so it could not be pointed at oauth2_endpoint (a
// sandbox's or a test's fake).
func (c *Client) signingKey(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	c.mu.Lock()
	key, fresh := c.keys[kid], time.Since(c.keysFetched) < keyCacheTTL
	c.mu.Unlock()
	if key != nil && fresh {
		return key, nil
	}
	keys, err := c.fetchSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.keys, c.keysFetched = keys, time.Now()
	c.mu.Unlock()
	if key = keys[kid]; key == nil {
		return nil, fmt.Errorf("no Google signing key has the token's kid %q", kid)
	}
	return key, nil
}

// fetchSigningKeys reads Google's JWKS of RSA keys by kid.
func (c *Client) fetchSigningKeys(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.oauth2+"oauth2/v3/certs", nil)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := c.getJSON(req, &set); err != nil {
		return nil, fmt.Errorf("fetching Google's signing keys: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" {
			continue
		}
		n, errN := base64.RawURLEncoding.DecodeString(k.N)
		e, errE := base64.RawURLEncoding.DecodeString(k.E)
		if errN != nil || errE != nil {
			return nil, fmt.Errorf("the signing key %s of Google is malformed", k.Kid)
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return keys, nil
}

// getJSON sends req without OAuth and decodes a 200 response.
func (c *Client) getJSON(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &HTTPError{Method: req.Method, URL: req.URL.Redacted(), Code: resp.StatusCode, Body: strings.TrimSpace(string(body))}
	}
	return json.Unmarshal(body, out)
}

func decodeSegment(seg string, out any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// signAssertion signs claims as an RS256 JWT with a PEM private key.
func signAssertion(pemKey, kid string, claims map[string]any) (string, error) {
	block, _ := pem.Decode([]byte(pemKey))
	if block == nil {
		return "", errors.New("private_key is not PEM")
	}
	var key *rsa.PrivateKey
	if parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		rk, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return "", errors.New("private_key is not an RSA key")
		}
		key = rk
	} else if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
		return "", fmt.Errorf("parsing private_key: %w", err)
	}
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
