package composer

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
)

// front is a Composer front before a stub Airflow 2 that answers 200 to
// its Op account, and an environment pointing at it.
func front(t *testing.T, s *fakegcp.Server) (*fakegcp.ComposerFront, *Environment) {
	t.Helper()
	af := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "op" || p != "op-pass" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `{"connections":[],"total_entries":0}`)
	}))
	t.Cleanup(af.Close)
	f := s.NewComposerFront(fakegcp.ComposerFrontConfig{Environment: envName, Airflow: af.URL, APIVersion: "v1",
		Logins: map[string]fakegcp.AirflowLogin{"Op": {Username: "op", Password: "op-pass"}}})
	fs := httptest.NewServer(f)
	t.Cleanup(fs.Close)
	if err := s.AddComposerEnvironment(fakegcp.ComposerEnvironment{Name: envName, AirflowURI: fs.URL, ImageVersion: "composer-3-airflow-2.10.5"}); err != nil {
		t.Fatal(err)
	}
	env, err := resolver(t, s, deploy).Resolve(context.Background(), envName)
	if err != nil {
		t.Fatal(err)
	}
	return f, env
}

func client(env *Environment, token, email string, lookups *int) *http.Client {
	return &http.Client{Transport: &Transport{
		Base:        &oauth2.Transport{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})},
		Environment: env,
		Identity:    func(context.Context) string { *lookups++; return email },
	}}
}

func TestTransportPassesAirflowsAnswers(t *testing.T) {
	s := gcp(t)
	_, env := front(t, s)
	lookups := 0
	resp, err := client(env, s.AccessTokenFor("serviceAccount:"+deploy), deploy, &lookups).Get(env.AirflowURI + "/api/v1/connections")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "total_entries") {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	if lookups != 0 {
		t.Fatalf("identity looked up %d times on success; want 0", lookups)
	}
}

func TestTransportSignInRedirect(t *testing.T) {
	s := gcp(t)
	_, env := front(t, s)
	lookups := 0
	c := client(env, "a-token-google-never-issued", deploy, &lookups)
	for range 2 {
		_, err := c.Get(env.AirflowURI + "/api/v1/connections/x")
		var ae *AccessError
		if !errors.As(err, &ae) || ae.Kind != SignInRedirect {
			t.Fatalf("err = %v; want a sign-in AccessError", err)
		}
		for _, w := range []string{envName, deploy, "redirected the request to Google's sign-in page", fakegcp.SignInURL, "roles/composer.user on project " + project} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q\ndoes not contain %q", err, w)
			}
		}
		if strings.Contains(err.Error(), "continue=") {
			t.Errorf("error repeats the redirect's query: %q", err)
		}
	}
	if lookups != 1 {
		t.Fatalf("identity looked up %d times; want once", lookups)
	}
}

func TestTransportNoAirflowRole(t *testing.T) {
	s := gcp(t)
	f, env := front(t, s)
	f.SetRole(deploy, "Viewer")
	lookups := 0
	_, err := client(env, s.AccessTokenFor("serviceAccount:"+deploy), deploy, &lookups).Get(env.AirflowURI + "/api/v1/connections/x")
	var ae *AccessError
	if !errors.As(err, &ae) || ae.Kind != NoAirflowRole {
		t.Fatalf("err = %v; want a no-role AccessError", err)
	}
	for _, w := range []string{envName, deploy, "403 Forbidden", "composer_auth_user_registration_role (this environment: Op)",
		"gcloud composer environments run prod --location europe-west1 users add-role -- -e " + deploy + " -r Op", "Airflow UI"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\ndoes not contain %q", err, w)
		}
	}
}
