package fakegcp

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	iam "google.golang.org/api/iam/v1"
	iamcredentials "google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/option"
)

type iamcredentialsGenerateIDToken = iamcredentials.GenerateIdTokenRequest

const tokenCreator = "roles/iam.serviceAccountTokenCreator"

// chainServer seeds alice -> d1 -> d2 -> target, each holding Token Creator
// on the next.
func chainServer(t *testing.T, opts ...Option) (*Server, []string) {
	t.Helper()
	s := newSeeded(t, []string{"delegate-one", "delegate-two", "target-sa"}, opts...)
	d1, d2, target := saEmail("delegate-one"), saEmail("delegate-two"), saEmail("target-sa")
	for _, g := range []struct{ on, who string }{{d1, alice}, {d2, "serviceAccount:" + d1}, {target, "serviceAccount:" + d2}} {
		if err := s.AddMember(g.on, tokenCreator, g.who); err != nil {
			t.Fatal(err)
		}
	}
	return s, []string{d1, d2, target}
}

func TestDelegateChain(t *testing.T) {
	s, chain := chainServer(t)
	d1, d2, target := chain[0], chain[1], chain[2]
	cred := credClient(t, s, s.AccessTokenFor(alice))
	delegates := []string{saName(d1), saName(d2)}

	resp, err := cred.Projects.ServiceAccounts.GenerateAccessToken(saName(target), &iamcredentials.GenerateAccessTokenRequest{
		Delegates: delegates, Scope: []string{scopeCloudPlatform},
	}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if resp.AccessToken == "" {
		t.Fatal("no token")
	}
	if exp, err := time.Parse(time.RFC3339, resp.ExpireTime); err != nil || time.Until(exp) < 59*time.Minute {
		t.Errorf("expireTime %q", resp.ExpireTime)
	}
	// Delegates may be named by unique ID.
	d1sa, _ := s.ServiceAccount(d1)
	if _, err := cred.Projects.ServiceAccounts.GenerateIdToken(saName(target), &iamcredentials.GenerateIdTokenRequest{
		Delegates: []string{saName(d1sa.UniqueID), saName(d2)}, Audience: "aud",
	}).Do(); err != nil {
		t.Errorf("delegate by unique ID: %v", err)
	}

	// Without delegates alice holds nothing on the target.
	_, err = cred.Projects.ServiceAccounts.GenerateAccessToken(saName(target), &iamcredentials.GenerateAccessTokenRequest{
		Scope: []string{scopeCloudPlatform},
	}).Do()
	wantAPIError(t, err, 403, "PERMISSION_DENIED")

	// Break each hop in turn: always the same answer, naming no hop.
	hops := []struct{ on, who string }{{d1, alice}, {d2, "serviceAccount:" + d1}, {target, "serviceAccount:" + d2}}
	var bodies []string
	for _, h := range hops {
		if err := s.RemoveMember(h.on, tokenCreator, h.who); err != nil {
			t.Fatal(err)
		}
		_, err := cred.Projects.ServiceAccounts.GenerateAccessToken(saName(target), &iamcredentials.GenerateAccessTokenRequest{
			Delegates: delegates, Scope: []string{scopeCloudPlatform},
		}).Do()
		ge := wantAPIError(t, err, 403, "PERMISSION_DENIED")
		if ge.Message != "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)." {
			t.Errorf("message %q", ge.Message)
		}
		for _, email := range chain {
			if strings.Contains(ge.Body, email) {
				t.Errorf("403 names %s: %s", email, ge.Body)
			}
		}
		bodies = append(bodies, ge.Body)
		if err := s.AddMember(h.on, tokenCreator, h.who); err != nil {
			t.Fatal(err)
		}
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Errorf("403 bodies differ by hop:\n%s\n%s\n%s", bodies[0], bodies[1], bodies[2])
	}
	var body errorBody
	if err := json.Unmarshal([]byte(bodies[0]), &body); err != nil || len(body.Error.Details) != 1 {
		t.Fatalf("403 body %s", bodies[0])
	}
	if fmt.Sprint(body.Error.Details[0]) != fmt.Sprint(map[string]any{
		"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "IAM_PERMISSION_DENIED", "domain": "iam.googleapis.com",
		"metadata": map[string]any{"permission": "iam.serviceAccounts.getAccessToken"},
	}) {
		t.Errorf("details %v", body.Error.Details)
	}

	// An unknown delegate or target is a 404.
	_, err = cred.Projects.ServiceAccounts.GenerateAccessToken(saName(target), &iamcredentials.GenerateAccessTokenRequest{
		Delegates: []string{saName(d1), saName(saEmail("ghost-sa"))}, Scope: []string{scopeCloudPlatform},
	}).Do()
	wantAPIError(t, err, 404, "NOT_FOUND")
	_, err = cred.Projects.ServiceAccounts.GenerateAccessToken(saName(saEmail("ghost-sa")), &iamcredentials.GenerateAccessTokenRequest{
		Scope: []string{scopeCloudPlatform},
	}).Do()
	wantAPIError(t, err, 404, "NOT_FOUND")
	// The project must be the - wildcard.
	_, err = cred.Projects.ServiceAccounts.GenerateAccessToken("projects/"+testProject+"/serviceAccounts/"+target, &iamcredentials.GenerateAccessTokenRequest{
		Delegates: delegates, Scope: []string{scopeCloudPlatform},
	}).Do()
	wantAPIError(t, err, 400, "INVALID_ARGUMENT")
	_, err = cred.Projects.ServiceAccounts.GenerateAccessToken(saName(target), &iamcredentials.GenerateAccessTokenRequest{
		Delegates: []string{d1, d2}, Scope: []string{scopeCloudPlatform},
	}).Do()
	wantAPIError(t, err, 400, "INVALID_ARGUMENT")
	// Scope is required; lifetime is at most an hour.
	_, err = cred.Projects.ServiceAccounts.GenerateAccessToken(saName(target), &iamcredentials.GenerateAccessTokenRequest{Delegates: delegates}).Do()
	wantAPIError(t, err, 400, "INVALID_ARGUMENT")
	_, err = cred.Projects.ServiceAccounts.GenerateAccessToken(saName(target), &iamcredentials.GenerateAccessTokenRequest{
		Delegates: delegates, Scope: []string{scopeCloudPlatform}, Lifetime: "7200s",
	}).Do()
	wantAPIError(t, err, 400, "INVALID_ARGUMENT")
}

func TestOpenIDTokenCreatorIsNarrower(t *testing.T) {
	s := newSeeded(t, []string{"target-sa"})
	if err := s.AddMember(saEmail("target-sa"), "roles/iam.serviceAccountOpenIdTokenCreator", alice); err != nil {
		t.Fatal(err)
	}
	cred := credClient(t, s, s.AccessTokenFor(alice))
	if _, err := cred.Projects.ServiceAccounts.GenerateIdToken(saName(saEmail("target-sa")),
		&iamcredentials.GenerateIdTokenRequest{Audience: "sts.amazonaws.com"}).Do(); err != nil {
		t.Fatal(err)
	}
	_, err := cred.Projects.ServiceAccounts.GenerateAccessToken(saName(saEmail("target-sa")),
		&iamcredentials.GenerateAccessTokenRequest{Scope: []string{scopeCloudPlatform}}).Do()
	wantAPIError(t, err, 403, "PERMISSION_DENIED")
	_, err = cred.Projects.ServiceAccounts.SignJwt(saName(saEmail("target-sa")),
		&iamcredentials.SignJwtRequest{Payload: `{"sub":"x"}`}).Do()
	wantAPIError(t, err, 403, "PERMISSION_DENIED")
	// Project owners cannot mint tokens without a Token Creator grant.
	_, err = credClient(t, s, s.AccessTokenFor(admin)).Projects.ServiceAccounts.GenerateIdToken(saName(saEmail("target-sa")),
		&iamcredentials.GenerateIdTokenRequest{Audience: "x"}).Do()
	wantAPIError(t, err, 403, "PERMISSION_DENIED")
}

// fetchJWKS follows the OpenID configuration to the JWKS, over HTTP.
func fetchJWKS(t *testing.T, s *Server) (map[string]any, JWKS) {
	t.Helper()
	var conf map[string]any
	getJSON(t, s.URL()+"/.well-known/openid-configuration", &conf)
	var set JWKS
	jwksURI, _ := conf["jwks_uri"].(string)
	getJSON(t, jwksURI, &set)
	return conf, set
}

func TestGenerateIDTokenClaims(t *testing.T) {
	clock := newFakeClock()
	s, chain := chainServer(t, WithClock(clock.Now))
	target := chain[2]
	tsa, _ := s.ServiceAccount(target)
	cred := credClient(t, s, s.AccessTokenFor(alice))
	conf, set := fetchJWKS(t, s)
	if conf["issuer"] != DefaultIssuer || conf["jwks_uri"] != s.URL()+"/oauth2/v3/certs" {
		t.Errorf("openid configuration %v", conf)
	}
	if len(set.Keys) == 0 || set.Keys[0].Alg != "RS256" || set.Keys[0].Use != "sig" || set.Keys[0].Kty != "RSA" {
		t.Fatalf("jwks %+v", set)
	}

	for _, includeEmail := range []bool{false, true} {
		resp, err := cred.Projects.ServiceAccounts.GenerateIdToken(saName(target), &iamcredentials.GenerateIdTokenRequest{
			Audience: "sts.amazonaws.com", IncludeEmail: includeEmail, Delegates: []string{saName(chain[0]), saName(chain[1])},
		}).Do()
		if err != nil {
			t.Fatal(err)
		}
		claims, err := VerifyJWT(resp.Token, set)
		if err != nil {
			t.Fatal(err)
		}
		header, _ := parseJWT(resp.Token)
		if header.header.Kid != set.Keys[0].Kid || header.header.Alg != "RS256" {
			t.Errorf("header %+v", header.header)
		}
		want := map[string]any{
			"iss": DefaultIssuer, "aud": "sts.amazonaws.com", "azp": tsa.UniqueID, "sub": tsa.UniqueID,
			"iat": float64(clock.Now().Unix()), "exp": float64(clock.Now().Unix() + 3600),
		}
		if includeEmail {
			want["email"], want["email_verified"] = target, true
		}
		if fmt.Sprint(claims) != fmt.Sprint(want) {
			t.Errorf("includeEmail=%v: claims %v, want %v", includeEmail, claims, want)
		}
	}
	_, err := cred.Projects.ServiceAccounts.GenerateIdToken(saName(target), &iamcredentials.GenerateIdTokenRequest{
		Delegates: []string{saName(chain[0]), saName(chain[1])},
	}).Do()
	wantAPIError(t, err, 400, "INVALID_ARGUMENT")
}

func TestIssuerOption(t *testing.T) {
	s := newSeeded(t, []string{"target-sa"}, WithIssuer("https://issuer.example"))
	if err := s.AddMember(saEmail("target-sa"), tokenCreator, alice); err != nil {
		t.Fatal(err)
	}
	conf, set := fetchJWKS(t, s)
	if conf["issuer"] != "https://issuer.example" {
		t.Errorf("issuer %v", conf["issuer"])
	}
	resp, err := credClient(t, s, s.AccessTokenFor(alice)).Projects.ServiceAccounts.GenerateIdToken(saName(saEmail("target-sa")),
		&iamcredentials.GenerateIdTokenRequest{Audience: "a"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	claims, err := VerifyJWT(resp.Token, set)
	if err != nil || claims["iss"] != "https://issuer.example" {
		t.Errorf("claims %v, %v", claims, err)
	}
}

func TestGeneratedAccessTokenIdentifiesTarget(t *testing.T) {
	s := newSeeded(t, []string{"target-sa", "other-sa"})
	target, other := saEmail("target-sa"), saEmail("other-sa")
	if err := s.AddMember(target, tokenCreator, alice); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(other, "roles/viewer", "serviceAccount:"+target); err != nil {
		t.Fatal(err)
	}
	resp, err := credClient(t, s, s.AccessTokenFor(alice)).Projects.ServiceAccounts.GenerateAccessToken(saName(target),
		&iamcredentials.GenerateAccessTokenRequest{Scope: []string{scopeCloudPlatform}, Lifetime: "600s"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if exp, _ := time.Parse(time.RFC3339, resp.ExpireTime); time.Until(exp) > 11*time.Minute {
		t.Errorf("lifetime ignored: %s", resp.ExpireTime)
	}
	asTarget := iamClient(t, s, resp.AccessToken)
	if _, err := asTarget.Projects.ServiceAccounts.GetIamPolicy(saName(other)).Do(); err != nil {
		t.Errorf("as target: %v", err)
	}
	_, err = iamClient(t, s, s.AccessTokenFor(alice)).Projects.ServiceAccounts.GetIamPolicy(saName(other)).Do()
	wantAPIError(t, err, 403, "PERMISSION_DENIED")

	var info map[string]any
	getJSON(t, s.URL()+"/oauth2/v3/tokeninfo?access_token="+url.QueryEscape(resp.AccessToken), &info)
	tsa, _ := s.ServiceAccount(target)
	if info["email"] != target || info["sub"] != tsa.UniqueID || info["azp"] != tsa.UniqueID || info["scope"] != scopeCloudPlatform || info["email_verified"] != "true" {
		t.Errorf("tokeninfo %v", info)
	}

	// A token without an IAM scope cannot call IAM.
	narrow, err := credClient(t, s, s.AccessTokenFor(alice)).Projects.ServiceAccounts.GenerateAccessToken(saName(target),
		&iamcredentials.GenerateAccessTokenRequest{Scope: []string{"https://www.googleapis.com/auth/userinfo.email"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	_, err = iamClient(t, s, narrow.AccessToken).Projects.ServiceAccounts.GetIamPolicy(saName(other)).Do()
	ge := wantAPIError(t, err, 403, "PERMISSION_DENIED")
	if !strings.Contains(ge.Body, "ACCESS_TOKEN_SCOPE_INSUFFICIENT") {
		t.Errorf("body %s", ge.Body)
	}

	// Disabling the account stops its tokens and token minting for it.
	if err := s.SetServiceAccountDisabled(target, true); err != nil {
		t.Fatal(err)
	}
	_, err = asTarget.Projects.ServiceAccounts.GetIamPolicy(saName(other)).Do()
	wantAPIError(t, err, 401, "UNAUTHENTICATED")
	_, err = credClient(t, s, s.AccessTokenFor(alice)).Projects.ServiceAccounts.GenerateAccessToken(saName(target),
		&iamcredentials.GenerateAccessTokenRequest{Scope: []string{scopeCloudPlatform}}).Do()
	wantAPIError(t, err, 400, "FAILED_PRECONDITION")
}

func TestSignJwtAndSignBlob(t *testing.T) {
	clock := newFakeClock()
	s := newSeeded(t, []string{"target-sa", "other-sa"}, WithClock(clock.Now))
	target := saEmail("target-sa")
	if err := s.AddMember(target, tokenCreator, alice); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(saEmail("other-sa"), "roles/viewer", "serviceAccount:"+target); err != nil {
		t.Fatal(err)
	}
	cred := credClient(t, s, s.AccessTokenFor(alice))
	now := clock.Now().Unix()
	payload := fmt.Sprintf(`{"iss":%q,"sub":%q,"aud":"https://iam.googleapis.com/","iat":%d,"exp":%d}`, target, target, now, now+600)
	resp, err := cred.Projects.ServiceAccounts.SignJwt(saName(target), &iamcredentials.SignJwtRequest{Payload: payload}).Do()
	if err != nil {
		t.Fatal(err)
	}
	var set JWKS
	getJSON(t, s.URL()+"/service_accounts/v1/jwk/"+target, &set)
	claims, err := VerifyJWT(resp.SignedJwt, set)
	if err != nil {
		t.Fatal(err)
	}
	if claims["sub"] != target || set.Keys[0].Kid != resp.KeyId {
		t.Errorf("claims %v, keys %+v, keyId %s", claims, set.Keys, resp.KeyId)
	}
	// Such a JWT is accepted as a bearer token for the account.
	if _, err := iamClient(t, s, resp.SignedJwt).Projects.ServiceAccounts.Get(saName(saEmail("other-sa"))).Do(); err != nil {
		t.Errorf("signed JWT as bearer: %v", err)
	}

	// Without exp, Google adds one an hour ahead.
	resp, err = cred.Projects.ServiceAccounts.SignJwt(saName(target), &iamcredentials.SignJwtRequest{Payload: `{"sub":"someone"}`}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if claims, err := VerifyJWT(resp.SignedJwt, set); err != nil || claims["exp"] != float64(now+3600) {
		t.Errorf("claims %v, %v", claims, err)
	}
	for _, bad := range []string{`not json`, `[1]`, fmt.Sprintf(`{"exp":%d}`, now-10), fmt.Sprintf(`{"exp":%d}`, now+13*3600), `{"exp":"soon"}`} {
		_, err = cred.Projects.ServiceAccounts.SignJwt(saName(target), &iamcredentials.SignJwtRequest{Payload: bad}).Do()
		wantAPIError(t, err, 400, "INVALID_ARGUMENT")
	}

	blob := []byte("sign me")
	sb, err := cred.Projects.ServiceAccounts.SignBlob(saName(target), &iamcredentials.SignBlobRequest{Payload: base64.StdEncoding.EncodeToString(blob)}).Do()
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := base64.StdEncoding.DecodeString(sb.SignedBlob)
	pub, _ := set.Keys[0].PublicKey()
	sum := sha256.Sum256(blob)
	if sb.KeyId != set.Keys[0].Kid || rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
		t.Error("signBlob signature does not verify")
	}
}

func TestPropagationDelay(t *testing.T) {
	clock := newFakeClock()
	s := newSeeded(t, []string{"target-sa"}, WithClock(clock.Now))
	s.SetPropagationDelay(time.Minute)
	target := saEmail("target-sa")
	cred := credClient(t, s, s.AccessTokenFor(alice))
	gen := func() error {
		_, err := cred.Projects.ServiceAccounts.GenerateIdToken(saName(target), &iamcredentials.GenerateIdTokenRequest{Audience: "a"}).Do()
		return err
	}

	// Through the API.
	svc := iamClient(t, s, s.AccessTokenFor(admin))
	p, err := svc.Projects.ServiceAccounts.GetIamPolicy(saName(target)).Do()
	if err != nil {
		t.Fatal(err)
	}
	p.Bindings = []*iam.Binding{{Role: tokenCreator, Members: []string{alice}}}
	if _, err := svc.Projects.ServiceAccounts.SetIamPolicy(saName(target), &iam.SetIamPolicyRequest{Policy: p}).Do(); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, gen(), 403, "PERMISSION_DENIED")
	clock.Advance(59 * time.Second)
	wantAPIError(t, gen(), 403, "PERMISSION_DENIED")
	clock.Advance(time.Second)
	if err := gen(); err != nil {
		t.Fatalf("after the delay: %v", err)
	}

	// Re-writing the policy keeps an existing member's grant; a new member waits.
	if err := s.AddMember(target, tokenCreator, "user:bob@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := gen(); err != nil {
		t.Errorf("alice lost her grant on an unrelated write: %v", err)
	}
	bob := credClient(t, s, s.AccessTokenFor("user:bob@example.com"))
	_, err = bob.Projects.ServiceAccounts.GenerateIdToken(saName(target), &iamcredentials.GenerateIdTokenRequest{Audience: "a"}).Do()
	wantAPIError(t, err, 403, "PERMISSION_DENIED")
	clock.Advance(time.Minute)
	if _, err := bob.Projects.ServiceAccounts.GenerateIdToken(saName(target), &iamcredentials.GenerateIdTokenRequest{Audience: "a"}).Do(); err != nil {
		t.Errorf("bob after the delay: %v", err)
	}

	// Project bindings wait too.
	if err := s.SetProjectBindings(testProject, []Binding{{Role: "roles/owner", Members: []string{admin}}, {Role: "roles/viewer", Members: []string{"user:carol@example.com"}}}); err != nil {
		t.Fatal(err)
	}
	carol := iamClient(t, s, s.AccessTokenFor("user:carol@example.com"))
	_, err = carol.Projects.ServiceAccounts.Get(saName(target)).Do()
	wantAPIError(t, err, 403, "PERMISSION_DENIED")
	clock.Advance(time.Minute)
	if _, err := carol.Projects.ServiceAccounts.Get(saName(target)).Do(); err != nil {
		t.Errorf("carol after the delay: %v", err)
	}
}

// rewriteTransport sends requests for Google hosts to the fake, adding a
// bearer token, as tests must do for google.golang.org/api/impersonate.
type rewriteTransport struct {
	base  *url.URL
	token string
}

func (rt rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = rt.base.Scheme, rt.base.Host
	r.Host = rt.base.Host
	r.Header.Set("Authorization", "Bearer "+rt.token)
	return http.DefaultTransport.RoundTrip(r)
}

func TestImpersonatePackage(t *testing.T) {
	s, chain := chainServer(t)
	base, _ := url.Parse(s.URL())
	hc := &http.Client{Transport: rewriteTransport{base: base, token: s.AccessTokenFor(alice)}}
	ts, err := impersonate.CredentialsTokenSource(ctx, impersonate.CredentialsConfig{
		TargetPrincipal: chain[2],
		Delegates:       chain[:2],
		Scopes:          []string{scopeCloudPlatform},
	}, option.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Valid() {
		t.Errorf("token %+v", tok)
	}
	its, err := impersonate.IDTokenSource(ctx, impersonate.IDTokenConfig{
		TargetPrincipal: chain[2], Delegates: chain[:2], Audience: "sts.amazonaws.com", IncludeEmail: true,
	}, option.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := its.Token()
	if err != nil {
		t.Fatal(err)
	}
	_, set := fetchJWKS(t, s)
	claims, err := VerifyJWT(idt.AccessToken, set)
	if err != nil || claims["email"] != chain[2] {
		t.Errorf("claims %v, %v", claims, err)
	}
}
