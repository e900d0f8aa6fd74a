package main

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		fn         func(r *httptestRequest) string
		method, p  string
		body, want string
	}{
		{airflowClass, "POST", "/auth/token", "", "auth"},
		{airflowClass, "GET", "/api/v2/connections", "", "list"},
		{airflowClass, "GET", "/api/v2/connections/bench_0001", "", "get"},
		{airflowClass, "PATCH", "/api/v2/connections/bench_0001", "", "patch"},
		{awsClass, "POST", "/", "Action=GetCallerIdentity&Version=2011-06-15", "GetCallerIdentity"},
		{googleClass, "POST", "/v1/projects/-/serviceAccounts/a@p.iam.gserviceaccount.com:getIamPolicy", "", "getIamPolicy"},
		{googleClass, "GET", "/oauth2/v3/certs", "", "certs"},
		{googleClass, "POST", "/oauth2/v3/tokeninfo", "", "tokeninfo"},
	} {
		r := &httptestRequest{method: tc.method, path: tc.p, body: tc.body}
		if got := tc.fn(r); got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.method, tc.p, got, tc.want)
		}
	}
}

type httptestRequest struct{ method, path, body string }

func airflowClass(r *httptestRequest) string {
	return classifyAirflow(httptest.NewRequest(r.method, r.path, nil), nil)
}

func awsClass(r *httptestRequest) string {
	return classifyAWS(httptest.NewRequest(r.method, r.path, nil), []byte(r.body))
}

func googleClass(r *httptestRequest) string {
	return classifyGoogle(httptest.NewRequest(r.method, r.path, nil), nil)
}

// The budgets fail when a limit is passed.
func TestBudgets(t *testing.T) {
	ok := map[string]map[string]int{
		"airflow": {"auth": 1, "list": 11, "get": 2, "total": 14},
		"google":  {"tokeninfo": 1, "generateIdToken": 1, "certs": 1, "generateAccessToken": 1},
		"aws":     {"AssumeRoleWithWebIdentity": 1, "GetCallerIdentity": 2},
	}
	writes := map[string]map[string]int{"airflow": {"total": 200}, "google": {"getIamPolicy": 40, "setIamPolicy": 40}}
	rows := func(refresh measurement) []measurement {
		return []measurement{
			{Name: "apply", Requests: writes, WallMS: 1400, PeakRSSKB: 60000},
			refresh, refresh,
			{Name: "destroy", Requests: writes, WallMS: 1400},
			{Name: "direct", WallMS: 1000},
		}
	}
	floors := []floorSet{{Kind: floorNoop, Apply: &measurement{WallMS: 1000}, Refresh: &measurement{WallMS: 1000}, Destroy: &measurement{WallMS: 1000}}}
	refresh := measurement{Name: "refresh", Requests: ok, WallMS: 1250, PeakRSSKB: 60000}
	for _, b := range budgets(1000, rows(refresh), floors) {
		if !b.OK {
			t.Errorf("budget %s missed: %s (limit %s)", b.Name, b.Actual, b.Limit)
		}
	}
	slow := refresh
	slow.WallMS, slow.PeakRSSKB = 1600, 95*1024
	slow.Requests = map[string]map[string]int{"airflow": {"auth": 2, "list": 11, "total": 16}, "google": ok["google"], "aws": ok["aws"]}
	heavy := rows(slow)
	heavy[rowApply].Requests = map[string]map[string]int{"airflow": {"total": 211}}
	var missed []string
	for _, b := range budgets(1000, heavy, floors) {
		if !b.OK {
			missed = append(missed, b.Name)
		}
	}
	want := []string{"/auth/token", "requests to Airflow", "vs the direct reads", "refresh vs the no-op plugin", "apply: requests to Airflow", "peak memory in a refresh"}
	for _, w := range want {
		found := false
		for _, m := range missed {
			found = found || strings.Contains(m, w)
		}
		if !found {
			t.Errorf("no missed budget about %q in %v", w, missed)
		}
	}
}

// The shared-hops budgets fail when a check mints its own token or a hop
// is read twice.
func TestChecksBudgets(t *testing.T) {
	whole := &measurement{Name: "whole", Requests: map[string]map[string]int{
		"google": {"generateIdToken": 1}, "aws": {"AssumeRoleWithWebIdentity": 100, "GetRole": 100}}}
	broken := &measurement{Name: "broken", Requests: map[string]map[string]int{"google": {"generateIdToken": 1, "getIamPolicy": 2}}}
	line := `{"type":"diagnostic","diagnostic":{"summary":"Impersonation Hop 1 of 1 Is Broken: x"}}` + "\n"
	out := strings.Repeat(line, sharedRoles)
	for _, b := range checksBudgets(whole, broken, true, out) {
		if !b.OK {
			t.Errorf("budget %s missed: %s", b.Name, b.Actual)
		}
	}
	whole.Requests["google"]["generateIdToken"] = 2
	broken.Requests["google"]["getIamPolicy"] = 3
	missed := 0
	for _, b := range checksBudgets(whole, broken, false, strings.Repeat(line, sharedRoles-1)) {
		if !b.OK {
			missed++
		}
	}
	if missed != 4 {
		t.Errorf("%d budgets missed, want 4 (passing, ID tokens, naming, policy reads)", missed)
	}
}

func TestFloorConfig(t *testing.T) {
	data, noop := floorConfig(floorData, 10), floorConfig(floorNoop, 10)
	for _, want := range []string{`resource "terraform_data" "c"`, "for_each = local.connections", "for_each = local.chains",
		"count = 5", "password_wo_version = null", "description = null", `host = "db-${each.value}.example.com"`,
		`range(10) : format("bench_%04d", i)`} {
		if !strings.Contains(data, want) {
			t.Errorf("terraform_data floor lacks %q:\n%s", want, data)
		}
	}
	for _, want := range []string{`resource "noop_connection" "c"`, `source = "airflowiam/noop"`, `resource "noop_connection" "aws"`,
		`connection_id = "bench_aws"`} {
		if !strings.Contains(noop, want) {
			t.Errorf("no-op floor lacks %q:\n%s", want, noop)
		}
	}
	if strings.Contains(noop, "= null") || strings.Contains(noop, "input") {
		t.Errorf("the no-op floor sets what it need not:\n%s", noop)
	}
	// As many resources as the provider's configuration: 10 connections,
	// bench_aws, the chains and the roles.
	if n := strings.Count(data, "resource "); n != 4 || floorResources(10) != 10+1+chains+roles {
		t.Errorf("%d resource blocks, want 4 (connections, chains, roles, bench_aws)", n)
	}
}
