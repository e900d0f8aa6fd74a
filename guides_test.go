package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/provider"
)

// snippet is one ```terraform block of a guide.
type snippet struct {
	code string
	skip string // why it is not validated, from a preceding <!-- validate: skip (...) --> comment
}

var (
	snippetPattern = regexp.MustCompile("(?s)(<!-- validate: skip \\(([^)]*)\\) -->\\s*)?```terraform\n(.*?)```")
	varPattern     = regexp.MustCompile(`\bvar\.([a-z_][a-z0-9_]*)`)
)

func guideSnippets(t *testing.T, path string) []snippet {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []snippet
	for _, m := range snippetPattern.FindAllStringSubmatch(string(b), -1) {
		out = append(out, snippet{code: m[3], skip: m[2]})
	}
	return out
}

// TestAccGuides checks every Terraform snippet of every guide: formatted as
// terraform fmt would, and valid for terraform validate with the provider's
// schema. The snippets of one guide are validated together, as the guide
// builds them up; a snippet with a provider block of its own alone.
func TestAccGuides(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("needs the Terraform CLI: set TF_ACC=1 (make test does)")
	}
	guides, err := filepath.Glob("templates/guides/*.md.tmpl")
	if err != nil || len(guides) == 0 {
		t.Fatalf("no guides: %v", err)
	}
	reattach := acctest.ServeProvider(t, provider.RegistryAddress, provider.NewServer("test"))
	for _, guide := range guides {
		t.Run(filepath.Base(guide), func(t *testing.T) {
			snippets := guideSnippets(t, guide)
			if len(snippets) == 0 {
				t.Fatal("the guide has no terraform snippet")
			}
			var shared []string
			var alone [][]string
			for i, s := range snippets {
				checkFormatted(t, fmt.Sprintf("snippet %d", i+1), s.code)
				switch {
				case s.skip != "":
					t.Logf("snippet %d not validated: %s", i+1, s.skip)
				case strings.Contains(s.code, `provider "airflowiam"`):
					alone = append(alone, []string{s.code})
				default:
					shared = append(shared, s.code)
				}
			}
			for _, group := range append(alone, shared) {
				if len(group) > 0 {
					validate(t, reattach, group)
				}
			}
		})
	}
}

// checkFormatted fails when terraform fmt would change the snippet.
func checkFormatted(t *testing.T, name, code string) {
	t.Helper()
	dir := t.TempDir()
	tf := acctest.Terraform(t, dir)
	out, err := tf.FormatString(context.Background(), code)
	if err != nil {
		t.Errorf("%s: terraform fmt: %v", name, err)
		return
	}
	if out != code {
		t.Errorf("%s is not formatted as terraform fmt would:\n%s", name, out)
	}
}

// validate runs terraform validate on the snippets together, with the
// provider requirement and any variable they use but do not declare.
func validate(t *testing.T, reattach tfexec.ReattachInfo, group []string) {
	t.Helper()
	code := strings.Join(group, "\n")
	var b strings.Builder
	if !strings.Contains(code, "required_providers") {
		b.WriteString("terraform {\n  required_providers {\n    airflowiam = {\n      source = \"airflowiam/airflowiam\"\n    }\n  }\n}\n\n")
	}
	var declared []string
	for _, m := range varPattern.FindAllStringSubmatch(code, -1) {
		if !slices.Contains(declared, m[1]) && !strings.Contains(code, fmt.Sprintf("variable %q", m[1])) {
			declared = append(declared, m[1])
			fmt.Fprintf(&b, "variable %q {\n  type      = string\n  sensitive = true\n}\n\n", m[1])
		}
	}
	b.WriteString(code)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	tf := acctest.Terraform(t, dir)
	if err := tf.Init(context.Background(), tfexec.Reattach(reattach)); err != nil {
		t.Fatalf("terraform init: %v\n%s", err, b.String())
	}
	// tfexec's Validate takes no reattach option: run it directly.
	cmd := exec.Command(tf.ExecPath(), "validate", "-json", "-no-color")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), acctest.ReattachEnv(reattach), "CHECKPOINT_DISABLE=1")
	raw, err := cmd.Output()
	var out tfjson.ValidateOutput
	if jerr := json.Unmarshal(raw, &out); jerr != nil {
		t.Fatalf("terraform validate: %v (%v): %s", err, jerr, raw)
	}
	if !out.Valid {
		var msgs []string
		for _, d := range out.Diagnostics {
			msgs = append(msgs, d.Summary+": "+d.Detail)
		}
		t.Errorf("invalid configuration:\n%s\n\n%s", strings.Join(msgs, "\n"), b.String())
	}
}
