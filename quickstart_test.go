package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/provider"
)

// TestQuickstartSecretsAreEphemeral: every sensitive variable of the
// quickstart is ephemeral too, so that it is never written to state or to a
// saved plan (Terraform 1.10+, OpenTofu 1.11+), and it is used only in the
// provider block, one of the places an ephemeral value is allowed
// (https://developer.hashicorp.com/terraform/language/values/variables,
// https://opentofu.org/docs/language/ephemerality/).
func TestQuickstartSecretsAreEphemeral(t *testing.T) {
	files, err := filepath.Glob("examples/quickstart/*.tf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no quickstart configuration: %v", err)
	}
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
		all.WriteByte('\n')
	}
	config := all.String()
	blocks := regexp.MustCompile(`(?ms)^variable "([a-z0-9_]+)" \{\n(.*?)^\}`).FindAllStringSubmatch(config, -1)
	sensitive := 0
	for _, b := range blocks {
		name, body := b[1], b[2]
		if !regexp.MustCompile(`(?m)^\s*sensitive\s*=\s*true\s*$`).MatchString(body) {
			continue
		}
		sensitive++
		if !regexp.MustCompile(`(?m)^\s*ephemeral\s*=\s*true\s*$`).MatchString(body) {
			t.Errorf("variable %q is sensitive but not ephemeral: a saved plan would hold its value", name)
		}
		// Outside the provider block, the variable may appear nowhere.
		rest := regexp.MustCompile(`(?ms)^provider "airflowiam" \{\n.*?^\}`).ReplaceAllString(config, "")
		if strings.Contains(rest, "var."+name) {
			t.Errorf("variable %q is used outside the provider block", name)
		}
	}
	if sensitive < 3 {
		t.Fatalf("found %d sensitive variables in the quickstart; the check reads nothing", sensitive)
	}
}

// TestAccQuickstartValidates runs terraform validate on the quickstart with
// the provider's schema. Validate sees its variables as unknown, as the
// first walk of every plan does, so a provider check that mistakes an
// unknown value for a set one fails here before it fails make demo.
func TestAccQuickstartValidates(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("needs the Terraform CLI: set TF_ACC=1 (make test does)")
	}
	files, err := filepath.Glob("examples/quickstart/*.tf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no quickstart configuration: %v", err)
	}
	var group []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		group = append(group, string(b))
	}
	reattach := acctest.ServeProvider(t, provider.RegistryAddress, provider.NewServer("test"))
	validate(t, reattach, group)
}
