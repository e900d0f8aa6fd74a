package acctest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAccStartStop starts both Airflows the way Main does, checks that they
// answer with this run's credentials, stops them, and checks that no process
// of theirs is left.
func TestAccStartStop(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip(skipMessage)
	}
	for _, sp := range specs {
		t.Setenv(sp.envPrefix+"URL", "") // really start them
	}
	r, err := newRunner(os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			r.stop()
		}
	}()

	began := time.Now()
	r.startAll()
	t.Logf("both started in %.1fs", time.Since(began).Seconds())
	af3, err := r.result("airflow3")
	if err != nil {
		t.Fatalf("airflow3: %v", err)
	}
	af2, err := r.result("airflow2")
	if err != nil {
		t.Fatalf("airflow2: %v", err)
	}
	if af3.APIVersion != "v2" || af2.APIVersion != "v1" || af3.Version != "3.3.2" || af2.Version != "2.10.5" {
		t.Errorf("unexpected versions: %+v %+v", af3, af2)
	}
	if af3.Password == af2.Password || af3.Password == af3.ViewerPassword {
		t.Errorf("passwords are not random per user and server")
	}

	expect(t, "GET", af3.URL+"/api/v2/monitor/health", nil, "", 200)
	expect(t, "GET", af2.URL+"/api/v1/health", nil, "", 200)
	expect(t, "GET", af3.URL+"/api/v2/connections", nil, "", 401) // the API does need authentication
	expect(t, "GET", af2.URL+"/api/v1/connections", nil, "", 401)

	// Airflow 3: JWT tokens from the simple auth manager.
	token := func(user, pw string, want int) string {
		body := expect(t, "POST", af3.URL+"/auth/token", map[string]string{"username": user, "password": pw}, "", want)
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(body, &tok); err != nil && want == 201 {
			t.Errorf("POST /auth/token as %s: %v in %s", user, err, body)
		}
		if want == 201 && tok.AccessToken == "" {
			t.Errorf("POST /auth/token as %s: no access_token in %s", user, body)
		}
		return tok.AccessToken
	}
	admin := token(af3.Username, af3.Password, 201)
	viewer := token(af3.ViewerUsername, af3.ViewerPassword, 201)
	token(af3.Username, af3.Password+"x", 401)
	body := expect(t, "GET", af3.URL+"/api/v2/version", nil, "Bearer "+admin, 200)
	if !strings.Contains(string(body), `"3.3.2"`) {
		t.Errorf("airflow3 /api/v2/version: %s", body)
	}
	expect(t, "GET", af3.URL+"/api/v2/connections", nil, "Bearer "+admin, 200)
	expect(t, "GET", af3.URL+"/api/v2/connections", nil, "Bearer "+viewer, 403)

	// Airflow 2: basic auth against FAB users.
	basic := func(user, pw string) string {
		req, _ := http.NewRequest("GET", "http://x", nil)
		req.SetBasicAuth(user, pw)
		return req.Header.Get("Authorization")
	}
	body = expect(t, "GET", af2.URL+"/api/v1/version", nil, basic(af2.Username, af2.Password), 200)
	if !strings.Contains(string(body), `"2.10.5"`) {
		t.Errorf("airflow2 /api/v1/version: %s", body)
	}
	expect(t, "GET", af2.URL+"/api/v1/connections", nil, basic(af2.Username, af2.Password), 200)
	expect(t, "GET", af2.URL+"/api/v1/connections", nil, basic(af2.ViewerUsername, af2.ViewerPassword), 403)
	expect(t, "GET", af2.URL+"/api/v1/connections", nil, basic(af2.Username, af2.Password+"x"), 401)

	// What is running now, to check it is gone after stop.
	r.mu.Lock()
	services := append([]*service(nil), r.services...)
	homes := append([]string(nil), r.homes...)
	r.mu.Unlock()
	if len(services) != 2 || len(homes) != 2 {
		t.Fatalf("%d services, %d homes; want 2 each", len(services), len(homes))
	}
	for _, svc := range services {
		if m := groupMembers(svc.pgid); len(m) < 2 { // server and watchdog at least
			t.Errorf("%s: process group %d has %v", svc.name, svc.pgid, m)
		}
		if _, err := os.Stat(svc.pidfile); err != nil {
			t.Errorf("%s: no pidfile: %v", svc.name, err)
		}
	}
	var ports []string
	for _, af := range []*Airflow{af3, af2} {
		ports = append(ports, af.URL[strings.LastIndexByte(af.URL, ':')+1:])
	}
	procs := processesOf(homes, ports)
	for _, port := range ports {
		if !strings.Contains(strings.Join(procs, "\n"), port) {
			t.Errorf("no process found serving port %s among %v", port, procs)
		}
	}

	began = time.Now()
	r.stop()
	stopped = true
	t.Logf("stopped in %.1fs", time.Since(began).Seconds())
	for _, svc := range services {
		if m := groupMembers(svc.pgid); len(m) != 0 {
			t.Errorf("%s: process group %d still has %v", svc.name, svc.pgid, m)
		}
		if _, err := os.Stat(svc.pidfile); err == nil {
			t.Errorf("%s: pidfile %s left", svc.name, svc.pidfile)
		}
	}
	if procs := processesOf(homes, ports); len(procs) != 0 {
		t.Errorf("left running after stop: %v", procs)
	}
	for _, h := range homes {
		if _, err := os.Stat(h); err == nil {
			t.Errorf("home %s not removed", h)
		}
	}
}

// processesOf lists the live processes, wherever their process group, whose
// environment has AIRFLOW_HOME set to one of homes or whose command line
// names one of ports. (Both, as setproctitle overwrites the environment and
// command line of some Airflow processes.)
func processesOf(homes []string, ports []string) []string {
	var found []string
	for _, pid := range allPids() {
		p, err := readProc(pid)
		if err != nil || p.state == 'Z' || pid == os.Getpid() {
			continue
		}
		match := false
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		for _, kv := range bytes.Split(env, []byte{0}) {
			for _, h := range homes {
				match = match || string(kv) == "AIRFLOW_HOME="+filepath.Clean(h)
			}
		}
		c := cmdline(pid)
		for _, port := range ports {
			match = match || strings.Contains(c, "-p "+port) || strings.Contains(c, "port:"+port)
		}
		if match {
			found = append(found, fmt.Sprintf("%d (%s)", pid, c))
		}
	}
	return found
}

// expect sends a request and fails the test unless the status is want; it returns the body.
func expect(t *testing.T, method, url string, jsonBody any, auth string, want int) []byte {
	t.Helper()
	var rd io.Reader
	if jsonBody != nil {
		b, _ := json.Marshal(jsonBody)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if jsonBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Errorf("%s %s: status %d, want %d; body: %.500s", method, url, resp.StatusCode, want, body)
	}
	return body
}
