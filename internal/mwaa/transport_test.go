package mwaa

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/mwaafake"
)

// stubAirflow is a small in-memory Airflow (connections only) that counts
// what reaches it: version probes, logins and /api/ requests.
type stubAirflow struct {
	v1                   bool
	probes, logins, apis atomic.Int64
	fail503              atomic.Int64 // answer this many /api/ requests 503 first

	mu    sync.Mutex
	conns map[string]map[string]any
}

func startStub(t *testing.T, v1 bool) (*stubAirflow, string) {
	s := &stubAirflow{v1: v1, conns: map[string]map[string]any{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func (s *stubAirflow) prefix() string {
	if s.v1 {
		return "/api/v1"
	}
	return "/api/v2"
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func (s *stubAirflow) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/api/v2/monitor/health":
		s.probes.Add(1)
		if s.v1 {
			reply(w, http.StatusNotFound, map[string]any{"title": "Not Found"})
			return
		}
		reply(w, http.StatusOK, map[string]any{})
	case r.URL.Path == "/auth/token":
		s.logins.Add(1)
		reply(w, http.StatusCreated, map[string]any{"access_token": "jwt"})
	case strings.HasPrefix(r.URL.Path, s.prefix()+"/connections"):
		s.apis.Add(1)
		if s.fail503.Load() > 0 {
			s.fail503.Add(-1)
			reply(w, http.StatusServiceUnavailable, map[string]any{"detail": "busy"})
			return
		}
		s.connections(w, r, strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, s.prefix()+"/connections"), "/"))
	default:
		reply(w, http.StatusNotFound, map[string]any{"detail": "Not Found"})
	}
}

func (s *stubAirflow) connections(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	created := http.StatusCreated
	if s.v1 {
		created = http.StatusOK
	}
	switch {
	case id == "" && r.Method == http.MethodGet:
		ids := make([]string, 0, len(s.conns))
		for k := range s.conns {
			ids = append(ids, k)
		}
		sort.Strings(ids)
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		list := []any{}
		for i := offset; i < len(ids) && (limit == 0 || i < offset+limit); i++ {
			list = append(list, s.conns[ids[i]])
		}
		reply(w, http.StatusOK, map[string]any{"connections": list, "total_entries": len(ids)})
	case id == "" && r.Method == http.MethodPost:
		cid, _ := body["connection_id"].(string)
		if _, dup := s.conns[cid]; dup {
			reply(w, http.StatusConflict, map[string]any{"detail": "already exists"})
			return
		}
		s.conns[cid] = body
		reply(w, created, body)
	case s.conns[id] == nil:
		reply(w, http.StatusNotFound, map[string]any{"detail": "The Connection with connection_id: `" + id + "` was not found"})
	case r.Method == http.MethodGet:
		reply(w, http.StatusOK, s.conns[id])
	case r.Method == http.MethodPatch:
		for _, f := range r.URL.Query()["update_mask"] {
			s.conns[id][f] = body[f]
		}
		reply(w, http.StatusOK, s.conns[id])
	case r.Method == http.MethodDelete:
		delete(s.conns, id)
		w.WriteHeader(http.StatusNoContent)
	}
}

const (
	region  = "eu-west-1"
	account = "123456789012"
)

func awsConfig(key string) aws.Config {
	return aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(key, "secret", "")}
}

// mwaaClient is an airflow client that reaches environment "env" through
// the double with this access key.
func mwaaClient(t *testing.T, front *mwaafake.Server, key string) (*airflow.Client, *Environment) {
	t.Helper()
	c, err := New(Config{AWS: awsConfig(key), Endpoint: front.URL, Environment: "env",
		Identity: func(context.Context) (string, error) { return "arn:aws:iam::" + account + ":user/deployer", nil }})
	if err != nil {
		t.Fatal(err)
	}
	env, err := c.Environment(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	client, err := airflow.NewClient(airflow.Config{
		Endpoint: env.Endpoint(), TransportAuth: env.AuthMethod(), APIVersion: env.APIVersion,
		HTTPClient: &http.Client{Transport: c.Transport(env)}, RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return client, env
}

// scenario is what a terraform run does to connections; it returns what
// it saw, to compare direct and MWAA answers.
func scenario(t *testing.T, c *airflow.Client) []string {
	t.Helper()
	ctx := context.Background()
	var seen []string
	note := func(v any, err error) {
		b, _ := json.Marshal(v)
		seen = append(seen, fmt.Sprintf("%s | err: %v", b, err != nil))
	}
	port := int64(5432)
	conn := &airflow.Connection{ConnectionID: "c1", ConnType: "postgres", Host: aws.String("db.example.com"), Port: &port,
		Extra: aws.String(`{"sslmode":"require"}`)}
	note(c.CreateConnection(ctx, conn))
	note(c.GetConnection(ctx, "c1"))
	conn.Host = aws.String("other.example.com")
	note(c.UpdateConnection(ctx, conn, []string{airflow.FieldHost}))
	_, err := c.CreateConnection(ctx, conn)
	if !airflow.IsConflict(err) {
		t.Errorf("duplicate create: err = %v; want a 409", err)
	}
	for i := range 3 {
		_, err := c.CreateConnection(ctx, &airflow.Connection{ConnectionID: fmt.Sprintf("c%d", i+2), ConnType: "http"})
		note(nil, err)
	}
	note(c.ListConnections(ctx, 2, 1))
	_, err = c.GetConnection(ctx, "missing")
	if !airflow.IsNotFound(err) {
		t.Errorf("missing: err = %v; want a 404", err)
	}
	note(nil, c.DeleteConnection(ctx, "c1"))
	return seen
}

// The same run through MWAA and directly: the same answers, and one
// InvokeRestApi call for every Airflow request the direct run made, no
// probe and no login; the only extra call is the one GetEnvironment.
func TestTransportAnswersAndCountsLikeDirect(t *testing.T) {
	for _, tc := range []struct {
		version string
		v1      bool
	}{{"3.0.6", false}, {"2.10.3", true}} {
		t.Run(tc.version, func(t *testing.T) {
			direct, directURL := startStub(t, tc.v1)
			dc, err := airflow.NewClient(airflow.Config{Endpoint: directURL, Username: "admin", Password: "pw"})
			if err != nil {
				t.Fatal(err)
			}
			want := scenario(t, dc)

			behind, behindURL := startStub(t, tc.v1)
			front := mwaafake.Start(region, account, mwaafake.Environment{Name: "env", AirflowVersion: tc.version,
				AirflowURL: behindURL, Username: "admin", Password: "pw"})
			defer front.Close()
			mc, env := mwaaClient(t, front, "AKIDOK")
			if wantVersion := map[bool]string{false: "v2", true: "v1"}[tc.v1]; env.APIVersion != wantVersion {
				t.Errorf("API version = %s; want %s", env.APIVersion, wantVersion)
			}
			got := scenario(t, mc)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("through MWAA:\n%s\ndirectly:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if front.InvokeCalls() != direct.apis.Load() || behind.apis.Load() != direct.apis.Load() {
				t.Errorf("InvokeRestApi calls = %d, Airflow requests behind MWAA = %d; direct Airflow requests = %d",
					front.InvokeCalls(), behind.apis.Load(), direct.apis.Load())
			}
			if behind.probes.Load() != 0 || front.GetEnvironmentCalls() != 1 {
				t.Errorf("probes = %d, GetEnvironment calls = %d; want 0 and 1", behind.probes.Load(), front.GetEnvironmentCalls())
			}
		})
	}
}

// A 503 from Airflow is retried by the airflow client, one InvokeRestApi
// call per attempt, as a direct request is.
func TestTransportRetriesAreCalls(t *testing.T) {
	behind, behindURL := startStub(t, false)
	front := mwaafake.Start(region, account, mwaafake.Environment{Name: "env", AirflowVersion: "3.0.6", AirflowURL: behindURL})
	defer front.Close()
	mc, _ := mwaaClient(t, front, "AKIDOK")
	behind.fail503.Store(2)
	_, err := mc.GetConnection(context.Background(), "nope")
	if !airflow.IsNotFound(err) {
		t.Fatalf("err = %v; want the 404 after two retried 503s", err)
	}
	if front.InvokeCalls() != 3 || behind.apis.Load() != 3 {
		t.Errorf("InvokeRestApi calls = %d, Airflow requests = %d; want 3 and 3", front.InvokeCalls(), behind.apis.Load())
	}
}

func TestTransportAccessDeniedNamesIdentityPermissionAndRole(t *testing.T) {
	_, behindURL := startStub(t, false)
	front := mwaafake.Start(region, account, mwaafake.Environment{Name: "env", AirflowVersion: "3.0.6", AirflowURL: behindURL})
	defer front.Close()
	front.Deny("AKIDDENIED")
	mc, _ := mwaaClient(t, front, "AKIDDENIED")
	_, err := mc.GetConnection(context.Background(), "c1")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"arn:aws:iam::123456789012:user/deployer", "airflow:InvokeRestApi",
		"arn:aws:airflow:eu-west-1:123456789012:environment/env", "arn:aws:airflow:eu-west-1:123456789012:role/env/Op", "Op or Admin",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if front.InvokeCalls() != 1 {
		t.Errorf("InvokeRestApi calls = %d; want 1 (a refusal is not retried)", front.InvokeCalls())
	}
}

func TestEnvironmentErrors(t *testing.T) {
	front := mwaafake.Start(region, account,
		mwaafake.Environment{Name: "old", AirflowVersion: "2.4.2", AirflowURL: "http://127.0.0.1:1"},
		mwaafake.Environment{Name: "busy", AirflowVersion: "3.0.6", Status: "UPDATING", AirflowURL: "http://127.0.0.1:1"},
		mwaafake.Environment{Name: "recovered", AirflowVersion: "2.4.3", Status: "UPDATE_FAILED", AirflowURL: "http://127.0.0.1:1"},
	)
	defer front.Close()
	for _, tc := range []struct{ name, want string }{
		{"missing", `MWAA environment "missing" was not found in region eu-west-1`},
		{"old", "runs Airflow 2.4.2, and MWAA's InvokeRestApi serves Airflow 2.4.3 and later"},
		{"busy", "MWAA environment busy is UPDATING, not AVAILABLE"},
		{"recovered", ""},
	} {
		c, err := New(Config{AWS: awsConfig("AKIDOK"), Endpoint: front.URL, Environment: tc.name})
		if err != nil {
			t.Fatal(err)
		}
		env, err := c.Environment(context.Background())
		switch {
		case tc.want == "" && (err != nil || env.APIVersion != "v1"):
			t.Errorf("%s: %+v, %v; want a usable Airflow 2 environment", tc.name, env, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err = %v; want it to say %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(Config{Environment: "9bad"}); err == nil {
		t.Error("New accepted an invalid environment name")
	}
}

func TestTransportRefusesPathsMWAACannotCarry(t *testing.T) {
	_, behindURL := startStub(t, false)
	front := mwaafake.Start(region, account, mwaafake.Environment{Name: "env", AirflowVersion: "3.0.6", AirflowURL: behindURL})
	defer front.Close()
	mc, _ := mwaaClient(t, front, "AKIDOK")
	_, err := mc.GetConnection(context.Background(), strings.Repeat("a", 52))
	if err == nil || !strings.Contains(err.Error(), "a connection ID can have at most 51 characters") {
		t.Errorf("err = %v; want the 64-character limit explained", err)
	}
	if front.InvokeCalls() != 0 {
		t.Errorf("InvokeRestApi calls = %d; want none", front.InvokeCalls())
	}
}

// An environment deleted after the provider read it: the error says so.
func TestTransportEnvironmentGone(t *testing.T) {
	_, behindURL := startStub(t, false)
	front := mwaafake.Start(region, account, mwaafake.Environment{Name: "env", AirflowVersion: "3.0.6", AirflowURL: behindURL})
	defer front.Close()
	mc, _ := mwaaClient(t, front, "AKIDOK")
	front.Delete("env")
	_, err := mc.GetConnection(context.Background(), "c1")
	if err == nil || !strings.Contains(err.Error(), "MWAA environment env was not found in region eu-west-1") {
		t.Errorf("err = %v; want the environment named as not found", err)
	}
}
