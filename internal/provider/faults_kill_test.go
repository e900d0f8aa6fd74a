package provider

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/faultproxy"
)

// createKind is which of the configuration's objects a request creates:
// "connection", "grant", "role" or "secret", or "" for any other request.
func createKind(e faultproxy.Entry) string {
	if e.Method != http.MethodPost {
		return ""
	}
	switch {
	case e.Path == "/api/v2/connections" || e.Path == "/api/v1/connections":
		return "connection"
	case strings.HasSuffix(e.Path, ":setIamPolicy"):
		return "grant"
	case e.Operation == "CreateRole":
		return "role"
	case e.Operation == "CreateSecret":
		return "secret"
	}
	return ""
}

// createsToSee are the first writes the kill waits for: a create on each
// Airflow, a grant, the role and the secret.
var createsToSee = []string{"airflow3 connection", "airflow2 connection", "fakegcp grant", "moto role", "moto secret"}

// providerPIDs are the processes running binary whose parent is parent.
func providerPIDs(parent int, binary string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after it.
		rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) < 2 || fields[1] != strconv.Itoa(parent) {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", d.Name(), "exe")); err == nil && exe == binary {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestAccFaults_killedMidApply SIGKILLs the provider processes while the
// apply of the fault suite's configuration is under way, once a create has
// reached each service and before any create's answer came back (each is
// held a minute after the service acted; other requests pass). The next apply, with the
// services healthy, must either adopt what the killed apply wrote or name
// exactly what to import; afterwards nothing may stay on the services that
// Terraform does not know of. A grant written just before the kill is found
// by the next apply in the policy it is about to edit: the test records
// what becomes of it, which the impersonation chain guide describes.
func TestAccFaults_killedMidApply(t *testing.T) {
	e := newFaultEnv(t)
	fx := e.fixture(t, "kill")
	run := newTFRun(t, e.config(fx))
	_, binary := faultProviderBuild(t)
	t.Cleanup(func() { e.sweep(t, run, fx) })

	created := make(chan string, 64) // "SERVICE KIND"
	for name, p := range e.proxies {
		p.OnEntry(func(en faultproxy.Entry) {
			if k := createKind(en); k != "" && en.Forwarded {
				select {
				case created <- name + " " + k:
				default:
				}
			}
		})
	}
	t.Cleanup(func() {
		for _, p := range e.proxies {
			p.OnEntry(nil)
		}
	})
	e.set(faultproxy.Fault{Kind: faultproxy.Slow, Delay: time.Minute,
		Match: func(en faultproxy.Entry) bool { return createKind(en) != "" }})

	var out bytes.Buffer
	cmd := exec.Command(run.tf.ExecPath(), "apply", "-auto-approve", "-input=false", "-no-color")
	cmd.Dir = run.dir
	for k, v := range run.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })

	seen := map[string]bool{}
	deadline := time.After(time.Minute)
wait:
	for len(seen) < len(createsToSee) {
		select {
		case k := <-created:
			seen[k] = true
		case err := <-exited:
			t.Fatalf("terraform apply ended (%v) before the kill; creates seen %v:\n%s", err, seen, out.String())
		case <-deadline:
			if len(seen) == 0 {
				t.Fatalf("no create reached a service within a minute:\n%s", out.String())
			}
			break wait
		}
	}
	// Let the creates in flight in parallel reach their services too.
	time.Sleep(500 * time.Millisecond)
	pids := providerPIDs(cmd.Process.Pid, binary)
	if len(pids) == 0 {
		t.Fatalf("no provider process (%s) under terraform (pid %d)", binary, cmd.Process.Pid)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("killing provider process %d: %v", pid, err)
		}
	}
	t.Logf("killed %d provider processes once these creates had reached their services: %v (wanted %v)", len(pids), seen, createsToSee)
	select {
	case err := <-exited:
		if err == nil {
			t.Errorf("terraform apply succeeded although its provider was killed:\n%s", out.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("terraform did not exit within a minute of its provider being killed:\n%s", out.String())
	}
	e.clear()

	afterKill := stateObjects(run.state())
	have, err := e.remote(t, fx)
	if err != nil {
		t.Fatal(err)
	}
	orphans := have.minus(afterKill)
	t.Logf("after the kill: the state has %v; on the services but not in the state: %v", afterKill, orphans)
	if orphans.empty() {
		t.Fatalf("the kill left nothing behind, so this run proves nothing; output:\n%s", out.String())
	}

	// The next apply, with healthy services.
	_, diags, applyErr := run.apply()
	st := run.state()
	state := stateObjects(st)
	imports := checkAdoptedOrNamed(t, orphans, state, diags)
	if applyErr == nil {
		changes, _, perr := run.plan()
		if perr != nil || len(changes) > 0 {
			t.Errorf("FAILED after the next apply, the plan is not empty: %v %v", changes, perr)
		}
	}
	for _, g := range state.preExisting {
		t.Logf("as the guide says: the grant %s, written just before the kill, is recorded pre_existing", g)
	}

	// Recover as the guide says: import what the errors name, and import
	// again each chain that holds a hop recorded pre_existing.
	for _, c := range chainsWithPreExisting(st) {
		if err := run.tf.StateRm(context.Background(), c.address); err != nil {
			t.Fatalf("terraform state rm %s: %v", c.address, err)
		}
		imports = append(imports, c)
	}
	if len(imports) > 0 {
		var b strings.Builder
		for _, im := range imports {
			fmt.Fprintf(&b, "import {\n  to = %s\n  id = %q\n}\n\n", im.address, im.id)
		}
		if err := os.WriteFile(filepath.Join(run.dir, "imports.tf"), []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, diags, err := run.apply(); err != nil {
			t.Errorf("FAILED the apply with the import blocks the errors and the guide call for:\n%s\n%s", b.String(), failure(diags, err))
		}
		if changes, _, err := run.plan(); err != nil || len(changes) > 0 {
			t.Errorf("FAILED after the imports, the plan is not empty: %v %v", changes, err)
		}
		if pre := stateObjects(run.state()).preExisting; len(pre) > 0 {
			t.Errorf("FAILED after importing the chains again, grants are still recorded pre_existing: %v", pre)
		}
	}

	// Destroy: nothing may stay.
	if _, diags, err := run.destroy(); err != nil {
		t.Errorf("FAILED destroy after the kill and the recovery: %s", failure(diags, err))
	}
	left, err := e.remote(t, fx)
	if err != nil {
		t.Fatal(err)
	}
	if !left.empty() {
		t.Errorf("FAILED left after destroy: %v", left)
	}
}

// importBlock is one object to import.
type importBlock struct{ address, id string }

// chainsWithPreExisting are the chains of st with a hop recorded
// pre_existing, with their import IDs.
func chainsWithPreExisting(st *tfjson.State) []importBlock {
	var out []importBlock
	if st == nil || st.Values == nil || st.Values.RootModule == nil {
		return nil
	}
	for _, r := range st.Values.RootModule.Resources {
		if r.Type != "airflowiam_impersonation_chain" {
			continue
		}
		hops, _ := r.AttributeValues["hops"].([]any)
		for _, h := range hops {
			if hop, _ := h.(map[string]any); hop["pre_existing"] == true {
				id, _ := r.AttributeValues["id"].(string)
				out = append(out, importBlock{address: r.Address, id: id})
				break
			}
		}
	}
	return out
}

// checkAdoptedOrNamed fails for each object the killed apply wrote that
// the next apply neither adopted (it is in the state) nor named, with its
// address, in an error that says to import it. It returns the imports the
// errors call for.
func checkAdoptedOrNamed(t *testing.T, orphans, state objects, diags []string) []importBlock {
	t.Helper()
	// named is the address of the error that names id for import.
	named := func(id string) string {
		for _, d := range diags {
			if strings.Contains(d, strconv.Quote(id)) && strings.Contains(strings.ToLower(d), "import") {
				if addr, _, ok := strings.Cut(d, ": "); ok && strings.HasPrefix(addr, "airflowiam_") {
					return addr
				}
			}
		}
		return ""
	}
	kinds := []struct {
		kind        string
		orphan, got []string
	}{
		{"Airflow 3 connection", orphans.conns3, state.conns3},
		{"Airflow 2 connection", orphans.conns2, state.conns2},
		{"IAM role", orphans.roles, state.roles},
		{"secret", orphans.secrets, state.secrets},
	}
	var imports []importBlock
	for _, k := range kinds {
		for _, id := range k.orphan {
			if slices.Contains(k.got, id) {
				t.Logf("adopted: %s %s", k.kind, id)
				continue
			}
			if addr := named(id); addr != "" {
				t.Logf("named for import: %s %s at %s", k.kind, id, addr)
				imports = append(imports, importBlock{address: addr, id: id})
				continue
			}
			t.Errorf("FAILED the %s %s, written by the killed apply, is neither adopted nor named for import by the next apply; its errors: %v", k.kind, id, diags)
		}
	}
	for _, g := range orphans.grants {
		if !slices.Contains(state.grants, g) && !slices.Contains(state.preExisting, g) {
			t.Errorf("FAILED the grant %s, written by the killed apply, is not among the chains' hops after the next apply; its errors: %v", g, diags)
		}
	}
	return imports
}

func TestFaultsHelpers(t *testing.T) {
	out := `{"type":"version","terraform":"1.11.4"}
{"@level":"error","type":"diagnostic","diagnostic":{"severity":"error","summary":"Connection Already Exists","detail":"Airflow at x already has a connection \"c1\",\nso it was not created. To manage it, import it.","address":"airflowiam_connection.a3[0]"}}
{"@level":"warn","type":"diagnostic","diagnostic":{"severity":"warning","summary":"Provider development overrides are in effect","detail":""}}
{"@level":"error","type":"diagnostic","diagnostic":{"severity":"error","summary":"Plugin did not respond","detail":"The plugin encountered an error."}}`
	got := errorsOf(out)
	want := []string{
		`airflowiam_connection.a3[0]: Connection Already Exists: Airflow at x already has a connection "c1", so it was not created. To manage it, import it.`,
		`Plugin did not respond: The plugin encountered an error.`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("errorsOf = %q, want %q", got, want)
	}
	imports := checkAdoptedOrNamed(t, objects{conns3: []string{"c1"}}, objects{}, got)
	if len(imports) != 1 || imports[0] != (importBlock{address: "airflowiam_connection.a3[0]", id: "c1"}) {
		t.Errorf("imports %v, want c1 at airflowiam_connection.a3[0]", imports)
	}

	have := objects{conns3: []string{"a", "b"}, grants: []string{"m on s"}}
	if d := have.minus(objects{conns3: []string{"a"}}); !slices.Equal(d.conns3, []string{"b"}) || !slices.Equal(d.grants, []string{"m on s"}) || d.empty() {
		t.Errorf("minus = %v, want b and the grant", d)
	}

	for _, tc := range []struct {
		e    faultproxy.Entry
		want string
	}{
		{faultproxy.Entry{Method: "POST", Path: "/api/v2/connections"}, "connection"},
		{faultproxy.Entry{Method: "POST", Path: "/auth/token"}, ""},
		{faultproxy.Entry{Method: "GET", Path: "/api/v1/connections"}, ""},
		{faultproxy.Entry{Method: "POST", Path: "/v1/projects/-/serviceAccounts/a@p.iam.gserviceaccount.com:setIamPolicy"}, "grant"},
		{faultproxy.Entry{Method: "POST", Path: "/", Operation: "CreateRole"}, "role"},
		{faultproxy.Entry{Method: "POST", Path: "/", Operation: "GetRole"}, ""},
		{faultproxy.Entry{Method: "POST", Path: "/", Operation: "CreateSecret"}, "secret"},
	} {
		if got := createKind(tc.e); got != tc.want {
			t.Errorf("createKind(%v) = %q, want %q", tc.e, got, tc.want)
		}
	}
}
