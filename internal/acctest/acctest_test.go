package acctest

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestNewFernetKey(t *testing.T) {
	k1, err := newFernetKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := newFernetKey()
	if k1 == k2 {
		t.Errorf("two keys are equal: %s", k1)
	}
	for _, k := range []string{k1, k2} {
		// Python's cryptography.fernet.Fernet wants base64.urlsafe_b64decode(key) to be 32 bytes.
		b, err := base64.URLEncoding.DecodeString(k)
		if err != nil {
			t.Fatalf("%q is not URL-safe base64 with padding: %v", k, err)
		}
		if len(b) != 32 {
			t.Errorf("%q decodes to %d bytes, want 32", k, len(b))
		}
		if len(k) != 44 || !strings.HasSuffix(k, "=") || strings.ContainsAny(k, "+/") {
			t.Errorf("%q: want 44 URL-safe characters ending in '='", k)
		}
	}
}

func TestRandomHex(t *testing.T) {
	a, _ := randomHex(16)
	b, _ := randomHex(16)
	if len(a) != 32 || a == b {
		t.Errorf("randomHex(16) = %q, %q", a, b)
	}
}

func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 3 {
		p, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		if p <= 0 || p > 65535 {
			t.Fatalf("port %d", p)
		}
		seen[p] = true
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		l.Close()
	}
	if len(seen) < 2 {
		t.Errorf("freePort keeps returning the same port: %v", seen)
	}
}

func TestFindRepoRoot(t *testing.T) {
	root := t.TempDir()
	nested := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := findRepoRoot(nested); err == nil {
		t.Errorf("findRepoRoot(%s) without any go.mod: want an error", nested)
	}
	// A directory named go.mod does not count.
	if err := os.Mkdir(filepath.Join(root, "a", "b", "go.mod"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "a", "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{nested, filepath.Join(root, "a"), filepath.Join(root, "a", "b", "c", ".", "..", "c")} {
		got, err := findRepoRoot(dir)
		if err != nil || got != filepath.Join(root, "a") {
			t.Errorf("findRepoRoot(%s) = %q, %v; want %s", dir, got, err, filepath.Join(root, "a"))
		}
	}

	// This package lives in the real repository, whose root has the script.
	wd, _ := os.Getwd()
	got, err := findRepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(got, "scripts", "testenv.sh")); err != nil {
		t.Errorf("repository root %s has no scripts/testenv.sh: %v", got, err)
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv("AIRFLOWIAM_CACHE_DIR", "/x/y")
	if got := cacheDir(); got != "/x/y" {
		t.Errorf("cacheDir() = %q", got)
	}
	t.Setenv("AIRFLOWIAM_CACHE_DIR", "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got := cacheDir(); got != "/xdg/terraform-provider-airflowiam" {
		t.Errorf("cacheDir() = %q", got)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if got := cacheDir(); got != "/home/u/.cache/terraform-provider-airflowiam" {
		t.Errorf("cacheDir() = %q", got)
	}
}

func TestTail(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	got := tail(b.String())
	lines := strings.Split(got, "\n")
	if len(lines) != 40 || lines[0] != "line 61" || lines[39] != "line 100" {
		t.Errorf("tail: %d lines, first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if tf := tailFile(path); tf != got {
		t.Errorf("tailFile differs from tail:\n%s", tf)
	}
	if got := tail("a\nb\n"); got != "a\nb" {
		t.Errorf("tail of short text = %q", got)
	}
}

// startGroup starts argv as the leader of a new process group and reaps it when it exits.
func startGroup(t *testing.T, argv ...string) int {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }()
	pgid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	return pgid
}

// sleeper starts a process group whose leader's command line is "NAME 300".
func sleeper(t *testing.T, name string) int {
	t.Helper()
	pgid := startGroup(t, "bash", "-c", "exec -a '"+name+"' sleep 300")
	for i := 0; i < 100; i++ {
		if strings.HasPrefix(cmdline(pgid), name+" ") {
			return pgid
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("process %d has command line %q, want %s ...", pgid, cmdline(pgid), name)
	return 0
}

func TestReadProc(t *testing.T) {
	p, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.pgrp != syscall.Getpgrp() || p.startTime == 0 || p.state == 'Z' {
		t.Errorf("readProc(self) = %+v, pgrp want %d", p, syscall.Getpgrp())
	}
	pgid := sleeper(t, "odd) name (x")
	if got := groupMembers(pgid); !slices.Equal(got, []int{pgid}) {
		t.Errorf("groupMembers(%d) = %v", pgid, got)
	}
}

func TestCleanStalePidfiles(t *testing.T) {
	runDir := t.TempDir()
	self, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// A pid that is certainly dead: a finished child of ours.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPid := dead.Process.Pid

	stale := sleeper(t, "airflow-stale-test")                                       // crashed owner, airflow process: killed
	staleMoto := sleeper(t, "moto_server-stale-test")                               // crashed owner, moto process: killed
	harmless := sleeper(t, "not-our-process")                                       // crashed owner, but not airflow or moto: left alone
	live := sleeper(t, "airflow-live-test")                                         // owner alive: left alone
	reused := sleeper(t, "airflow-reused-test")                                     // owner pid alive but reused by another process: killed
	home := filepath.Join(os.TempDir(), "airflowiam-test-"+fmt.Sprint(os.Getpid())) // a crashed run's home: removed
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })

	write := func(name string, pgid, owner int, start uint64, home string) string {
		p := filepath.Join(runDir, fmt.Sprintf("%s-%d.pid", name, pgid))
		c := fmt.Sprintf("pgid=%d\nowner=%d\nowner_start=%d\nhome=%s\n", pgid, owner, start, home)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pStale := write("airflow3", stale, deadPid, 12345, home)
	pStaleMoto := write("moto", staleMoto, deadPid, 12345, "")
	pHarmless := write("airflow2", harmless, deadPid, 12345, "")
	pLive := write("airflow3", live, os.Getpid(), self.startTime, "")
	pReused := write("airflow2", reused, os.Getpid(), self.startTime+1, "")
	pBad := filepath.Join(runDir, "garbage.pid")
	if err := os.WriteFile(pBad, []byte("nonsense"), 0o644); err != nil {
		t.Fatal(err)
	}

	var logged []string
	var mu sync.Mutex
	cleanStalePidfiles(runDir, staleKeywords, func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf(f, a...))
	})

	if m := groupMembers(stale); len(m) != 0 {
		t.Errorf("stale airflow group %d still has %v", stale, m)
	}
	if m := groupMembers(staleMoto); len(m) != 0 {
		t.Errorf("stale moto group %d still has %v", staleMoto, m)
	}
	if m := groupMembers(reused); len(m) != 0 {
		t.Errorf("group %d of a reused owner pid still has %v", reused, m)
	}
	if m := groupMembers(harmless); len(m) != 1 {
		t.Errorf("group %d of neither airflow nor moto was killed", harmless)
	}
	if m := groupMembers(live); len(m) != 1 {
		t.Errorf("group %d of a live run was killed", live)
	}
	for p, want := range map[string]bool{pStale: false, pStaleMoto: false, pHarmless: false, pReused: false, pBad: false, pLive: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("pidfile %s exists: %v, want %v", p, err == nil, want)
		}
	}
	if _, err := os.Stat(home); err == nil {
		t.Errorf("stale home %s was not removed", home)
	}
	if len(logged) == 0 {
		t.Errorf("nothing logged")
	}
	t.Logf("logged: %q", logged)
}

func TestWritePidfile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	path, err := writePidfile(dir, "airflow3", 4242, "/tmp/airflowiam-x")
	if err != nil {
		t.Fatal(err)
	}
	pf, err := readPidfile(path)
	if err != nil {
		t.Fatal(err)
	}
	self, _ := readProc(os.Getpid())
	if pf.pgid != 4242 || pf.owner != os.Getpid() || pf.ownerStart != self.startTime || pf.home != "/tmp/airflowiam-x" {
		t.Errorf("readPidfile = %+v", pf)
	}
}

// The watchdog stops a server's process group when the test process goes
// away without stopping it (simulated by closing the pipe's write end).
func TestWatchdog(t *testing.T) {
	pgid := sleeper(t, "fake-server")
	svc := &service{name: "fake", pgid: pgid}
	if err := startWatchdog(svc); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if m := groupMembers(pgid); len(m) != 2 {
		t.Fatalf("group %d has %v, want the server and its watchdog", pgid, m)
	}
	time.Sleep(300 * time.Millisecond)
	if m := groupMembers(pgid); len(m) != 2 {
		t.Fatalf("watchdog acted while the test process lives: group %d has %v", pgid, m)
	}
	svc.watchdog.Close()
	if !waitGroupGone(pgid, 10*time.Second) {
		t.Fatalf("group %d still has %v after the watchdog's pipe closed", pgid, groupMembers(pgid))
	}
}

func TestServiceStop(t *testing.T) {
	// A server that ignores SIGTERM, with a child: stop must escalate to SIGKILL.
	cmd := exec.Command("bash", "-c", "trap '' TERM; sleep 300 & sleep 300; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	svc := &service{name: "fake", pgid: pgid, exited: make(chan struct{})}
	go func() { svc.waitErr = cmd.Wait(); close(svc.exited) }()
	if err := startWatchdog(svc); err != nil {
		t.Fatal(err)
	}
	pidfile, err := writePidfile(t.TempDir(), "fake", pgid, "")
	if err != nil {
		t.Fatal(err)
	}
	svc.pidfile = pidfile
	time.Sleep(200 * time.Millisecond)
	if m := groupMembers(pgid); len(m) < 3 {
		t.Fatalf("group %d has %v, want bash, its sleeps and the watchdog", pgid, m)
	}
	began := time.Now()
	if err := svc.stop(); err != nil {
		t.Fatal(err)
	}
	if m := groupMembers(pgid); len(m) != 0 {
		t.Errorf("group %d still has %v", pgid, m)
	}
	if !svc.wasKilled() {
		t.Errorf("stop did not record that it needed SIGKILL")
	}
	if d := time.Since(began); d < stopGrace {
		t.Errorf("stop took %v: SIGTERM should have been tried for %v first", d, stopGrace)
	}
	if _, err := os.Stat(pidfile); err == nil {
		t.Errorf("pidfile %s not removed", pidfile)
	}
}

func TestEnviron(t *testing.T) {
	t.Setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
	t.Setenv("AIRFLOW_HOME", "/elsewhere")
	t.Setenv("PYTHONPATH", "/bad")
	for _, sp := range specs {
		c, err := newHomeConfig(sp, "/venv", "/h")
		if err != nil {
			t.Fatal(err)
		}
		env := c.environ("/h")
		get := func(k string) []string {
			var vs []string
			for _, kv := range env {
				if key, v, _ := strings.Cut(kv, "="); key == k {
					vs = append(vs, v)
				}
			}
			return vs
		}
		for k, want := range map[string]string{
			"AIRFLOW_HOME":                        "/h",
			"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////h/airflow.db",
			"AIRFLOW__CORE__LOAD_EXAMPLES":        "False",
			"AIRFLOW__CORE__FERNET_KEY":           c.fernetKey,
		} {
			if got := get(k); !slices.Equal(got, []string{want}) {
				t.Errorf("%s: %s = %q, want %q", sp.name, k, got, want)
			}
		}
		for _, k := range []string{"AIRFLOW__CORE__EXECUTOR", "PYTHONPATH"} {
			if got := get(k); got != nil {
				t.Errorf("%s: inherited %s=%q", sp.name, k, got)
			}
		}
		if p := get("PATH"); len(p) != 1 || !strings.HasPrefix(p[0], "/venv/bin:") {
			t.Errorf("%s: PATH = %q", sp.name, p)
		}
		if len(c.secretKey) < 32 || len(c.passwords[adminUser]) < 32 || c.passwords[adminUser] == c.passwords[viewerUser] {
			t.Errorf("%s: weak or repeated secrets: %+v", sp.name, c)
		}
		if sp.name == "airflow3" && len(get("AIRFLOW__API_AUTH__JWT_SECRET")) != 1 {
			t.Errorf("airflow3: no JWT secret")
		}
		if sp.name == "airflow2" && !slices.Equal(get("AIRFLOW__API__AUTH_BACKENDS"), []string{"airflow.api.auth.backend.basic_auth"}) {
			t.Errorf("airflow2: no basic auth backend")
		}
	}
}

func TestMotoEnviron(t *testing.T) {
	t.Setenv("AWS_PROFILE", "prod")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAREAL")
	t.Setenv("MOTO_ACCOUNT_ID", "111111111111")
	t.Setenv("INITIAL_NO_AUTH_ACTION_COUNT", "0")
	t.Setenv("PYTHONPATH", "/bad")
	env := motoEnviron("/venv")
	get := func(k string) []string {
		var vs []string
		for _, kv := range env {
			if key, v, _ := strings.Cut(kv, "="); key == k {
				vs = append(vs, v)
			}
		}
		return vs
	}
	for k, want := range map[string]string{
		"MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
		"AWS_ACCESS_KEY_ID":              "testing",
		"AWS_SECRET_ACCESS_KEY":          "testing",
		"AWS_DEFAULT_REGION":             "us-east-1",
		"PYTHONUNBUFFERED":               "1",
	} {
		if got := get(k); !slices.Equal(got, []string{want}) {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"AWS_PROFILE", "MOTO_ACCOUNT_ID", "INITIAL_NO_AUTH_ACTION_COUNT", "PYTHONPATH"} {
		if got := get(k); got != nil {
			t.Errorf("inherited %s=%q", k, got)
		}
	}
	if p := get("PATH"); len(p) != 1 || !strings.HasPrefix(p[0], "/venv/bin:") {
		t.Errorf("PATH = %q", p)
	}
}

func TestMotoReset(t *testing.T) {
	status := http.StatusOK
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		got = append(got, req.Method+" "+req.URL.Path)
		w.WriteHeader(status)
		fmt.Fprint(w, `{"status": "ok"}`)
	}))
	defer srv.Close()
	m := newMoto(srv.URL)
	if err := m.Reset(); err != nil {
		t.Errorf("Reset: %v", err)
	}
	if !slices.Equal(got, []string{"POST /moto-api/reset"}) {
		t.Errorf("Reset sent %q", got)
	}
	status = http.StatusBadRequest
	if err := m.Reset(); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("Reset on a 400: %v", err)
	}
	srv.Close()
	if err := m.Reset(); err == nil {
		t.Errorf("Reset of a stopped server: no error")
	}
}

// fakeTB records Skip and Fatal instead of stopping the test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                   {}
func (f *fakeTB) Skip(args ...any)          { f.skipped = fmt.Sprint(args...) }
func (f *fakeTB) Fatal(args ...any)         { f.failed = fmt.Sprint(args...) }
func (f *fakeTB) Fatalf(s string, a ...any) { f.failed = fmt.Sprintf(s, a...) }
func (f *fakeTB) Skipf(s string, a ...any)  { f.skipped = fmt.Sprintf(s, a...) }
func (f *fakeTB) Errorf(s string, a ...any) { f.failed = fmt.Sprintf(s, a...) }

func TestLookup(t *testing.T) {
	t.Cleanup(func() { setCurrent(nil) })

	t.Setenv("TF_ACC", "")
	f := &fakeTB{TB: t}
	if af := Airflow3(f); af != nil || f.skipped != skipMessage || f.failed != "" {
		t.Errorf("without TF_ACC: got %v, skipped %q, failed %q", af, f.skipped, f.failed)
	}

	t.Setenv("TF_ACC", "1")
	f = &fakeTB{TB: t}
	if af := Airflow2(f); af != nil || f.skipped != "" || !strings.Contains(f.failed, "acctest.Main") {
		t.Errorf("TF_ACC without Main: got %v, skipped %q, failed %q", af, f.skipped, f.failed)
	}

	want := &Airflow{Name: "airflow3", URL: "http://127.0.0.1:1"}
	setCurrent(&runner{results: map[string]result{
		"airflow3": {af: want},
		"airflow2": {err: fmt.Errorf("boom")},
	}})
	f = &fakeTB{TB: t}
	if af := Airflow3(f); af == nil || *af != *want || f.failed != "" || f.skipped != "" {
		t.Errorf("Airflow3 = %v, skipped %q, failed %q", af, f.skipped, f.failed)
	}
	f = &fakeTB{TB: t}
	if af := Airflow2(f); af != nil || f.skipped != "" || !strings.Contains(f.failed, "boom") {
		t.Errorf("failed start: got %v, skipped %q, failed %q (want a failure, never a skip)", af, f.skipped, f.failed)
	}
	f = &fakeTB{TB: t}
	if afs := Airflows(f); len(afs) != 2 || !strings.Contains(f.failed, "boom") {
		t.Errorf("Airflows = %v, failed %q", afs, f.failed)
	}

	// Moto: found, or failing the test when its start failed, never skipping.
	wantMoto := newMoto("http://127.0.0.1:2")
	setCurrent(&runner{results: map[string]result{motoName: {moto: wantMoto}}})
	f = &fakeTB{TB: t}
	if m := MotoServer(f); m == nil || *m != *wantMoto || m == wantMoto || f.failed != "" || f.skipped != "" {
		t.Errorf("MotoServer = %v, skipped %q, failed %q; want a copy of %v", m, f.skipped, f.failed, wantMoto)
	}
	if *wantMoto != (Moto{URL: "http://127.0.0.1:2", Region: "us-east-1", AccessKeyID: "testing", SecretAccessKey: "testing", AccountID: "123456789012"}) {
		t.Errorf("newMoto = %+v", wantMoto)
	}
	setCurrent(&runner{results: map[string]result{motoName: {err: fmt.Errorf("no moto")}}})
	f = &fakeTB{TB: t}
	if m := MotoServer(f); m != nil || f.skipped != "" || !strings.Contains(f.failed, "no moto") {
		t.Errorf("failed moto start: got %v, skipped %q, failed %q", m, f.skipped, f.failed)
	}
	setCurrent(nil)
	f = &fakeTB{TB: t}
	if m := MotoServer(f); m != nil || f.skipped != "" || !strings.Contains(f.failed, "acctest.Main") {
		t.Errorf("TF_ACC without Main: got %v, skipped %q, failed %q", m, f.skipped, f.failed)
	}
	t.Setenv("TF_ACC", "")
	f = &fakeTB{TB: t}
	if m := MotoServer(f); m != nil || f.skipped != skipMessage || f.failed != "" {
		t.Errorf("without TF_ACC: got %v, skipped %q, failed %q", m, f.skipped, f.failed)
	}
}

func TestFromEnv(t *testing.T) {
	sp := specs[0]
	t.Setenv(sp.envPrefix+"URL", "http://airflow.test:8080/")
	t.Setenv(sp.envPrefix+"USERNAME", "")
	t.Setenv(sp.envPrefix+"PASSWORD", "")
	if _, err := fromEnv(sp); err == nil {
		t.Errorf("URL without credentials: want an error")
	}
	t.Setenv(sp.envPrefix+"USERNAME", "u")
	t.Setenv(sp.envPrefix+"PASSWORD", "p")
	af, err := fromEnv(sp)
	if err != nil {
		t.Fatal(err)
	}
	if af.URL != "http://airflow.test:8080" || af.Username != "u" || af.Password != "p" || af.APIVersion != "v2" || af.Version != sp.version {
		t.Errorf("fromEnv = %+v", af)
	}
}

func TestMain(m *testing.M) {
	// Not acctest.Main: the acceptance test below starts and stops servers itself.
	os.Exit(m.Run())
}
