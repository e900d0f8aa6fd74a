package acctest

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
)

// Composer is a Cloud Composer stand-in before one of the test Airflows: a
// fakegcp with an environment whose airflowUri is a fakegcp.ComposerFront
// that forwards to the real Airflow, and a service account (Deployer) that
// holds roles/composer.user on the project and signs in with a key file, so
// that the provider fetches its access token from the fake's /token as it
// would from Google.
type Composer struct {
	GCP         *GCP
	Front       *fakegcp.ComposerFront
	Environment string // projects/P/locations/L/environments/E
	FrontURL    string // the environment's airflowUri
	Deployer    string // the provider's Google identity
	// Credentials is Deployer's key file, for the google block.
	Credentials string
}

// composerLocation is where the test environments live.
const composerLocation = "europe-west1"

// ComposerFor starts a Composer stand-in in front of af for t. The front
// acts as af's administrator for the Op role and as its viewer for Viewer
// (see fakegcp.ComposerFront for what that simplifies).
func ComposerFor(t testing.TB, af *Airflow) *Composer {
	t.Helper()
	g := FakeGCP(t)
	if g == nil {
		return nil
	}
	deployer := g.ServiceAccounts(t, "airflow-deployer")[0]
	if err := g.SetProjectBindings(g.Project, []fakegcp.Binding{
		{Role: "roles/owner", Members: []string{g.Admin}},
		{Role: "roles/composer.user", Members: []string{"serviceAccount:" + deployer}},
	}); err != nil {
		t.Fatalf("acctest: granting roles/composer.user: %v", err)
	}
	key, err := g.CreateServiceAccountKey(deployer)
	if err != nil {
		t.Fatalf("acctest: key for %s: %v", deployer, err)
	}
	env := fmt.Sprintf("projects/%s/locations/%s/environments/%s", g.Project, composerLocation, af.Name)
	logins := map[string]fakegcp.AirflowLogin{"Op": {Username: af.Username, Password: af.Password}}
	if af.ViewerUsername != "" {
		logins["Viewer"] = fakegcp.AirflowLogin{Username: af.ViewerUsername, Password: af.ViewerPassword}
	}
	front := g.NewComposerFront(fakegcp.ComposerFrontConfig{Environment: env, Airflow: af.URL, APIVersion: af.APIVersion, Logins: logins})
	srv := httptest.NewServer(front)
	t.Cleanup(srv.Close)
	if err := g.AddComposerEnvironment(fakegcp.ComposerEnvironment{
		Name: env, AirflowURI: srv.URL, ImageVersion: "composer-3-airflow-" + af.Version + "-build.1",
	}); err != nil {
		t.Fatalf("acctest: seeding %s: %v", env, err)
	}
	return &Composer{GCP: g, Front: front, Environment: env, FrontURL: srv.URL, Deployer: deployer, Credentials: string(key)}
}

// ProviderBlocks are the provider's airflow and google blocks that reach
// the Airflow through the stand-in as Deployer.
func (c *Composer) ProviderBlocks() string {
	return fmt.Sprintf(`  airflow {
    composer_environment = %q
  }
  google {
    credentials       = %q
    composer_endpoint = %q
    oauth2_endpoint   = %q
    iam_endpoint      = %q
  }
`, c.Environment, c.Credentials, c.GCP.URL, c.GCP.URL, c.GCP.URL)
}

// ThroughComposer is af as the connection scenarios see it through a
// Composer stand-in: Name gains "_composer", and Composer is set, so the
// provider reaches af through the stand-in (Composer.ProviderBlocks). Out-of-band reads and changes still go to af
// directly. When t ends it checks the token budget: the provider fetched
// exactly one Google access token per provider process, that is per
// environments.get (each Configure reads the environment once).
func ThroughComposer(t testing.TB, af *Airflow) *Airflow {
	t.Helper()
	c := ComposerFor(t, af)
	if c == nil {
		return nil
	}
	through := *af
	through.Name = af.Name + "_composer"
	through.Composer = c
	t.Cleanup(func() {
		counts := c.GCP.RequestCounts()
		gets, tokens := counts["composer.projects.locations.environments.get"], counts["oauth2.token"]
		forwarded, refused := c.Front.Counts()
		t.Logf("acctest: %s: %d provider processes (environments.get), %d Google token fetches, %d requests forwarded to Airflow, %d refused by the front",
			through.Name, gets, tokens, forwarded, refused)
		switch {
		case gets == 0 || forwarded == 0:
			t.Errorf("acctest: %s: the provider never went through Composer (%d environments.get, %d requests forwarded)", through.Name, gets, forwarded)
		case tokens != gets:
			t.Errorf("acctest: %s: %d Google token fetches for %d provider processes (environments.get); want one each", through.Name, tokens, gets)
		}
	})
	return &through
}
