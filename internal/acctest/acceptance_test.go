package acctest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAccStartStop starts both Airflows and moto the way Main does, checks
// that they answer (the Airflows with this run's credentials), stops them,
// and checks that no process of theirs is left.
func TestAccStartStop(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip(skipMessage)
	}
	for _, sp := range specs {
		t.Setenv(sp.envPrefix+"URL", "") // really start them
	}
	t.Setenv(motoURLEnv, "")
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
	t.Logf("all started in %.1fs", time.Since(began).Seconds())
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
	moto, err := r.motoResult()
	if err != nil {
		t.Fatalf("moto: %v", err)
	}

	expect(t, "GET", af3.URL+"/api/v2/monitor/health", nil, "", 200)
	expect(t, "GET", af2.URL+"/api/v1/health", nil, "", 200)
	expect(t, "GET", moto.URL+motoHealthPath, nil, "", 200)
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
	if len(services) != 3 || len(homes) != 3 {
		t.Fatalf("%d services, %d homes; want 3 each", len(services), len(homes))
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
	for _, u := range []string{af3.URL, af2.URL, moto.URL} {
		ports = append(ports, u[strings.LastIndexByte(u, ':')+1:])
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
// names one of ports (as "-p PORT" does moto's). (Both, as setproctitle
// overwrites the environment and command line of some Airflow processes.)
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
	return expectResponse(t, req, want)
}

// expectResponse sends req and fails the test unless the status is want; it returns the body.
func expectResponse(t *testing.T, req *http.Request, want int) []byte {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", req.Method, req.URL, err)
		return nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Errorf("%s %s: status %d, want %d; body: %.500s", req.Method, req.URL, resp.StatusCode, want, body)
	}
	return body
}

// TestAccMoto starts moto the way Main does and checks, through MotoServer,
// that IAM and STS answer, that AWS-managed policies exist, and that Reset
// wipes what a test created.
func TestAccMoto(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip(skipMessage)
	}
	t.Setenv(motoURLEnv, "") // really start one: the test resets it
	r, err := newRunner(os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer r.stop()
	began := time.Now()
	started, err := r.obtainMoto()
	r.record(motoName, result{moto: started, err: err})
	t.Logf("moto started in %.1fs", time.Since(began).Seconds())
	setCurrent(r)
	defer setCurrent(nil)

	m := MotoServer(t)
	if m.Region != "us-east-1" || m.AccessKeyID != "testing" || m.SecretAccessKey != "testing" || m.AccountID != "123456789012" {
		t.Errorf("MotoServer = %+v", m)
	}
	expect(t, "GET", m.URL+motoHealthPath, nil, "", 200)

	var ident struct {
		Account string `xml:"GetCallerIdentityResult>Account"`
	}
	body := awsQuery(t, m, "sts", url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}, 200)
	if err := xml.Unmarshal(body, &ident); err != nil || ident.Account != m.AccountID {
		t.Errorf("GetCallerIdentity: account %q (%v), want %s; body: %.500s", ident.Account, err, m.AccountID, body)
	}

	listRoles := func() []string {
		t.Helper()
		var roles struct {
			Names []string `xml:"ListRolesResult>Roles>member>RoleName"`
		}
		body := awsQuery(t, m, "iam", url.Values{"Action": {"ListRoles"}, "Version": {"2010-05-08"}}, 200)
		if err := xml.Unmarshal(body, &roles); err != nil {
			t.Errorf("ListRoles: %v in %.500s", err, body)
		}
		return roles.Names
	}
	if names := listRoles(); len(names) != 0 {
		t.Errorf("a fresh moto has roles: %v", names)
	}
	suffix, _ := randomHex(4)
	role := "acctest-" + suffix
	awsQuery(t, m, "iam", url.Values{
		"Action":                   {"CreateRole"},
		"Version":                  {"2010-05-08"},
		"RoleName":                 {role},
		"AssumeRolePolicyDocument": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`},
	}, 200)
	// MOTO_IAM_LOAD_MANAGED_POLICIES: AWS-managed policies can be attached.
	readOnly := "arn:aws:iam::aws:policy/ReadOnlyAccess"
	awsQuery(t, m, "iam", url.Values{"Action": {"AttachRolePolicy"}, "Version": {"2010-05-08"}, "RoleName": {role}, "PolicyArn": {readOnly}}, 200)
	if names := listRoles(); !slices.Equal(names, []string{role}) {
		t.Errorf("roles after CreateRole: %v, want [%s]", names, role)
	}

	if err := m.Reset(); err != nil {
		t.Fatal(err)
	}
	if names := listRoles(); len(names) != 0 {
		t.Errorf("roles after Reset: %v, want none", names)
	}
	awsQuery(t, m, "iam", url.Values{"Action": {"GetRole"}, "Version": {"2010-05-08"}, "RoleName": {role}}, 404) // NoSuchEntity
	awsQuery(t, m, "iam", url.Values{"Action": {"GetPolicy"}, "Version": {"2010-05-08"}, "PolicyArn": {readOnly}}, 200)
}

// awsQuery sends an AWS query-protocol request (the form POST of IAM and STS)
// to moto and fails the test unless the status is want; it returns the body.
// The Authorization header only looks like SigV4: moto takes the access key
// and region from it but does not check the signature.
func awsQuery(t *testing.T, m *Moto, service string, params url.Values, want int) []byte {
	t.Helper()
	req, err := http.NewRequest("POST", m.URL+"/", strings.NewReader(params.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=%s/20240101/%s/%s/aws4_request, SignedHeaders=host, Signature=x",
		m.AccessKeyID, m.Region, service))
	return expectResponse(t, req, want)
}
