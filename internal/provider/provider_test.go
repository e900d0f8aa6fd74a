package provider

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
)

// TestMain starts the services acceptance tests need (when TF_ACC is set)
// and stops them afterwards.
func TestMain(m *testing.M) {
	os.Exit(acctest.Main(m))
}

// protoV6ProviderFactories serves the provider in-process for every test.
var protoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"airflowiam": providerserver.NewProtocol6WithError(New("test")()),
}

// forEachAirflow runs f once per Airflow major version, in parallel.
func forEachAirflow(t *testing.T, f func(t *testing.T, af *acctest.Airflow)) {
	t.Helper()
	for _, af := range acctest.Airflows(t) {
		t.Run(af.Name, func(t *testing.T) {
			f(t, af)
		})
	}
}

// providerConfig is a provider block for af with explicit credentials.
func providerConfig(af *acctest.Airflow) string {
	return fmt.Sprintf(`
provider "airflowiam" {
  airflow {
    endpoint    = %q
    username    = %q
    password    = %q
    api_version = %q
  }
}
`, af.URL, af.Username, af.Password, af.APIVersion)
}

// testClient is an Airflow client for out-of-band changes and checks.
func testClient(t *testing.T, af *acctest.Airflow) *airflow.Client {
	t.Helper()
	c, err := airflow.NewClient(airflow.Config{
		Endpoint: af.URL, Username: af.Username, Password: af.Password, APIVersion: af.APIVersion,
	})
	if err != nil {
		t.Fatalf("test client: %v", err)
	}
	return c
}

// checkAPIConnection asserts on the connection as Airflow returns it.
func checkAPIConnection(t *testing.T, af *acctest.Airflow, id string, check func(*airflow.Connection) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		conn, err := testClient(t, af).GetConnection(context.Background(), id)
		if err != nil {
			return fmt.Errorf("reading connection %q from %s: %w", id, af.Name, err)
		}
		return check(conn)
	}
}

// checkConnectionDestroyed asserts that Airflow no longer has the connection.
func checkConnectionDestroyed(t *testing.T, af *acctest.Airflow, ids ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, id := range ids {
			_, err := testClient(t, af).GetConnection(context.Background(), id)
			if err == nil {
				return fmt.Errorf("connection %q still exists on %s after destroy", id, af.Name)
			}
			if !airflow.IsNotFound(err) {
				return fmt.Errorf("checking connection %q on %s: %w", id, af.Name, err)
			}
		}
		return nil
	}
}

// checkNoSecretInWorkingDir reads every file Terraform wrote under dir
// (state, backups, plans; not the configuration, which holds the secret by
// design) and fails if any contains one of secrets.
func checkNoSecretInWorkingDir(dir string, secrets ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		statesSeen := 0
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if strings.HasSuffix(p, ".tf") {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if strings.HasSuffix(p, ".tfstate") {
				statesSeen++
			}
			for _, s := range secrets {
				if strings.Contains(string(b), s) {
					return fmt.Errorf("secret found in %s", p)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if statesSeen == 0 {
			return fmt.Errorf("no state file found under %s: the check read nothing", dir)
		}
		return nil
	}
}

func strPtr(s string) *string { return &s }

func int64Ptr(i int64) *int64 { return &i }

func derefString(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

// expectField compares one connection field.
func expectField(name string, got *string, want *string) error {
	if (got == nil) != (want == nil) || (got != nil && *got != *want) {
		return fmt.Errorf("%s: Airflow has %s, want %s", name, derefString(got), derefString(want))
	}
	return nil
}
