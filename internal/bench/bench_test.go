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
		"aws":     {"AssumeRoleWithWebIdentity": 1, "GetCallerIdentity": 1},
	}
	apply := &measurement{Requests: map[string]map[string]int{"google": {"getIamPolicy": 40, "setIamPolicy": 40}}, PeakRSSKB: 60000}
	refresh := &measurement{Name: "refresh", Requests: ok, WallMS: 1400, PeakRSSKB: 60000}
	floor := &measurement{WallMS: 1000}
	for _, b := range budgets(1000, apply, refresh, refresh, floor) {
		if !b.OK {
			t.Errorf("budget %s missed: %s (limit %s)", b.Name, b.Actual, b.Limit)
		}
	}
	slow := *refresh
	slow.WallMS = 1600
	two := map[string]map[string]int{"airflow": {"auth": 2, "list": 11, "total": 16}, "google": ok["google"], "aws": ok["aws"]}
	slow.Requests = two
	var missed []string
	for _, b := range budgets(1000, apply, &slow, refresh, floor) {
		if !b.OK {
			missed = append(missed, b.Name)
		}
	}
	want := []string{"/auth/token", "requests to Airflow", "vs the floor"}
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
