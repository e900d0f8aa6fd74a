package acctest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/terraform-exec/tfexec"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
)

// ServeProvider serves a provider in-process for the test, under address
// (e.g. registry.terraform.io/airflowiam/airflowiam) and its OpenTofu
// twin, and returns the option that makes the Terraform CLI reattach to it
// instead of installing one (pass it to tfexec as tfexec.Reattach(info), or
// to a terraform process as TF_REATTACH_PROVIDERS with ReattachEnv). It
// stops serving when the test ends.
func ServeProvider(t testing.TB, address string, factory func() tfprotov6.ProviderServer) tfexec.ReattachInfo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	configCh := make(chan *plugin.ReattachConfig, 1)
	closeCh := make(chan struct{})
	go func() {
		err := tf6server.Serve(address, factory,
			tf6server.WithDebug(ctx, configCh, closeCh),
			tf6server.WithoutLogStderrOverride(),
			tf6server.WithGoPluginLogger(hclog.NewNullLogger()))
		if err != nil {
			t.Errorf("acctest: serving the provider: %v", err)
		}
	}()
	var cfg *plugin.ReattachConfig
	select {
	case cfg = <-configCh:
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("acctest: the provider did not start serving")
	}
	t.Cleanup(func() {
		cancel()
		<-closeCh
	})
	rc := tfexec.ReattachConfig{
		Protocol: string(cfg.Protocol), ProtocolVersion: cfg.ProtocolVersion, Pid: cfg.Pid, Test: cfg.Test,
		Addr: tfexec.ReattachConfigAddr{Network: cfg.Addr.Network(), String: cfg.Addr.String()},
	}
	return tfexec.ReattachInfo{
		address: rc,
		strings.Replace(address, "registry.terraform.io", "registry.opentofu.org", 1): rc,
	}
}

// ReattachEnv is info as the TF_REATTACH_PROVIDERS environment variable,
// for terraform commands tfexec runs without a reattach option.
func ReattachEnv(info tfexec.ReattachInfo) string {
	b, err := json.Marshal(info)
	if err != nil {
		panic(err) // plain structs of strings and numbers
	}
	return "TF_REATTACH_PROVIDERS=" + string(b)
}

// Terraform returns the CLI the acceptance tests use (TF_ACC_TERRAFORM_PATH,
// else terraform on PATH), working in dir.
func Terraform(t testing.TB, dir string) *tfexec.Terraform {
	t.Helper()
	path := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if path == "" {
		var err error
		if path, err = exec.LookPath("terraform"); err != nil {
			t.Fatal("acctest: no terraform on PATH (make testacc selects one)")
		}
	}
	tf, err := tfexec.NewTerraform(dir, path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CHECKPOINT_DISABLE": "1"}
	if cfg := os.Getenv("TF_CLI_CONFIG_FILE"); cfg != "" {
		if _, err := os.Stat(cfg); err != nil {
			env["TF_CLI_CONFIG_FILE"] = "" // a missing file only adds warnings (and breaks tofu version)
		}
	}
	if err := tf.SetEnv(env); err != nil {
		t.Fatal(err)
	}
	return tf
}
