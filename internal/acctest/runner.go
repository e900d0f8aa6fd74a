package acctest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// spec describes one Airflow major version.
type spec struct {
	name       string // "airflow3"
	version    string // pip version, must match scripts/testenv.sh
	apiVersion string // REST API version the provider uses
	healthPath string // answers 200 once the server is up
	envPrefix  string // prefix of the override variables
}

var specs = []spec{
	{name: "airflow3", version: "3.3.2", apiVersion: "v2", healthPath: "/api/v2/monitor/health", envPrefix: "AIRFLOWIAM_TEST_AIRFLOW3_"},
	{name: "airflow2", version: "2.10.5", apiVersion: "v1", healthPath: "/health", envPrefix: "AIRFLOWIAM_TEST_AIRFLOW2_"},
}

const (
	defaultStartTimeout = 120 * time.Second
	stopGrace           = 5 * time.Second // SIGTERM to SIGKILL; Airflow often needs longer to exit, but its state is throw-away
	logTailLines        = 40
	setupLogName        = "setup.log"
	adminUser           = "admin"
	viewerUser          = "viewer"
)

var errStopped = errors.New("acctest: stopping, not starting anything more")

// result is how obtaining one server ended: af (an Airflow) or moto, or err.
type result struct {
	af   *Airflow
	moto *Moto
	err  error
}

// runner starts and stops the servers of one Main call.
type runner struct {
	out          io.Writer // progress lines
	repoRoot     string
	cacheDir     string
	startTimeout time.Duration
	keepHomes    bool

	ctx    context.Context // cancelled by stop: kills commands still running
	cancel context.CancelFunc
	starts sync.WaitGroup

	mu       sync.Mutex
	stopped  bool
	services []*service
	homes    []string
	results  map[string]result

	stopOnce sync.Once
}

func newRunner(out io.Writer) (*runner, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	root, err := findRepoRoot(wd)
	if err != nil {
		return nil, err
	}
	timeout := defaultStartTimeout
	if v := os.Getenv("AIRFLOWIAM_TEST_START_TIMEOUT"); v != "" {
		if timeout, err = time.ParseDuration(v); err != nil {
			return nil, fmt.Errorf("AIRFLOWIAM_TEST_START_TIMEOUT: %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &runner{
		out:          out,
		repoRoot:     root,
		cacheDir:     cacheDir(),
		startTimeout: timeout,
		keepHomes:    os.Getenv("AIRFLOWIAM_TEST_KEEP_HOME") != "",
		ctx:          ctx,
		cancel:       cancel,
		results:      map[string]result{},
	}, nil
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.out, "acctest: "+format+"\n", args...)
}

func (r *runner) get(name string) result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res, ok := r.results[name]
	if !ok {
		return result{err: fmt.Errorf("acctest: unknown server %q", name)}
	}
	return res
}

func (r *runner) result(name string) (*Airflow, error) {
	res := r.get(name)
	return res.af, res.err
}

func (r *runner) motoResult() (*Moto, error) {
	res := r.get(motoName)
	return res.moto, res.err
}

func (r *runner) record(name string, res result) {
	if res.err != nil {
		r.logf("%s: %v", name, res.err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results[name] = res
}

// staleKeywords mark, in a command line, the processes of a server group
// that cleanStalePidfiles may kill.
var staleKeywords = []string{"airflow", "moto_server"}

// startAll starts (or takes from the environment) every server concurrently
// and records the results; it returns when all are up or have failed.
func (r *runner) startAll() {
	cleanStalePidfiles(r.runDir(), staleKeywords, r.logf)
	var wg sync.WaitGroup
	for _, sp := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			af, err := r.obtain(sp)
			r.record(sp.name, result{af: af, err: err})
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		m, err := r.obtainMoto()
		r.record(motoName, result{moto: m, err: err})
	}()
	wg.Wait()
}

func (r *runner) obtain(sp spec) (*Airflow, error) {
	if url := os.Getenv(sp.envPrefix + "URL"); url != "" {
		return fromEnv(sp)
	}
	return tracked(r, func() (*Airflow, error) { return r.start(sp) })
}

// tracked runs start unless stop has begun; stop waits for the starts in progress.
func tracked[T any](r *runner, start func() (T, error)) (T, error) {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		var zero T
		return zero, errStopped
	}
	r.starts.Add(1)
	r.mu.Unlock()
	defer r.starts.Done()
	return start()
}

// fromEnv describes a server named by AIRFLOWIAM_TEST_AIRFLOW{3,2}_*.
func fromEnv(sp spec) (*Airflow, error) {
	get := func(k string) string { return os.Getenv(sp.envPrefix + k) }
	af := &Airflow{
		Name:           sp.name,
		Version:        sp.version,
		APIVersion:     sp.apiVersion,
		URL:            strings.TrimRight(get("URL"), "/"),
		Username:       get("USERNAME"),
		Password:       get("PASSWORD"),
		ViewerUsername: get("VIEWER_USERNAME"),
		ViewerPassword: get("VIEWER_PASSWORD"),
	}
	if v := get("VERSION"); v != "" {
		af.Version = v
	}
	if af.Username == "" || af.Password == "" {
		return nil, fmt.Errorf("%sURL is set, so %sUSERNAME and %sPASSWORD must be set too", sp.envPrefix, sp.envPrefix, sp.envPrefix)
	}
	return af, nil
}

func (r *runner) runDir() string { return filepath.Join(r.cacheDir, "run") }

// start prepares a fresh AIRFLOW_HOME and starts one server in it.
func (r *runner) start(sp spec) (*Airflow, error) {
	began := time.Now()
	venv, err := r.venv(sp.name)
	if err != nil {
		return nil, err
	}
	home, err := r.newHome(sp.name)
	if err != nil {
		return nil, err
	}
	cfg, err := newHomeConfig(sp, venv, home)
	if err != nil {
		return nil, err
	}
	if err := r.prepareHome(cfg); err != nil {
		return nil, err
	}

	url, err := r.serve(sp.name, home, cfg.environ(home), sp.healthPath, func(port int) []string {
		if sp.name == "airflow3" {
			return []string{cfg.airflowBin(), "api-server", "-H", "127.0.0.1", "-p", fmt.Sprint(port), "--workers", "1"}
		}
		return []string{cfg.airflowBin(), "webserver", "-H", "127.0.0.1", "-p", fmt.Sprint(port), "-w", "1"}
	})
	if err != nil {
		return nil, err
	}
	r.logf("%s %s up at %s in %.1fs", sp.name, sp.version, url, time.Since(began).Seconds())
	return &Airflow{
		Name:           sp.name,
		Version:        sp.version,
		APIVersion:     sp.apiVersion,
		URL:            url,
		Username:       adminUser,
		Password:       cfg.passwords[adminUser],
		ViewerUsername: viewerUser,
		ViewerPassword: cfg.passwords[viewerUser],
		worker:         &workerEnv{env: cfg.environ(home), venv: venv},
	}, nil
}

// newHome makes a temporary directory for a server called name (its
// AIRFLOW_HOME, or moto's working directory), which stop removes.
func (r *runner) newHome(name string) (string, error) {
	home, err := os.MkdirTemp("", "airflowiam-"+name+"-")
	if err != nil {
		return "", err
	}
	if err := r.addHome(home); err != nil {
		os.RemoveAll(home)
		return "", err
	}
	return home, nil
}

// serve starts a server in dir on a free 127.0.0.1 port, with the command
// line argv(port) and the environment env, and waits until healthPath
// answers 200. It returns the server's URL. The port is free when picked,
// but another process may take it before the server binds it: then serve
// tries another one.
func (r *runner) serve(name, dir string, env []string, healthPath string, argv func(port int) []string) (string, error) {
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return "", err
		}
		url := fmt.Sprintf("http://127.0.0.1:%d", port)
		logName := "server.log"
		if attempt > 1 {
			logName = fmt.Sprintf("server-%d.log", attempt)
		}
		svc, err := r.launch(name, dir, logName, env, argv(port))
		if err != nil {
			return "", err
		}
		err = r.waitHealthy(svc, url+healthPath)
		if err == nil {
			return url, nil
		}
		if errors.Is(err, errStopped) {
			return "", err
		}
		if err := svc.stop(); err != nil { // do not leave a broken server running until the tests end
			r.logf("%s: stopping after a failed start: %v", name, err)
		}
		if attempt < 3 && strings.Contains(strings.ToLower(tailFile(svc.logPath)), "address already in use") {
			r.logf("%s: port %d was taken, trying another", name, port)
			continue
		}
		return "", err
	}
}

// venv runs scripts/testenv.sh, which installs the venv (airflow3, airflow2
// or moto) on first use.
func (r *runner) venv(name string) (string, error) {
	script := filepath.Join(r.repoRoot, "scripts", "testenv.sh")
	cmd := exec.Command("bash", script, "venv", name)
	var stdout, stderr strings.Builder
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(&stderr, r.out) // installs can take a while: show progress
	cmd.Env = append(os.Environ(), "AIRFLOWIAM_CACHE_DIR="+r.cacheDir)
	if err := r.run(cmd); err != nil {
		return "", fmt.Errorf("%s venv %s: %v\n%s", script, name, err, tail(stderr.String()))
	}
	dir := strings.TrimSpace(stdout.String())
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("%s venv %s printed %q, not a path", script, name, dir)
	}
	return dir, nil
}

func (r *runner) addHome(home string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return errStopped
	}
	r.homes = append(r.homes, home)
	return nil
}

// run runs a short-lived command to completion in its own process group; stop
// (through r.ctx) kills the whole group.
func (r *runner) run(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		return err
	case <-r.ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // best effort: it may have exited already
		<-waited                                            //nolint:errcheck // the process was killed; its exit status says nothing
		return errStopped
	}
}

// runAirflow runs a command (argv) with cfg's environment in dir, logging to dir/setup.log.
func (r *runner) runAirflow(cfg *homeConfig, dir string, stdin io.Reader, args ...string) error {
	logPath := filepath.Join(dir, setupLogName)
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = cfg.environ(dir)
	cmd.Stdin = stdin
	cmd.Stdout = f
	cmd.Stderr = f
	began := time.Now()
	if err := r.run(cmd); err != nil {
		if errors.Is(err, errStopped) {
			return err
		}
		return fmt.Errorf("%s failed after %.0fs: %v; last lines of %s:\n%s",
			strings.Join(args[1:], " "), time.Since(began).Seconds(), err, logPath, tailFile(logPath))
	}
	return nil
}

// service is one started server process group.
type service struct {
	name     string
	home     string
	logPath  string
	cmd      *exec.Cmd
	pgid     int
	exited   chan struct{} // closed when the server process has exited
	waitErr  error
	watchdog *os.File // write end of the watchdog's stdin; kept open while we live
	pidfile  string

	stopMu sync.Mutex
	killed bool // stop needed SIGKILL
}

// launch starts a server (argv with env, in home, logging to home/logName)
// in its own process group, with a watchdog in that group that kills the
// group if this process dies, and a pidfile for the stale-process cleanup of
// later runs.
func (r *runner) launch(name, home, logName string, env, argv []string) (*service, error) {
	logPath := filepath.Join(home, logName)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own copy
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = home
	cmd.Env = env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	svc := &service{name: name, home: home, logPath: logPath, cmd: cmd, exited: make(chan struct{})}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return nil, errStopped
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	svc.pgid = cmd.Process.Pid
	r.services = append(r.services, svc)
	go func() {
		svc.waitErr = cmd.Wait()
		close(svc.exited)
	}()
	if err := startWatchdog(svc); err != nil {
		r.logf("%s: no watchdog: %v", svc.name, err) // the server still runs; stop handles it
	}
	if svc.pidfile, err = writePidfile(r.runDir(), svc.name, svc.pgid, svc.home); err != nil {
		r.logf("%s: %v", svc.name, err)
	}
	return svc, nil
}

// watchdogScript waits for EOF on stdin, i.e. for the test process to die
// without stopping the server, and then stops the process group (itself included).
const watchdogScript = `read _ignored; trap '' TERM; kill -TERM -"$0" 2>/dev/null; sleep 5; kill -KILL -"$0" 2>/dev/null`

func startWatchdog(svc *service) error {
	rd, wr, err := os.Pipe()
	if err != nil {
		return err
	}
	defer rd.Close()
	cmd := exec.Command("/bin/sh", "-c", watchdogScript, fmt.Sprint(svc.pgid))
	cmd.Stdin = rd
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: svc.pgid}
	if err := cmd.Start(); err != nil {
		wr.Close()
		return err
	}
	go func() { _ = cmd.Wait() }() // reap the watchdog whenever it exits
	svc.watchdog = wr
	return nil
}

// waitHealthy polls url until it answers 200, the process exits, or the start timeout passes.
func (r *runner) waitHealthy(svc *service, url string) error {
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(r.startTimeout)
	for {
		req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-svc.exited:
			return fmt.Errorf("%s exited before becoming healthy (%v); last lines of %s:\n%s",
				svc.name, svc.waitErr, svc.logPath, tailFile(svc.logPath))
		case <-r.ctx.Done():
			return errStopped
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy at %s after %v; last lines of %s:\n%s",
				svc.name, url, r.startTimeout, svc.logPath, tailFile(svc.logPath))
		}
	}
}

// stop stops everything this runner started and removes its homes. It is
// idempotent; concurrent callers wait for the first to finish.
func (r *runner) stop() {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.stopped = true
		services := r.services
		r.mu.Unlock()
		r.cancel()

		var wg sync.WaitGroup
		for _, svc := range services {
			wg.Add(1)
			go func() {
				defer wg.Done()
				began := time.Now()
				if err := svc.stop(); err != nil {
					r.logf("%s: %v", svc.name, err)
				}
				how := ""
				if svc.wasKilled() {
					how = fmt.Sprintf(" (SIGKILL after %v)", stopGrace)
				}
				r.logf("%s stopped in %.1fs%s", svc.name, time.Since(began).Seconds(), how)
			}()
		}
		wg.Wait()

		// Starts that were in progress see the cancelled context and return soon.
		startsDone := make(chan struct{})
		go func() { r.starts.Wait(); close(startsDone) }()
		select {
		case <-startsDone:
		case <-time.After(15 * time.Second):
			r.logf("starts still in progress after stop")
		}

		r.mu.Lock()
		homes := r.homes
		r.mu.Unlock()
		for _, home := range homes {
			if r.keepHomes {
				r.logf("kept %s", home)
				continue
			}
			if err := os.RemoveAll(home); err != nil {
				r.logf("removing %s: %v", home, err)
			}
		}
	})
}

// stop sends SIGTERM to the process group, then SIGKILL after stopGrace, and
// waits until no process of the group is left.
func (svc *service) stop() error {
	svc.stopMu.Lock()
	defer svc.stopMu.Unlock()
	_ = syscall.Kill(-svc.pgid, syscall.SIGTERM) // ESRCH: the group is gone already
	gone := waitGroupGone(svc.pgid, stopGrace)
	if !gone {
		svc.killed = true
		_ = syscall.Kill(-svc.pgid, syscall.SIGKILL)
		gone = waitGroupGone(svc.pgid, 5*time.Second)
	}
	select {
	case <-svc.exited:
	case <-time.After(5 * time.Second):
	}
	if svc.watchdog != nil {
		svc.watchdog.Close()
	}
	if !gone {
		return fmt.Errorf("process group %d still has processes after SIGKILL", svc.pgid)
	}
	if svc.pidfile != "" {
		os.Remove(svc.pidfile)
	}
	return nil
}

func waitGroupGone(pgid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if len(groupMembers(pgid)) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (svc *service) wasKilled() bool {
	svc.stopMu.Lock()
	defer svc.stopMu.Unlock()
	return svc.killed
}
