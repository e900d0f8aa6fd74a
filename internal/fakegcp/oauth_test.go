package fakegcp

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	iam "google.golang.org/api/iam/v1"
	iamcredentials "google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/option"
)

// keyFor makes a key file for an account and parses its private key.
func keyFor(t *testing.T, s *Server, email string) ([]byte, keyFile, *rsa.PrivateKey) {
	t.Helper()
	b, err := s.CreateServiceAccountKey(email)
	if err != nil {
		t.Fatal(err)
	}
	var kf keyFile
	if err := json.Unmarshal(b, &kf); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(kf.PrivateKey))
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("private key PEM %q", kf.PrivateKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("private key is a %T", k)
	}
	return b, kf, rk
}

func TestKeyFileTokenFlow(t *testing.T) {
	s := newSeeded(t, []string{"keyed-sa", "target-sa"})
	keyed, target := saEmail("keyed-sa"), saEmail("target-sa")
	if err := s.AddMember(target, tokenCreator, "serviceAccount:"+keyed); err != nil {
		t.Fatal(err)
	}
	keyJSON, kf, _ := keyFor(t, s, keyed)
	sa, _ := s.ServiceAccount(keyed)
	if kf.Type != "service_account" || kf.ClientEmail != keyed || kf.ClientID != sa.UniqueID || kf.ProjectID != testProject ||
		kf.TokenURI != s.URL()+"/token" || len(kf.PrivateKeyID) != 40 || kf.UniverseDomain != "googleapis.com" {
		t.Errorf("key file %+v", kf)
	}

	creds, err := google.CredentialsFromJSONWithType(ctx, keyJSON, google.ServiceAccount, scopeCloudPlatform)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := creds.TokenSource.Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || time.Until(tok.Expiry) < 59*time.Minute {
		t.Errorf("token %+v", tok)
	}
	if _, err := credClient(t, s, tok.AccessToken).Projects.ServiceAccounts.GenerateIdToken(saName(target),
		&iamcredentials.GenerateIdTokenRequest{Audience: "a"}).Do(); err != nil {
		t.Errorf("token from the key file: %v", err)
	}
	if n := s.RequestCounts()["oauth2.token"]; n != 1 {
		t.Errorf("oauth2.token counted %d", n)
	}

	// Self-signed JWTs, with a scope and with an audience.
	for _, mk := range []func() (oauth2.TokenSource, error){
		func() (oauth2.TokenSource, error) {
			return google.JWTAccessTokenSourceWithScope(keyJSON, scopeCloudPlatform)
		},
		func() (oauth2.TokenSource, error) {
			return google.JWTAccessTokenSourceFromJSON(keyJSON, "https://iamcredentials.googleapis.com/")
		},
	} {
		ts, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		jwtTok, err := ts.Token()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := credClient(t, s, jwtTok.AccessToken).Projects.ServiceAccounts.GenerateIdToken(saName(target),
			&iamcredentials.GenerateIdTokenRequest{Audience: "a"}).Do(); err != nil {
			t.Errorf("self-signed JWT: %v", err)
		}
	}
	if n := s.RequestCounts()["oauth2.token"]; n != 1 {
		t.Errorf("self-signed JWTs went to the token endpoint: %d", n)
	}

	// ID tokens through the key file's target_audience flow.
	conf, err := google.JWTConfigFromJSON(keyJSON)
	if err != nil {
		t.Fatal(err)
	}
	conf.PrivateClaims = map[string]any{"target_audience": "https://run.example"}
	conf.UseIDToken = true
	idt, err := conf.TokenSource(ctx).Token()
	if err != nil {
		t.Fatal(err)
	}
	_, set := fetchJWKS(t, s)
	claims, err := VerifyJWT(idt.AccessToken, set)
	if err != nil || claims["aud"] != "https://run.example" || claims["email"] != keyed || claims["sub"] != sa.UniqueID {
		t.Errorf("id token claims %v, %v", claims, err)
	}

	// Deleting the account retires its keys.
	if err := s.DeleteServiceAccount(keyed); err != nil {
		t.Fatal(err)
	}
	creds, _ = google.CredentialsFromJSONWithType(ctx, keyJSON, google.ServiceAccount, scopeCloudPlatform)
	if _, err := creds.TokenSource.Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("token for a deleted account: %v", err)
	}
}

// assertion signs claims with a key, as a client would.
func assertion(t *testing.T, k *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	payload, _ := json.Marshal(claims)
	tok, err := signJWTPayload(&signingKey{kid: kid, priv: k}, payload)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenEndpointErrors(t *testing.T) {
	s := newSeeded(t, []string{"keyed-sa", "other-sa"})
	keyed := saEmail("keyed-sa")
	_, kf, key := keyFor(t, s, keyed)
	_, otherKF, otherKey := keyFor(t, s, saEmail("other-sa"))
	now := time.Now().Unix()
	good := func() map[string]any {
		return map[string]any{"iss": keyed, "scope": scopeCloudPlatform, "aud": kf.TokenURI, "iat": now, "exp": now + 3600}
	}
	post := func(form url.Values) (int, map[string]any) { return postForm(t, s.URL()+"/token", form) }
	grant := func(a string) url.Values { return url.Values{"grant_type": {jwtBearerGrant}, "assertion": {a}} }

	code, body := post(grant(assertion(t, key, kf.PrivateKeyID, good())))
	if code != 200 || body["token_type"] != "Bearer" || body["expires_in"] != float64(3599) || body["access_token"] == "" {
		t.Errorf("good assertion: %d %v", code, body)
	}
	// Without kid the account's keys are tried.
	if code, body := post(grant(assertion(t, key, "", good()))); code != 200 {
		t.Errorf("no kid: %d %v", code, body)
	}

	mod := func(f func(map[string]any)) map[string]any { c := good(); f(c); return c }
	for name, tc := range map[string]struct {
		form   url.Values
		code   int
		errStr string
	}{
		"grant type":     {url.Values{"grant_type": {"client_credentials"}}, 400, "unsupported_grant_type"},
		"no assertion":   {url.Values{"grant_type": {jwtBearerGrant}}, 400, "invalid_request"},
		"garbage":        {grant("a.b.c"), 400, "invalid_grant"},
		"other key":      {grant(assertion(t, otherKey, kf.PrivateKeyID, good())), 400, "invalid_grant"},
		"wrong iss":      {grant(assertion(t, otherKey, otherKF.PrivateKeyID, good())), 400, "invalid_grant"},
		"wrong aud":      {grant(assertion(t, key, kf.PrivateKeyID, mod(func(c map[string]any) { c["aud"] = "https://elsewhere/token" }))), 400, "invalid_grant"},
		"expired":        {grant(assertion(t, key, kf.PrivateKeyID, mod(func(c map[string]any) { c["iat"], c["exp"] = now-7200, now-3600 }))), 400, "invalid_grant"},
		"too long":       {grant(assertion(t, key, kf.PrivateKeyID, mod(func(c map[string]any) { c["exp"] = now + 7200 }))), 400, "invalid_grant"},
		"no scope":       {grant(assertion(t, key, kf.PrivateKeyID, mod(func(c map[string]any) { delete(c, "scope") }))), 400, "invalid_scope"},
		"domain-wide":    {grant(assertion(t, key, kf.PrivateKeyID, mod(func(c map[string]any) { c["sub"] = "user@example.com" }))), 401, "unauthorized_client"},
		"google aud too": {grant(assertion(t, key, kf.PrivateKeyID, mod(func(c map[string]any) { c["aud"] = "https://oauth2.googleapis.com/token" }))), 200, ""},
	} {
		code, body := post(tc.form)
		if code != tc.code || (tc.errStr != "" && body["error"] != tc.errStr) {
			t.Errorf("%s: %d %v, want %d %s", name, code, body, tc.code, tc.errStr)
		}
	}
}

func TestSelfSignedJWTRejections(t *testing.T) {
	s := newSeeded(t, []string{"keyed-sa", "other-sa"})
	keyed := saEmail("keyed-sa")
	if err := s.AddMember(keyed, "roles/viewer", "serviceAccount:"+keyed); err != nil {
		t.Fatal(err)
	}
	_, kf, key := keyFor(t, s, keyed)
	_, _, otherKey := keyFor(t, s, saEmail("other-sa"))
	now := time.Now().Unix()
	u := s.URL() + "/v1/" + saName(keyed)
	base := func() map[string]any {
		return map[string]any{"iss": keyed, "sub": keyed, "aud": "https://iam.googleapis.com/", "iat": now, "exp": now + 3600}
	}
	if code, body := rawCall(t, http.MethodGet, u, assertion(t, key, kf.PrivateKeyID, base()), "", ""); code != 200 {
		t.Fatalf("good self-signed JWT: %d %v", code, body)
	}
	for name, tok := range map[string]string{
		"other key": assertion(t, otherKey, kf.PrivateKeyID, base()),
		"iss != sub": assertion(t, key, kf.PrivateKeyID, func() map[string]any {
			c := base()
			c["sub"] = "someone@example.com"
			return c
		}()),
		"no audience": assertion(t, key, kf.PrivateKeyID, func() map[string]any { c := base(); delete(c, "aud"); return c }()),
		"expired":     assertion(t, key, kf.PrivateKeyID, func() map[string]any { c := base(); c["iat"], c["exp"] = now-7200, now-3600; return c }()),
		"unknown kid": assertion(t, key, "0000", base()),
	} {
		if code, body := rawCall(t, http.MethodGet, u, tok, "", ""); code != 401 {
			t.Errorf("%s: %d %v", name, code, body)
		}
	}
}

func TestTokenInfo(t *testing.T) {
	s := newSeeded(t, []string{"target-sa"})
	sa, _ := s.ServiceAccount(saEmail("target-sa"))
	var info map[string]any
	getJSON(t, s.URL()+"/oauth2/v3/tokeninfo?access_token="+s.AccessTokenFor("alice@example.com"), &info)
	if info["email"] != "alice@example.com" || info["email_verified"] != "true" || info["scope"] != scopeCloudPlatform ||
		info["sub"] == "" || info["azp"] != userClientID {
		t.Errorf("user tokeninfo %v", info)
	}
	if exp, ok := info["expires_in"].(string); !ok || exp == "" || exp > "3600" {
		t.Errorf("expires_in %v", info["expires_in"])
	}
	code, body := postForm(t, s.URL()+"/oauth2/v3/tokeninfo", url.Values{"access_token": {s.AccessTokenFor("serviceAccount:" + sa.Email)}})
	if code != 200 || body["email"] != sa.Email || body["sub"] != sa.UniqueID || body["aud"] != sa.UniqueID {
		t.Errorf("SA tokeninfo %d %v", code, body)
	}
	code, body = rawCall(t, http.MethodGet, s.URL()+"/oauth2/v3/tokeninfo?access_token=nope", "", "", "")
	if code != 400 || body["error"] != "invalid_token" {
		t.Errorf("bad token: %d %v", code, body)
	}
	code, body = rawCall(t, http.MethodGet, s.URL()+"/tokeninfo", "", "", "")
	if code != 400 || body["error"] != "invalid_token" {
		t.Errorf("no token: %d %v", code, body)
	}

	// id_token= checks an ID token from this server.
	if err := s.AddMember(sa.Email, tokenCreator, alice); err != nil {
		t.Fatal(err)
	}
	resp, err := credClient(t, s, s.AccessTokenFor(alice)).Projects.ServiceAccounts.GenerateIdToken(saName(sa.Email),
		&iamcredentials.GenerateIdTokenRequest{Audience: "aud-x", IncludeEmail: true}).Do()
	if err != nil {
		t.Fatal(err)
	}
	getJSON(t, s.URL()+"/oauth2/v3/tokeninfo?id_token="+resp.Token, &info)
	if info["aud"] != "aud-x" || info["email_verified"] != "true" || info["alg"] != "RS256" || info["sub"] != sa.UniqueID {
		t.Errorf("id_token tokeninfo %v", info)
	}
}

func TestStaticSeedTokens(t *testing.T) {
	s := NewTestServer(t)
	if err := s.Seed(Seed{
		Projects: []SeedProject{{ProjectID: testProject, Bindings: []Binding{{Role: "roles/viewer", Members: []string{"user:robot@example.com"}}},
			ServiceAccounts: []SeedServiceAccount{{AccountID: "target-sa"}}}},
		Tokens: map[string]string{"static-token": "user:robot@example.com"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := iamClient(t, s, "static-token").Projects.ServiceAccounts.Get(saName(saEmail("target-sa"))).Do(); err != nil {
		t.Error(err)
	}
	// A static token may name a service account; tokeninfo reports its ID.
	if err := s.Seed(Seed{Tokens: map[string]string{"sa-token": "serviceAccount:" + saEmail("target-sa")}}); err != nil {
		t.Fatal(err)
	}
	sa, _ := s.ServiceAccount(saEmail("target-sa"))
	var info map[string]any
	getJSON(t, s.URL()+"/oauth2/v3/tokeninfo?access_token=sa-token", &info)
	if info["sub"] != sa.UniqueID || info["email"] != sa.Email {
		t.Errorf("tokeninfo %v", info)
	}
}

func TestLatency(t *testing.T) {
	s := NewTestServer(t)
	s.SetLatency(40 * time.Millisecond)
	start := time.Now()
	getJSON(t, s.URL()+"/.well-known/openid-configuration", &map[string]any{})
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("request took %v", d)
	}
	s.SetLatency(0)
}

func TestServeHTTPWithoutStart(t *testing.T) {
	s := New(WithBaseURL("http://fake.example/"))
	if s.URL() != "http://fake.example" {
		t.Errorf("URL %q", s.URL())
	}
	if _, err := s.CreateServiceAccount(testProject, "target-sa"); err != nil {
		t.Fatal(err)
	}
	if _, err := New().CreateServiceAccountKey("x"); err == nil {
		t.Error("key without a URL")
	}
	kb, err := s.CreateServiceAccountKey(saEmail("target-sa"))
	if err != nil || !strings.Contains(string(kb), `"token_uri": "http://fake.example/token"`) {
		t.Errorf("key %s, %v", kb, err)
	}
	// Served by httptest instead of Start, the advertised URLs come from
	// WithBaseURL.
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://fake.example/.well-known/openid-configuration", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"jwks_uri": "http://fake.example/oauth2/v3/certs"`) {
		t.Errorf("%d %s", rec.Code, rec.Body.String())
	}
	// Without any URL, the request's host is used.
	rec = httptest.NewRecorder()
	New().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://other.example:8080/.well-known/openid-configuration", nil))
	if !strings.Contains(rec.Body.String(), `"token_endpoint": "http://other.example:8080/token"`) {
		t.Errorf("%s", rec.Body.String())
	}
}

// TestClientWithKeyFile drives the IAM client with a key file, the way the
// provider's credentials argument does.
func TestClientWithKeyFile(t *testing.T) {
	s := newSeeded(t, []string{"keyed-sa"})
	keyed := saEmail("keyed-sa")
	if err := s.AddMember(keyed, "roles/viewer", "serviceAccount:"+keyed); err != nil {
		t.Fatal(err)
	}
	keyJSON, _, _ := keyFor(t, s, keyed)
	svc, err := iam.NewService(ctx, option.WithEndpoint(s.URL()+"/"), option.WithAuthCredentialsJSON(option.ServiceAccount, keyJSON))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Projects.ServiceAccounts.Get(saName(keyed)).Do(); err != nil {
		t.Fatal(err)
	}
	if n := s.RequestCounts()["oauth2.token"]; n != 1 {
		t.Errorf("oauth2.token counted %d", n)
	}
}
