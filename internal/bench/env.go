package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
)

const (
	project     = "airflow-bench"
	adminMember = "user:terraform@example.com"
	adminToken  = "bench-terraform-token"
	chains      = 20
	hopsPer     = 2
	roles       = 5
)

func workerEmail() string { return "airflow-worker@" + project + ".iam.gserviceaccount.com" }

func chainAccount(i, hop int) string {
	return fmt.Sprintf("chain%02d-hop%d@%s.iam.gserviceaccount.com", i, hop, project)
}

// env is the sandbox behind counting proxies, and the provider build.
type env struct {
	sandbox   *acctest.Sandbox
	gcp       *fakegcp.Server
	gcpURL    string // fakegcp itself, not its counter
	airflow   *counter
	aws       *counter
	google    *counter
	terraform string
	cliConfig string
	dir       string
	hold      bool // -hold
}

func startEnv(ctx context.Context, dir string, log io.Writer) (*env, error) {
	e := &env{dir: dir}
	e.terraform = os.Getenv("TF_ACC_TERRAFORM_PATH")
	if e.terraform == "" {
		p, err := exec.LookPath("terraform")
		if err != nil {
			return nil, fmt.Errorf("no terraform on PATH")
		}
		e.terraform = p
	}
	bin := filepath.Join(dir, "bin")
	fmt.Fprintln(log, "bench: building the provider")
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, "terraform-provider-airflowiam"), ".")
	build.Stdout, build.Stderr = log, log
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("building the provider: %w", err)
	}
	fmt.Fprintln(log, "bench: building the no-op plugin floor")
	build = exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, "terraform-provider-noop"), "./internal/bench/noop")
	build.Stdout, build.Stderr = log, log
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("building the no-op plugin: %w", err)
	}
	e.cliConfig = filepath.Join(dir, "terraformrc")
	rc := fmt.Sprintf(`provider_installation {
  dev_overrides {
    "registry.terraform.io/airflowiam/airflowiam" = %q
    "registry.opentofu.org/airflowiam/airflowiam" = %q
    "registry.terraform.io/airflowiam/noop"       = %q
    "registry.opentofu.org/airflowiam/noop"       = %q
  }
  direct {}
}
`, bin, bin, bin, bin)
	if err := os.WriteFile(e.cliConfig, []byte(rc), 0o600); err != nil {
		return nil, err
	}

	seed := fakegcp.Seed{Tokens: map[string]string{adminToken: adminMember}, Projects: []fakegcp.SeedProject{{
		ProjectID: project,
		Bindings:  []fakegcp.Binding{{Role: "roles/owner", Members: []string{adminMember}}},
		ServiceAccounts: []fakegcp.SeedServiceAccount{{
			AccountID: "airflow-worker",
			Bindings:  []fakegcp.Binding{{Role: "roles/iam.serviceAccountTokenCreator", Members: []string{adminMember}}},
		}},
	}}}
	for i := range chains {
		for hop := range hopsPer {
			seed.Projects[0].ServiceAccounts = append(seed.Projects[0].ServiceAccounts,
				fakegcp.SeedServiceAccount{AccountID: fmt.Sprintf("chain%02d-hop%d", i, hop)})
		}
	}
	e.gcp = fakegcp.New()
	if err := e.gcp.Seed(seed); err != nil {
		return nil, err
	}
	gcpURL, err := e.gcp.Start()
	if err != nil {
		return nil, err
	}
	e.gcpURL = gcpURL
	e.sandbox, err = acctest.StartSandbox(log)
	if err != nil {
		e.gcp.Close()
		return nil, err
	}
	if e.airflow, err = newCounter(e.sandbox.Airflow.URL, classifyAirflow); err == nil {
		if e.aws, err = newCounter(e.sandbox.Moto.URL, classifyAWS); err == nil {
			e.google, err = newCounter(gcpURL, classifyGoogle)
		}
	}
	if err != nil {
		e.stop()
		return nil, err
	}
	return e, nil
}

func (e *env) stop() {
	for _, c := range []*counter{e.airflow, e.aws, e.google} {
		if c != nil {
			c.srv.Close()
		}
	}
	if e.sandbox != nil {
		e.sandbox.Stop()
	}
	if e.gcp != nil {
		e.gcp.Close()
	}
}

// counter is a reverse proxy that counts requests by class.
type counter struct {
	srv      *httptest.Server
	classify func(r *http.Request, body []byte) string
	mu       sync.Mutex
	counts   map[string]int
}

func newCounter(target string, classify func(*http.Request, []byte) string) (*counter, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	c := &counter{classify: classify, counts: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		class := c.classify(r, body)
		c.mu.Lock()
		c.counts[class]++
		c.counts["total"]++
		c.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	return c, nil
}

func (c *counter) URL() string { return c.srv.URL }

func (c *counter) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.counts
	c.counts = map[string]int{}
	return old
}

func classifyAirflow(r *http.Request, _ []byte) string {
	switch {
	case r.URL.Path == "/auth/token":
		return "auth"
	case strings.HasSuffix(r.URL.Path, "/connections") && r.Method == http.MethodGet:
		return "list"
	case strings.Contains(r.URL.Path, "/connections/") && r.Method == http.MethodGet:
		return "get"
	}
	return strings.ToLower(r.Method)
}

func classifyAWS(r *http.Request, body []byte) string {
	if v, err := url.ParseQuery(string(body)); err == nil && v.Get("Action") != "" {
		return v.Get("Action")
	}
	return "other"
}

func classifyGoogle(r *http.Request, _ []byte) string {
	p := r.URL.Path
	if i := strings.LastIndex(p, ":"); i >= 0 {
		return p[i+1:]
	}
	switch {
	case strings.HasSuffix(p, "/tokeninfo"):
		return "tokeninfo"
	case strings.HasSuffix(p, "/certs"):
		return "certs"
	case strings.Contains(p, "/serviceAccounts/"):
		return "getServiceAccount"
	}
	return "other"
}

// terraformRun runs one terraform command in dir and returns its wall time
// and the provider processes' peak resident memory.
func (e *env) terraformRun(ctx context.Context, dir string, args ...string) (time.Duration, int64, error) {
	wall, rss, _, err := e.terraformRunOutput(ctx, dir, args...)
	return wall, rss, err
}

// terraformRunOutput is terraformRun that also returns the output.
func (e *env) terraformRunOutput(ctx context.Context, dir string, args ...string) (time.Duration, int64, string, error) {
	cmd := exec.CommandContext(ctx, e.terraform, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+e.cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	peak := newPeakRSS()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, "", err
	}
	stopPoll := peak.poll()
	err := cmd.Wait()
	elapsed := time.Since(start)
	stopPoll()
	if err != nil {
		tail := out.String()
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		return elapsed, peak.max(), out.String(), fmt.Errorf("terraform %s: %w\n%s", strings.Join(args, " "), err, tail)
	}
	return elapsed, peak.max(), out.String(), nil
}

// peakRSS follows the provider processes under a terraform process.
type peakRSS struct {
	mu   sync.Mutex
	peak int64 // kB
}

func newPeakRSS() *peakRSS { return &peakRSS{} }

func (p *peakRSS) max() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak
}

// poll samples every 50 ms the high-water mark (VmHWM) of every process
// whose executable is the provider, until the returned function is called.
func (p *peakRSS) poll() func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			p.sample()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

func (p *peakRSS) sample() {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || filepath.Base(exe) != "terraform-provider-airflowiam" {
			continue
		}
		f, err := os.Open(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				p.mu.Lock()
				p.peak = max(p.peak, kb)
				p.mu.Unlock()
			}
		}
		f.Close()
	}
}
