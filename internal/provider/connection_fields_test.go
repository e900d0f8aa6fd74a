package provider

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// Leak scans: the files Terraform writes (state, backups, saved plans,
// whose zip entries are read one by one since a plan file is compressed),
// the plan as `terraform show -json` renders it, and TRACE logs.

// leakScan looks for secrets in what a test run leaves behind.
type leakScan struct {
	secrets []string
}

// find reports which secret b holds, or "".
func (l leakScan) find(b []byte) string {
	for i, s := range l.secrets {
		if bytes.Contains(b, []byte(s)) {
			return fmt.Sprintf("secret #%d", i+1)
		}
	}
	return ""
}

// file scans one file; a zip archive (a saved plan) entry by entry. It
// returns what it found and how many bytes it read.
func (l leakScan) file(p string) (string, int, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", 0, err
	}
	if !bytes.HasPrefix(b, []byte("PK\x03\x04")) {
		return l.find(b), len(b), nil
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return "", 0, fmt.Errorf("reading %s as a saved plan: %w", p, err)
	}
	n := 0
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return "", n, err
		}
		entry, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			return "", n, err
		}
		n += len(entry)
		if what := l.find(entry); what != "" {
			return what + " (in plan entry " + f.Name + ")", n, nil
		}
	}
	return "", n, nil
}

// dir scans every file under dir whose base name matches, except the
// configuration, and fails when none matched.
func (l leakScan) dir(dir string, name *regexp.Regexp) error {
	scanned := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".tf") || !name.MatchString(d.Name()) {
			return err
		}
		what, n, err := l.file(p)
		if err != nil {
			return err
		}
		if what != "" {
			return fmt.Errorf("%s found in %s", what, p)
		}
		if n > 0 {
			scanned++
		}
		return nil
	})
	if err == nil && scanned == 0 {
		return fmt.Errorf("no non-empty file matching %s under %s: the scan read nothing", name, dir)
	}
	return err
}

// check is the scan of dir's state files as a step check.
func (l leakScan) check(dir string) resource.TestCheckFunc {
	return func(*terraform.State) error { return l.dir(dir, regexp.MustCompile(`\.tfstate(\.backup)?$`)) }
}

// plan is a plan check: the plan as `terraform show -json` renders it, and
// the saved plan file itself, hold no secret.
func (l leakScan) plan(dir string) plancheck.PlanCheck { return leakPlanCheck{l, dir} }

type leakPlanCheck struct {
	scan leakScan
	dir  string
}

func (c leakPlanCheck) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	shown, err := json.Marshal(req.Plan)
	if err != nil {
		resp.Error = err
		return
	}
	if len(req.Plan.ResourceChanges) == 0 {
		resp.Error = fmt.Errorf("the plan has no resource changes: the scan would prove nothing")
		return
	}
	if what := c.scan.find(shown); what != "" {
		resp.Error = fmt.Errorf("%s found in the plan as terraform show -json renders it", what)
		return
	}
	resp.Error = c.scan.dir(c.dir, regexp.MustCompile(`^tfplan$`))
}

// traceLog sets up TF_LOG=TRACE for Terraform and the in-process provider,
// both writing to one file per test under dir (TF_LOG_PATH_MASK), and
// returns a function that scans those files and checks that they hold
// TRACE lines of both. The test must not be parallel.
func traceLog(t *testing.T, dir string, scan leakScan) func() {
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_ACC_LOG", "TRACE")
	t.Setenv("TF_LOG_PATH_MASK", filepath.Join(dir, "%s.log"))
	return func() {
		t.Helper()
		if err := scan.dir(dir, regexp.MustCompile(`\.log$`)); err != nil {
			t.Fatal(err)
		}
		var all []byte
		logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		for _, p := range logs {
			b, _ := os.ReadFile(p)
			all = append(all, b...)
		}
		// Both loggers really wrote at TRACE: Terraform's own lines and the
		// framework's calls into the provider's write paths.
		for _, want := range []string{"[TRACE]", "Calling provider defined Resource Create", "Calling provider defined Resource Read"} {
			if !bytes.Contains(all, []byte(want)) {
				t.Fatalf("the TRACE logs under %s have no %q line: the scan proves nothing", dir, want)
			}
		}
	}
}

func TestLeakScanFindsSecretsInPlanFiles(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("tfplan")
	_, _ = w.Write([]byte(`{"extra":"s3cr3t-value"}`))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tfplan"), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("s3cr3t-value")) {
		t.Fatal("the test archive should be compressed")
	}
	err := leakScan{secrets: []string{"s3cr3t-value"}}.dir(dir, regexp.MustCompile(`^tfplan$`))
	if err == nil || !strings.Contains(err.Error(), "plan entry tfplan") {
		t.Fatalf("want the secret found in the plan entry, got %v", err)
	}
	if err := (leakScan{secrets: []string{"other"}}).dir(dir, regexp.MustCompile(`^tfplan$`)); err != nil {
		t.Fatalf("no secret: %v", err)
	}
	if err := (leakScan{secrets: []string{"x"}}).dir(dir, regexp.MustCompile(`^nothing$`)); err == nil {
		t.Fatal("a scan that reads nothing must fail")
	}
}

// configWithExtra is a configuration of extra and extra_wo for validators.
func configWithExtra(t *testing.T, extra, extraWO *string) tfsdk.Config {
	t.Helper()
	ty := tftypes.Object{AttributeTypes: map[string]tftypes.Type{"extra": tftypes.String, "extra_wo": tftypes.String}}
	val := func(s *string) tftypes.Value {
		if s == nil {
			return tftypes.NewValue(tftypes.String, nil)
		}
		return tftypes.NewValue(tftypes.String, *s)
	}
	return tfsdk.Config{
		Schema: schema.Schema{Attributes: map[string]schema.Attribute{
			"extra":    schema.StringAttribute{CustomType: extraType{}, Optional: true},
			"extra_wo": schema.StringAttribute{Optional: true, WriteOnly: true},
		}},
		Raw: tftypes.NewValue(ty, map[string]tftypes.Value{"extra": val(extra), "extra_wo": val(extraWO)}),
	}
}

func TestExtraWOValidator(t *testing.T) {
	cases := []struct {
		name         string
		extra, extWO *string
		want         string // "" for no error
	}{
		{"disjoint", strPtr(`{"region_name":"eu-west-1"}`), strPtr(`{"api_key":"k"}`), ""},
		{"no extra", nil, strPtr(`{"api_key":"k"}`), ""},
		{"shared key", strPtr(`{"api_key":"plain","a":1}`), strPtr(`{"api_key":"k"}`), `The key "api_key" is in both extra and extra_wo`},
		{"not an object", nil, strPtr(`["k"]`), "extra_wo must be a JSON object"},
		{"not JSON", nil, strPtr(`{"api_key": k}`), "line 1, column 13"},
		{"duplicate key", nil, strPtr(`{"api_key":"a","api_key":"b"}`), `the key "api_key" appears more than once`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := validator.StringRequest{
				Path:        path.Root("extra_wo"),
				ConfigValue: types.StringPointerValue(tc.extWO),
				Config:      configWithExtra(t, tc.extra, tc.extWO),
			}
			var resp validator.StringResponse
			extraWOValidator{}.ValidateString(context.Background(), req, &resp)
			got := ""
			for _, d := range resp.Diagnostics.Errors() {
				got += d.Summary() + ": " + d.Detail()
			}
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Fatalf("want %q, got %q", tc.want, got)
			}
			if strings.Contains(got, `"k"`) || strings.Contains(got, `"b"`) {
				t.Fatalf("the error echoes a secret value: %s", got)
			}
		})
	}
}

// flowRE matches parts in order, each as written except that Terraform
// may wrap a line wherever a part has a space.
func flowRE(parts ...string) *regexp.Regexp {
	quoted := make([]string, len(parts))
	for i, p := range parts {
		quoted[i] = strings.ReplaceAll(regexp.QuoteMeta(p), " ", `\s+`)
	}
	return regexp.MustCompile("(?s)" + strings.Join(quoted, ".*"))
}
