// Package acctest starts the Airflow servers, and the moto server (an AWS
// mock), that the provider's acceptance tests run against.
//
// A package with acceptance tests calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(acctest.Main(m)) }
//
// and its tests ask for a server with Airflow3, Airflow2, Airflows or
// MotoServer. With TF_ACC unset nothing is started and those tests are
// skipped. With TF_ACC set, Main installs the venvs on first use (through
// scripts/testenv.sh), starts Airflow 3, Airflow 2 and moto as plain processes
// on free 127.0.0.1 ports, the Airflows with random credentials and a
// temporary AIRFLOW_HOME each, and stops them again when the tests are done.
//
// Instead of starting a server, an existing one can be named with
// AIRFLOWIAM_TEST_AIRFLOW3_URL (with _USERNAME, _PASSWORD and optionally
// _VIEWER_USERNAME, _VIEWER_PASSWORD, _VERSION); likewise AIRFLOWIAM_TEST_AIRFLOW2_*
// and AIRFLOWIAM_TEST_MOTO_URL. AIRFLOWIAM_TEST_START_TIMEOUT (a Go duration,
// default 120s) bounds the wait for a server to become healthy, and
// AIRFLOWIAM_TEST_KEEP_HOME=1 keeps the temporary AIRFLOW_HOMEs and moto's
// directory (with their logs) after the run.
package acctest

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Airflow is one running Airflow API server used by acceptance tests.
type Airflow struct {
	Name       string // "airflow3" or "airflow2"
	Version    string // "3.3.2" / "2.10.5"
	APIVersion string // "v2" (Airflow 3) or "v1" (Airflow 2)
	URL        string // "http://127.0.0.1:PORT"
	Username   string // admin user (Admin role)
	Password   string
	// A user without connection permissions (Airflow 3 role viewer / Airflow 2 role Viewer).
	ViewerUsername, ViewerPassword string

	// worker is how to run Airflow code on this server's own AIRFLOW_HOME
	// and database; nil for a server named by the environment. A pointer,
	// so that Airflow stays comparable.
	worker *workerEnv
	// Front, when set, is an MWAA double in front of this Airflow
	// (MWAAFront): the provider reaches Airflow through it, while URL and
	// the credentials above still reach Airflow directly, for out-of-band
	// changes and checks.
	Front *MWAA
	// Composer, when set, is a Cloud Composer stand-in in front of this
	// Airflow (ThroughComposer), used as Front is. At most one of the two
	// is set.
	Composer *Composer
}

const skipMessage = "acceptance test: set TF_ACC=1 (make test does)"

var (
	currentMu sync.Mutex
	current   *runner // the runner of the Main call in progress
)

func setCurrent(r *runner) {
	currentMu.Lock()
	defer currentMu.Unlock()
	current = r
}

func getCurrent() *runner {
	currentMu.Lock()
	defer currentMu.Unlock()
	return current
}

// Main is called from a package's TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(acctest.Main(m)) }
//
// When TF_ACC is set, it starts Airflow 3, Airflow 2 and moto concurrently (or
// uses the ones named by AIRFLOWIAM_TEST_AIRFLOW{3,2}_URL and
// AIRFLOWIAM_TEST_MOTO_URL), runs m.Run(), and stops what it started: on
// normal exit, on a panic in Main's own goroutine, and on SIGINT/SIGTERM (then
// it exits 1). If the test process dies some other way
// (a panicking test, a -timeout), a watchdog process stops the servers, and the
// next run removes anything still left over.
// When TF_ACC is unset it just runs m.Run().
func Main(m *testing.M) int {
	if os.Getenv("TF_ACC") == "" {
		return m.Run()
	}
	r, err := newRunner(os.Stderr)
	if err != nil {
		// Let the tests that need a server fail with the reason.
		fmt.Fprintf(os.Stderr, "acctest: %v\n", err)
		r = &runner{results: map[string]result{motoName: {err: err}}}
		for _, sp := range specs {
			r.results[sp.name] = result{err: err}
		}
		setCurrent(r)
		defer setCurrent(nil)
		return m.Run()
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "acctest: got %v, stopping the servers\n", s)
			r.stop()
			os.Exit(1)
		case <-done:
		}
	}()
	defer func() {
		// Runs on a normal return and on a panic; a signal arriving meanwhile
		// waits in the goroutine above for this stop to finish.
		r.stop()
		signal.Stop(sigs)
		close(done)
	}()

	r.startAll()
	setCurrent(r)
	defer setCurrent(nil)
	return m.Run()
}

// Airflow3 returns the running Airflow 3 server. When TF_ACC is unset it skips
// the test; when TF_ACC is set but the server failed to start, it fails the test.
func Airflow3(t testing.TB) *Airflow {
	t.Helper()
	return lookup(t, "airflow3")
}

// Airflow2 returns the running Airflow 2 server, like Airflow3.
func Airflow2(t testing.TB) *Airflow {
	t.Helper()
	return lookup(t, "airflow2")
}

// Airflows returns both servers (Airflow 3 first), for table-driven tests over versions.
func Airflows(t testing.TB) []*Airflow {
	t.Helper()
	return []*Airflow{lookup(t, "airflow3"), lookup(t, "airflow2")}
}

// AirflowPython returns the python of the Airflow 3 venv (which also holds
// the Amazon, Google and cncf-kubernetes providers), for tests that run Airflow's own code,
// with the environment to run it in: the inherited one without AIRFLOW*
// variables, plus AIRFLOW_HOME set to a fresh directory.
func AirflowPython(t testing.TB) (python string, env []string) {
	t.Helper()
	r := running(t)
	if r == nil {
		return "", nil
	}
	venv, err := r.venv("airflow3")
	if err != nil {
		t.Fatalf("acctest: %v", err)
	}
	env = venvEnviron(venv, func(key string) bool { return strings.HasPrefix(key, "AIRFLOW") })
	return filepath.Join(venv, "bin", "python"), append(env, "AIRFLOW_HOME="+t.TempDir())
}

func lookup(t testing.TB, name string) *Airflow {
	t.Helper()
	r := running(t)
	if r == nil {
		return nil
	}
	af, err := r.result(name)
	if err != nil {
		t.Fatalf("acctest: %s did not start: %v", name, err)
		return nil
	}
	c := *af
	return &c
}

// running returns the runner of the Main call in progress. Without TF_ACC it
// skips the test, and without a Main call it fails the test; then it returns nil.
func running(t testing.TB) *runner {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip(skipMessage)
		return nil
	}
	r := getCurrent()
	if r == nil {
		t.Fatalf("acctest: TF_ACC is set but no server is running: the package's TestMain must call acctest.Main (func TestMain(m *testing.M) { os.Exit(acctest.Main(m)) })")
		return nil
	}
	return r
}
