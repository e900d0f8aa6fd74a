package fakegcp

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// metadataGet asks the fake's metadata server for path with the given
// headers and returns the status, the Metadata-Flavor answer and the body.
func metadataGet(t *testing.T, s *Server, path string, headers map[string]string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Metadata-Flavor"), string(b)
}

var flavor = map[string]string{"Metadata-Flavor": "Google"}

func newMetadataServer(t *testing.T) (*Server, ServiceAccount) {
	t.Helper()
	s := newSeeded(t, []string{"worker-sa", "target-sa"})
	sa, _ := s.ServiceAccount(saEmail("worker-sa"))
	if err := s.SetMetadataServiceAccount(sa.Email); err != nil {
		t.Fatal(err)
	}
	return s, sa
}

func TestMetadataNeedsTheFlavorHeader(t *testing.T) {
	s, _ := newMetadataServer(t)
	for _, h := range []map[string]string{
		nil,
		{"Metadata-Flavor": "google"},
		{"Metadata-Flavor": "Google", "X-Forwarded-For": "10.0.0.1"},
	} {
		for _, p := range []string{"/", "/computeMetadata/v1/instance/service-accounts/default/email", "/computeMetadata/v1/instance/service-accounts/default/token"} {
			code, fl, body := metadataGet(t, s, p, h)
			if code != http.StatusForbidden || fl != "Google" || strings.Contains(body, "@") {
				t.Errorf("GET %s with %v = %d (flavor %q) %q, want 403 with Metadata-Flavor: Google", p, h, code, fl, body)
			}
		}
	}
}

func TestMetadataEntries(t *testing.T) {
	s, sa := newMetadataServer(t)
	number, _ := s.ProjectNumber(testProject)
	sap := "/computeMetadata/v1/instance/service-accounts/"
	for path, want := range map[string]string{
		"/":                                      "computeMetadata/\n",
		"/computeMetadata/v1/project/project-id": testProject,
		"/computeMetadata/v1/project/numeric-project-id": number,
		"/computeMetadata/v1/universe/universe-domain":   "googleapis.com",
		sap:                       "default/\n" + sa.Email + "/\n",
		sap + "default/email":     sa.Email,
		sap + sa.Email + "/email": sa.Email,
		sap + "default/":          "aliases\nemail\nidentity\nscopes\ntoken\n",
		sap + "default/scopes":    scopeCloudPlatform + "\n",
		sap + "default/aliases":   "default\n",
	} {
		code, fl, body := metadataGet(t, s, path, flavor)
		if code != http.StatusOK || fl != "Google" || body != want {
			t.Errorf("GET %s = %d (flavor %q) %q, want 200 %q", path, code, fl, body, want)
		}
	}
	code, _, body := metadataGet(t, s, sap+"default/?recursive=true", flavor)
	var info metadataAccountInfo
	if err := json.Unmarshal([]byte(body), &info); code != http.StatusOK || err != nil ||
		info.Email != sa.Email || len(info.Scopes) != 1 || info.Scopes[0] != scopeCloudPlatform {
		t.Errorf("recursive account info = %d %q (%v)", code, body, err)
	}
	// Another account's entries, and every entry with no account set, are 404.
	if code, _, _ := metadataGet(t, s, sap+saEmail("target-sa")+"/email", flavor); code != http.StatusNotFound {
		t.Errorf("another account's email: %d, want 404", code)
	}
	if err := s.SetMetadataServiceAccount(""); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{sap + "default/email", sap + "default/token", sap + "default/identity?audience=x"} {
		if code, _, body := metadataGet(t, s, p, flavor); code != http.StatusNotFound {
			t.Errorf("GET %s without an account = %d %q, want 404", p, code, body)
		}
	}
	if err := s.SetMetadataServiceAccount("ghost@nowhere.iam.gserviceaccount.com"); err == nil {
		t.Error("an unknown account was accepted")
	}
}

// The ID token follows the instance identity token's claims: azp = sub =
// the unique ID, and the email only with format=full.
func TestMetadataIdentity(t *testing.T) {
	s, sa := newMetadataServer(t)
	jwks, err := s.IssuerJWKS()
	if err != nil {
		t.Fatal(err)
	}
	base := "/computeMetadata/v1/instance/service-accounts/default/identity"
	for query, wantEmail := range map[string]bool{"?audience=aud-1": false, "?audience=aud-1&format=standard": false, "?audience=aud-1&format=full": true} {
		code, _, tok := metadataGet(t, s, base+query, flavor)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %q", query, code, tok)
		}
		claims, err := VerifyJWT(tok, jwks)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		if claims["aud"] != "aud-1" || claims["azp"] != sa.UniqueID || claims["sub"] != sa.UniqueID || claims["iss"] != DefaultIssuer {
			t.Errorf("%s: claims %v", query, claims)
		}
		if _, has := claims["email"]; has != wantEmail || (wantEmail && (claims["email"] != sa.Email || claims["email_verified"] != true)) {
			t.Errorf("%s: email claims in %v, want them %v", query, claims, wantEmail)
		}
	}
	for _, bad := range []string{"", "?format=full", "?audience=a&format=compact"} {
		if code, _, _ := metadataGet(t, s, base+bad, flavor); code != http.StatusBadRequest {
			t.Errorf("identity%s = %d, want 400", bad, code)
		}
	}
}

// The access token is the account's own: tokeninfo names it, and it
// impersonates what the account may impersonate, and nothing else.
func TestMetadataToken(t *testing.T) {
	s, sa := newMetadataServer(t)
	target := saEmail("target-sa")
	code, _, body := metadataGet(t, s, "/computeMetadata/v1/instance/service-accounts/default/token?scopes=a,"+scopeCloudPlatform, flavor)
	var tr tokenResponse
	if err := json.Unmarshal([]byte(body), &tr); code != http.StatusOK || err != nil || tr.AccessToken == "" || tr.TokenType != "Bearer" || tr.ExpiresIn <= 0 {
		t.Fatalf("token = %d %q (%v)", code, body, err)
	}
	resp, err := http.Get(s.URL() + "/oauth2/v3/tokeninfo?access_token=" + tr.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	var info tokenInfo
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil || info.Email != sa.Email || info.Azp != sa.UniqueID || info.Scope != "a "+scopeCloudPlatform {
		t.Errorf("tokeninfo = %+v (%v)", info, err)
	}
	mint := func() int {
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/v1/projects/-/serviceAccounts/"+target+":generateAccessToken",
			strings.NewReader(`{"scope":["`+scopeCloudPlatform+`"]}`))
		req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := mint(); code != http.StatusForbidden {
		t.Errorf("generateAccessToken without a grant: %d, want 403", code)
	}
	if err := s.AddMember(target, tokenCreator, "serviceAccount:"+sa.Email); err != nil {
		t.Fatal(err)
	}
	if code := mint(); code != http.StatusOK {
		t.Errorf("generateAccessToken with the grant: %d, want 200", code)
	}
}

func TestSeedSetsTheMetadataAccount(t *testing.T) {
	s := NewTestServer(t)
	if err := s.Seed(Seed{Projects: []SeedProject{{ProjectID: testProject, ServiceAccounts: []SeedServiceAccount{{AccountID: "worker-sa"}}}},
		MetadataServiceAccount: saEmail("worker-sa")}); err != nil {
		t.Fatal(err)
	}
	if code, _, body := metadataGet(t, s, "/computeMetadata/v1/instance/service-accounts/default/email", flavor); code != http.StatusOK || body != saEmail("worker-sa") {
		t.Errorf("email = %d %q", code, body)
	}
	if err := New().Seed(Seed{MetadataServiceAccount: "ghost@p.iam.gserviceaccount.com"}); err == nil {
		t.Error("a seed naming an unknown metadata account was accepted")
	}
}

// Bare-email delegates are refused unless AcceptBareDelegates is on.
func TestAcceptBareDelegates(t *testing.T) {
	s, sa := newMetadataServer(t)
	d, target := saEmail("target-sa"), saEmail("worker-sa")
	if err := s.AddMember(d, tokenCreator, "serviceAccount:"+sa.Email); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(target, tokenCreator, "serviceAccount:"+d); err != nil {
		t.Fatal(err)
	}
	tok := s.AccessTokenFor(sa.Email)
	mint := func(delegate string) int {
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/v1/projects/-/serviceAccounts/"+target+":generateAccessToken",
			strings.NewReader(`{"scope":["`+scopeCloudPlatform+`"],"delegates":["`+delegate+`"]}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := mint(d); code != http.StatusBadRequest {
		t.Errorf("bare delegate by default: %d, want 400", code)
	}
	s.AcceptBareDelegates(true)
	if code := mint(d); code != http.StatusOK {
		t.Errorf("bare delegate when accepted: %d, want 200", code)
	}
	if code := mint("projects/p/x"); code != http.StatusBadRequest {
		t.Errorf("malformed delegate when bare ones are accepted: %d, want 400", code)
	}
}
