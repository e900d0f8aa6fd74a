// Command sandbox runs the quickstart's local services for `make demo`:
// real Airflow 3 and moto as processes (from the test venvs) and a seeded
// fakegcp in-process, all on 127.0.0.1. It writes the quickstart's
// terraform.tfvars.json, then serves until SIGINT or SIGTERM and stops
// everything.
//
//	sandbox up -seed SEED.json -tfvars OUT.json [-worker WORKER.json]
//	sandbox revoke -google URL -token T -account EMAIL -member MEMBER -role ROLE
//
// -worker writes what a worker of the sandbox's Airflow runs with (its
// python and the environment that reaches the sandbox's database, metadata
// server and moto), for make demo's real task.
//
// revoke removes one member of one role on a service account, as a person
// would in the console; the demo uses it to break a hop on purpose.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: sandbox up|revoke [flags]")
	}
	switch args[0] {
	case "up":
		return up(ctx, args[1:], out)
	case "revoke":
		return revoke(ctx, args[1:], out)
	}
	return fmt.Errorf("unknown command %q (want up or revoke)", args[0])
}

// services is what up starts; tests replace it.
var startServices = func(out io.Writer) (airflow *acctest.Airflow, moto *acctest.Moto, stop func(), err error) {
	s, err := acctest.StartSandbox(out)
	if err != nil {
		return nil, nil, nil, err
	}
	return s.Airflow, s.Moto, s.Stop, nil
}

func up(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	seedPath := fs.String("seed", "", "fakegcp seed file (projects, service accounts, policies, tokens)")
	tfvars := fs.String("tfvars", "", "where to write the quickstart's variables")
	worker := fs.String("worker", "", "where to write the worker's python and environment (optional)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *seedPath == "" || *tfvars == "" {
		return errors.New("up needs -seed and -tfvars")
	}
	seed, err := fakegcp.LoadSeed(*seedPath)
	if err != nil {
		return err
	}
	token, err := terraformToken(seed)
	if err != nil {
		return err
	}
	gcp := fakegcp.New()
	// Airflow's Google hook sends impersonation_chain's delegates as bare emails.
	gcp.AcceptBareDelegates(true)
	if err := gcp.Seed(seed); err != nil {
		return err
	}
	gcpURL, err := gcp.Start()
	if err != nil {
		return err
	}
	defer gcp.Close()
	fmt.Fprintf(out, "sandbox: fakegcp up at %s\n", gcpURL)

	af, moto, stopServices, err := startServices(out)
	if err != nil {
		return err
	}
	defer stopServices()

	vars := map[string]string{
		"airflow_url":         af.URL,
		"airflow_username":    af.Username,
		"airflow_password":    af.Password,
		"google_access_token": token,
		"google_endpoint":     gcpURL,
		"aws_region":          moto.Region,
		"aws_access_key":      moto.AccessKeyID,
		"aws_secret_key":      moto.SecretAccessKey,
		"aws_endpoint":        moto.URL,
	}
	if *worker != "" {
		if err := writeJSON(*worker, workerSpec(af, moto, gcpURL)); err != nil {
			return err
		}
	}
	if err := writeJSON(*tfvars, vars); err != nil {
		return err
	}
	fmt.Fprintf(out, "sandbox: Airflow 3 at %s (user %s), moto at %s; variables in %s\n", af.URL, af.Username, moto.URL, *tfvars)
	<-ctx.Done()
	fmt.Fprintln(out, "sandbox: stopping")
	return nil
}

// workerSpec is the python of the sandbox's Airflow and the environment its
// workers run with: the server's own AIRFLOW_* settings (home, database,
// keys), fakegcp as the metadata server, and moto as AWS's endpoint.
func workerSpec(af *acctest.Airflow, moto *acctest.Moto, gcpURL string) map[string]any {
	python, env := af.WorkerEnv()
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AIRFLOW") {
			vars[k] = v
		}
	}
	host := strings.TrimPrefix(gcpURL, "http://")
	for k, v := range map[string]string{
		"GCE_METADATA_HOST": host, "GCE_METADATA_IP": host, "AIRFLOWIAM_GOOGLEAPIS_URL": gcpURL,
		"AWS_ENDPOINT_URL": moto.URL, "AWS_ENDPOINT_URL_STS": moto.URL, "AWS_DEFAULT_REGION": moto.Region,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	} {
		vars[k] = v
	}
	return map[string]any{"python": python, "env": vars}
}

// terraformToken is the seed's one static token: the provider's identity.
func terraformToken(seed fakegcp.Seed) (string, error) {
	if len(seed.Tokens) != 1 {
		return "", fmt.Errorf("the seed must have exactly one token, the provider's identity; it has %d", len(seed.Tokens))
	}
	for token := range seed.Tokens {
		return token, nil
	}
	return "", nil
}

// writeJSON writes v to path atomically, so a reader never sees half a file.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tfvars-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func revoke(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("revoke", flag.ContinueOnError)
	endpoint := fs.String("google", "", "base URL of the Google APIs (the sandbox's fakegcp)")
	token := fs.String("token", "", "access token to act with")
	account := fs.String("account", "", "service account whose policy to edit")
	member := fs.String("member", "", "IAM member to remove")
	role := fs.String("role", gcpiam.RoleTokenCreator, "role to remove the member from")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *endpoint == "" || *token == "" || *account == "" || *member == "" {
		return errors.New("revoke needs -google, -token, -account and -member")
	}
	c, err := gcpiam.NewClient(ctx, gcpiam.Config{AccessToken: *token, IAMEndpoint: *endpoint, IAMCredentialsEndpoint: *endpoint, ResourceManagerEndpoint: *endpoint})
	if err != nil {
		return err
	}
	removed, err := c.RemoveMember(ctx, *account, *role, *member)
	if err != nil {
		return err
	}
	if !removed {
		return fmt.Errorf("%s did not hold %s on %s", *member, *role, *account)
	}
	fmt.Fprintf(out, "sandbox: removed %s from %s on %s\n", *member, *role, *account)
	return nil
}
