package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

const seedPath = "../../examples/quickstart/sandbox-seed.json"

// The quickstart's seed holds what its configuration names.
func TestQuickstartSeed(t *testing.T) {
	seed, err := fakegcp.LoadSeed(seedPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := terraformToken(seed); err != nil {
		t.Fatal(err)
	}
	s := fakegcp.NewTestServer(t)
	if err := s.Seed(seed); err != nil {
		t.Fatal(err)
	}
	vars, err := os.ReadFile("../../examples/quickstart/variables.tf")
	if err != nil {
		t.Fatal(err)
	}
	for _, account := range []string{"airflow-worker", "bq-delegate", "bq-loader", "etl-task"} {
		email := account + "@airflow-prod.iam.gserviceaccount.com"
		if _, ok := s.ServiceAccount(email); !ok {
			t.Errorf("the seed has no %s", email)
		}
		if !strings.Contains(string(vars), email) {
			t.Errorf("the quickstart does not name %s", email)
		}
	}
}

// up writes every variable the quickstart needs, and stops what it started
// when its context ends.
func TestUpWritesVariablesAndStops(t *testing.T) {
	stopped := make(chan struct{})
	startServices = func(io.Writer) (*acctest.Airflow, *acctest.Moto, func(), error) {
		return &acctest.Airflow{URL: "http://127.0.0.1:1", Username: "admin", Password: "pw"},
			&acctest.Moto{URL: "http://127.0.0.1:2", Region: "us-east-1", AccessKeyID: "testing", SecretAccessKey: "testing"},
			func() { close(stopped) }, nil
	}
	tfvars := filepath.Join(t.TempDir(), "terraform.tfvars.json")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() { done <- run(ctx, []string{"up", "-seed", seedPath, "-tfvars", tfvars}, &out) }()

	var vars map[string]string
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(tfvars); err == nil {
			if err := json.Unmarshal(b, &vars); err != nil {
				t.Fatalf("tfvars: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no tfvars written")
		}
		time.Sleep(20 * time.Millisecond)
	}
	quickstart, err := os.ReadFile("../../examples/quickstart/variables.tf")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range vars {
		if v == "" {
			t.Errorf("variable %s is empty", k)
		}
		if !strings.Contains(string(quickstart), `variable "`+k+`"`) {
			t.Errorf("the quickstart declares no variable %s", k)
		}
	}
	if vars["google_access_token"] != "sandbox-terraform-token" || vars["airflow_url"] != "http://127.0.0.1:1" {
		t.Errorf("vars = %v", vars)
	}

	// revoke, as the demo does, against the fakegcp up started.
	err = run(t.Context(), []string{"revoke", "-google", vars["google_endpoint"], "-token", vars["google_access_token"],
		"-account", "airflow-worker@airflow-prod.iam.gserviceaccount.com", "-member", "user:terraform@example.com"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	err = run(t.Context(), []string{"revoke", "-google", vars["google_endpoint"], "-token", vars["google_access_token"],
		"-account", "airflow-worker@airflow-prod.iam.gserviceaccount.com", "-member", "user:terraform@example.com",
		"-role", gcpiam.RoleTokenCreator}, &out)
	if err == nil || !strings.Contains(err.Error(), "did not hold") {
		t.Errorf("revoking twice: err = %v, want a complaint", err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopped:
	default:
		t.Error("up returned without stopping the services")
	}
}

func TestRunRejectsBadUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"down"}, {"up"}, {"revoke", "-google", "x"}} {
		if err := run(t.Context(), args, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

// The worker spec points the worker's Google identity at the fake's
// metadata server and boto3 at moto, and carries no credential.
func TestWorkerSpec(t *testing.T) {
	spec := workerSpec(&acctest.Airflow{URL: "http://127.0.0.1:1"}, &acctest.Moto{URL: "http://127.0.0.1:2", Region: "us-east-1"}, "http://127.0.0.1:3")
	env, _ := spec["env"].(map[string]string)
	for k, want := range map[string]string{
		"GCE_METADATA_HOST": "127.0.0.1:3", "GCE_METADATA_IP": "127.0.0.1:3", "AIRFLOWIAM_GOOGLEAPIS_URL": "http://127.0.0.1:3",
		"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:2", "AWS_DEFAULT_REGION": "us-east-1",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	for k := range env {
		if strings.Contains(k, "SECRET_ACCESS") || strings.Contains(k, "ACCESS_KEY") || k == "GOOGLE_APPLICATION_CREDENTIALS" {
			t.Errorf("the worker gets %s", k)
		}
	}
}
