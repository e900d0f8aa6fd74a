package composer

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
)

const (
	project = "data-platform"
	envName = "projects/" + project + "/locations/europe-west1/environments/prod"
	deploy  = "deployer@" + project + ".iam.gserviceaccount.com"
)

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		envName: true,
		"projects/p/locations/us-central1/environments/e-1": true,
		"projects/p/locations/us-central1/environments/":    false,
		"projects/p/environments/e":                         false,
		"prod":                                              false,
		"projects/p/locations/l/environments/e/extra":       false,
		" projects/p/locations/l/environments/e":            false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestAirflowMajor(t *testing.T) {
	for image, want := range map[string]int{
		"composer-3-airflow-2.10.5-build.7": 2,
		"composer-3-airflow-3.1.0":          3,
		"composer-3-airflow-3.x":            3,
		"composer-2.9.7-airflow-2.9.3":      2,
		"composer-1.20.12-airflow-1.10.15":  1,
		"composer-2-airflow-2":              2,
	} {
		got, err := AirflowMajor(image)
		if err != nil || got != want {
			t.Errorf("AirflowMajor(%q) = %d, %v; want %d", image, got, err, want)
		}
	}
	for _, bad := range []string{"", "airflow-2.10.5", "composer-3", "composer-latest-airflow-x"} {
		if _, err := AirflowMajor(bad); err == nil || !strings.Contains(err.Error(), "imageVersion") {
			t.Errorf("AirflowMajor(%q) err = %v; want one naming imageVersion", bad, err)
		}
	}
}

// gcp is a fake Google with one project, a deployer that may read
// environments and an outsider that may not.
func gcp(t *testing.T) *fakegcp.Server {
	t.Helper()
	s := fakegcp.NewTestServer(t)
	if err := s.Seed(fakegcp.Seed{Projects: []fakegcp.SeedProject{{
		ProjectID:       project,
		Bindings:        []fakegcp.Binding{{Role: "roles/composer.user", Members: []string{"serviceAccount:" + deploy}}},
		ServiceAccounts: []fakegcp.SeedServiceAccount{{AccountID: "deployer"}, {AccountID: "outsider"}},
	}}}); err != nil {
		t.Fatal(err)
	}
	return s
}

func resolver(t *testing.T, s *fakegcp.Server, email string) *Resolver {
	t.Helper()
	hc := &http.Client{Transport: &oauth2.Transport{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: s.AccessTokenFor("serviceAccount:" + email)})}}
	r, err := NewResolver(context.Background(), Config{HTTPClient: hc, Endpoint: s.URL(),
		Identity: func(context.Context) string { return email }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResolve(t *testing.T) {
	s := gcp(t)
	for image, api := range map[string]string{"composer-3-airflow-2.10.5-build.7": "v1", "composer-3-airflow-3.1.0-build.1": "v2"} {
		if err := s.AddComposerEnvironment(fakegcp.ComposerEnvironment{Name: envName, AirflowURI: "https://af.example.com", ImageVersion: image}); err != nil {
			t.Fatal(err)
		}
		env, err := resolver(t, s, deploy).Resolve(context.Background(), envName)
		if err != nil {
			t.Fatal(err)
		}
		if env.AirflowURI != "https://af.example.com" || env.APIVersion != api || env.RegistrationRole != "Op" || env.ImageVersion != image {
			t.Fatalf("%s: got %+v, want API %s and the default role Op", image, env, api)
		}
	}
	if err := s.AddComposerEnvironment(fakegcp.ComposerEnvironment{Name: envName, AirflowURI: "https://af.example.com",
		ImageVersion: "composer-3-airflow-2.10.5", State: fakegcp.ComposerUpdating,
		AirflowConfigOverrides: map[string]string{RegistrationRoleOverride: "Viewer"}}); err != nil {
		t.Fatal(err)
	}
	env, err := resolver(t, s, deploy).Resolve(context.Background(), envName)
	if err != nil {
		t.Fatalf("an UPDATING environment is usable: %v", err)
	}
	if env.RegistrationRole != "Viewer" {
		t.Fatalf("RegistrationRole = %q, want the override", env.RegistrationRole)
	}
}

func TestResolveErrors(t *testing.T) {
	s := gcp(t)
	if err := s.AddComposerEnvironment(fakegcp.ComposerEnvironment{Name: envName, AirflowURI: "https://af.example.com", ImageVersion: "composer-3-airflow-2.10.5"}); err != nil {
		t.Fatal(err)
	}
	outsider := "outsider@" + project + ".iam.gserviceaccount.com"
	missing := strings.Replace(envName, "/prod", "/staging", 1)
	cases := []struct {
		name, who, env string
		setup          func()
		want           []string
	}{
		{"no permission", outsider, envName, nil, []string{outsider, "composer.environments.get", envName, "roles/composer.user",
			"--member=serviceAccount:" + outsider, "403"}},
		{"not found", deploy, missing, nil, []string{missing, "does not exist", "404", deploy, "gcloud composer environments list --project " + project + " --locations europe-west1"}},
		{"not running", deploy, envName, func() { _ = s.SetComposerState(envName, fakegcp.ComposerError) }, []string{envName, "is ERROR, not RUNNING"}},
		{"creating", deploy, envName, func() { _ = s.SetComposerState(envName, fakegcp.ComposerCreating) }, []string{"is CREATING, not RUNNING"}},
		{"bad name", deploy, "prod", nil, []string{`"prod"`, NameForm}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			_, err := resolver(t, s, tc.who).Resolve(context.Background(), tc.env)
			if err == nil {
				t.Fatal("Resolve succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestResolveImageOfAnotherAirflow(t *testing.T) {
	s := gcp(t)
	if err := s.AddComposerEnvironment(fakegcp.ComposerEnvironment{Name: envName, AirflowURI: "https://af.example.com", ImageVersion: "composer-1.20.12-airflow-1.10.15"}); err != nil {
		t.Fatal(err)
	}
	_, err := resolver(t, s, deploy).Resolve(context.Background(), envName)
	if err == nil || !strings.Contains(err.Error(), "runs Airflow 1") {
		t.Fatalf("err = %v; want Airflow 1 refused", err)
	}
}
