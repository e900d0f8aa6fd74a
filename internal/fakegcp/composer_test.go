package fakegcp

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	composerapi "google.golang.org/api/composer/v1"
	"google.golang.org/api/option"
)

const testEnv = "projects/" + testProject + "/locations/europe-west1/environments/prod"

func composerClient(t *testing.T, s *Server, tok string) *composerapi.Service {
	t.Helper()
	svc, err := composerapi.NewService(context.Background(), option.WithEndpoint(s.URL()+"/"), tokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestComposerGetEnvironment(t *testing.T) {
	s := newSeeded(t, nil)
	if err := s.AddComposerEnvironment(ComposerEnvironment{
		Name: testEnv, AirflowURI: "https://example.composer.googleusercontent.com",
		ImageVersion:           "composer-3-airflow-2.10.5-build.7",
		AirflowConfigOverrides: map[string]string{"api-composer_auth_user_registration_role": "Viewer"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetProjectBindings(testProject, []Binding{
		{Role: "roles/owner", Members: []string{admin}},
		{Role: "roles/composer.user", Members: []string{"user:bob@example.com"}},
	}); err != nil {
		t.Fatal(err)
	}

	for _, who := range []string{admin, "user:bob@example.com"} {
		env, err := composerClient(t, s, s.AccessTokenFor(who)).Projects.Locations.Environments.Get(testEnv).Do()
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		if env.State != ComposerRunning || env.Config.AirflowUri != "https://example.composer.googleusercontent.com" ||
			env.Config.SoftwareConfig.ImageVersion != "composer-3-airflow-2.10.5-build.7" ||
			env.Config.SoftwareConfig.AirflowConfigOverrides["api-composer_auth_user_registration_role"] != "Viewer" || env.Uuid == "" {
			t.Fatalf("%s: got %+v / %+v", who, env, env.Config.SoftwareConfig)
		}
	}

	// Without composer.environments.get: 403, whether or not it exists.
	alicesClient := composerClient(t, s, s.AccessTokenFor(alice)).Projects.Locations.Environments
	for _, name := range []string{testEnv, strings.Replace(testEnv, "prod", "nope", 1)} {
		_, err := alicesClient.Get(name).Do()
		f := wantAPIError(t, err, http.StatusForbidden, "PERMISSION_DENIED")
		if !strings.Contains(f.Message, "composer.environments.get") {
			t.Fatalf("403 message %q does not name the permission", f.Message)
		}
	}
	// With it, a missing environment is 404.
	_, err := composerClient(t, s, s.AccessTokenFor(admin)).Projects.Locations.Environments.Get(strings.Replace(testEnv, "prod", "nope", 1)).Do()
	wantAPIError(t, err, http.StatusNotFound, "NOT_FOUND")

	if err := s.SetComposerState(testEnv, ComposerError); err != nil {
		t.Fatal(err)
	}
	env, err := composerClient(t, s, s.AccessTokenFor(admin)).Projects.Locations.Environments.Get(testEnv).Do()
	if err != nil || env.State != ComposerError {
		t.Fatalf("state after SetComposerState: %v %v", env, err)
	}
	if n := s.RequestCounts()["composer.projects.locations.environments.get"]; n != 6 {
		t.Fatalf("counted %d environments.get calls, want 6", n)
	}
}

// airflowStub answers like an Airflow 2 (basic auth) or 3 (JWT): 200 with
// who it authenticated, 401 otherwise.
func airflowStub(t *testing.T, version string, users map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if r.URL.Path == "/auth/token" {
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"access_token":"jwt-for-op"}`))
			return
		}
		who := ""
		if version == "v1" {
			if raw, ok := strings.CutPrefix(h, "Basic "); ok {
				b, _ := base64.StdEncoding.DecodeString(raw)
				u, p, _ := strings.Cut(string(b), ":")
				if users[u] == p {
					who = u
				}
			}
		} else if h == "Bearer jwt-for-op" {
			who = "op-user"
		}
		if who == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Who", who)
		_, _ = w.Write([]byte(`{"path":"` + r.URL.RequestURI() + `"}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestComposerFront(t *testing.T) {
	for _, version := range []string{"v1", "v2"} {
		t.Run(version, func(t *testing.T) {
			s := newSeeded(t, []string{"deployer"})
			af := airflowStub(t, version, map[string]string{"op-user": "op-pass"})
			front := s.NewComposerFront(ComposerFrontConfig{Environment: testEnv, Airflow: af.URL, APIVersion: version,
				Logins: map[string]AirflowLogin{"Op": {"op-user", "op-pass"}}})
			fsrv := httptest.NewServer(front)
			t.Cleanup(fsrv.Close)
			if err := s.AddComposerEnvironment(ComposerEnvironment{Name: testEnv, AirflowURI: fsrv.URL, ImageVersion: "composer-3-airflow-2.10.5"}); err != nil {
				t.Fatal(err)
			}
			noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			get := func(tok string) *http.Response {
				req, _ := http.NewRequest(http.MethodGet, fsrv.URL+"/api/"+version+"/connections?limit=1", nil)
				if tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				resp, err := noRedirect.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				return resp
			}

			// No token, and a token the fake never issued: sign-in redirect.
			for _, tok := range []string{"", "not-issued"} {
				resp := get(tok)
				if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), SignInURL+"?") {
					t.Fatalf("token %q: %d Location %q, want 302 to sign-in", tok, resp.StatusCode, resp.Header.Get("Location"))
				}
			}

			// An issued token: registered with Op and forwarded as Op's account.
			deployer := saEmail("deployer")
			resp := get(s.AccessTokenFor("serviceAccount:" + deployer))
			if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Who") != "op-user" {
				t.Fatalf("issued token: %d as %q, want 200 as op-user", resp.StatusCode, resp.Header.Get("X-Who"))
			}
			if role, ok := front.Role(deployer); !ok || role != "Op" {
				t.Fatalf("registered role %q %v, want Op", role, ok)
			}

			// A role without a login (Viewer here) is Airflow's 403.
			front.SetRole(deployer, "Viewer")
			if resp := get(s.AccessTokenFor("serviceAccount:" + deployer)); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("Viewer: %d, want 403", resp.StatusCode)
			}
			if fwd, refused := front.Counts(); fwd != 1 || refused != 3 {
				t.Fatalf("counts forwarded %d refused %d, want 1 and 3", fwd, refused)
			}
		})
	}
}

func TestComposerFrontRegistersWithTheEnvironmentsRole(t *testing.T) {
	s := newSeeded(t, nil)
	af := airflowStub(t, "v1", map[string]string{"op-user": "op-pass"})
	front := s.NewComposerFront(ComposerFrontConfig{Environment: testEnv, Airflow: af.URL, APIVersion: "v1",
		Logins: map[string]AirflowLogin{"Op": {"op-user", "op-pass"}}})
	fsrv := httptest.NewServer(front)
	t.Cleanup(fsrv.Close)
	if err := s.AddComposerEnvironment(ComposerEnvironment{Name: testEnv, AirflowURI: fsrv.URL, ImageVersion: "composer-2.9.7-airflow-2.9.3",
		AirflowConfigOverrides: map[string]string{"api-composer_auth_user_registration_role": "User"}}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, fsrv.URL+"/api/v1/connections", nil)
	req.Header.Set("Authorization", "Bearer "+s.AccessTokenFor(alice))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403 for a User", resp.StatusCode)
	}
	if role, _ := front.Role("alice@example.com"); role != "User" {
		t.Fatalf("registered as %q, want User from the override", role)
	}
}
