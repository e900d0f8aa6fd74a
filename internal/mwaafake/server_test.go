package mwaafake

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/mwaa"
	"github.com/aws/aws-sdk-go-v2/service/mwaa/document"
	"github.com/aws/aws-sdk-go-v2/service/mwaa/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// stubAirflow records what reaches it and answers with answer.
type stubAirflow struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
	logins   int
	answer   func(r *http.Request) (int, string)
}

func (a *stubAirflow) start(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		defer a.mu.Unlock()
		if r.URL.Path == "/auth/token" {
			a.logins++
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"access_token":"jwt"}`)
			return
		}
		a.requests = append(a.requests, r)
		a.bodies = append(a.bodies, string(body))
		status, out := a.answer(r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func sdkClient(s *Server, key string) *mwaa.Client {
	return mwaa.NewFromConfig(aws.Config{
		Region:      "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider(key, "secret", ""),
	}, func(o *mwaa.Options) {
		o.BaseEndpoint = aws.String(s.URL)
		o.RetryMaxAttempts = 1
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("noHostPrefix",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
				}), middleware.Before)
		})
	})
}

func TestGetEnvironmentThroughTheSDK(t *testing.T) {
	s := Start("eu-west-1", "123456789012", Environment{Name: "env3", AirflowVersion: "3.0.6", AirflowURL: "http://127.0.0.1:1"})
	defer s.Close()
	c := sdkClient(s, "AKIDOK")
	out, err := c.GetEnvironment(context.Background(), &mwaa.GetEnvironmentInput{Name: aws.String("env3")})
	if err != nil {
		t.Fatal(err)
	}
	e := out.Environment
	if aws.ToString(e.AirflowVersion) != "3.0.6" || e.Status != types.EnvironmentStatusAvailable ||
		aws.ToString(e.Arn) != "arn:aws:airflow:eu-west-1:123456789012:environment/env3" || aws.ToString(e.WebserverUrl) != "127.0.0.1:1" {
		t.Errorf("environment = %+v", e)
	}
	_, err = c.GetEnvironment(context.Background(), &mwaa.GetEnvironmentInput{Name: aws.String("nope")})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("unknown environment: err = %v; want ResourceNotFoundException", err)
	}
}

func TestInvokeRestAPIForwardsAndCarriesAirflowsAnswer(t *testing.T) {
	for _, tc := range []struct{ version, prefix, auth string }{
		{"3.0.6", "/api/v2", "Bearer jwt"},
		{"2.10.3", "/api/v1", "Basic YWRtaW46cHc="},
	} {
		t.Run(tc.version, func(t *testing.T) {
			af := &stubAirflow{answer: func(r *http.Request) (int, string) {
				if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/missing") {
					return http.StatusNotFound, `{"detail":"The Connection with connection_id: missing was not found"}`
				}
				if r.Method == http.MethodDelete {
					return http.StatusNoContent, ""
				}
				if strings.HasSuffix(r.URL.Path, "/boom") {
					return http.StatusServiceUnavailable, `{"detail":"down"}`
				}
				return http.StatusOK, `{"connection_id":"c1","port":8080,"big":12345678901234567890}`
			}}
			s := Start("eu-west-1", "123456789012", Environment{Name: "env", AirflowVersion: tc.version,
				AirflowURL: af.start(t), Username: "admin", Password: "pw"})
			defer s.Close()
			c := sdkClient(s, "AKIDOK")
			ctx := context.Background()

			out, err := c.InvokeRestApi(ctx, &mwaa.InvokeRestApiInput{
				Name: aws.String("env"), Method: types.RestApiMethodPatch, Path: aws.String("/connections/c1"),
				QueryParameters: document.NewLazyDocument(map[string]any{"update_mask": []string{"host", "port"}}),
				Body:            document.NewLazyDocument(map[string]any{"connection_id": "c1", "port": 8080}),
			})
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := out.RestApiResponse.MarshalSmithyDocument()
			if aws.ToInt32(out.RestApiStatusCode) != 200 || !strings.Contains(string(raw), `"big":12345678901234567890`) {
				t.Errorf("answer = %d %s", aws.ToInt32(out.RestApiStatusCode), raw)
			}
			got := af.requests[0]
			if got.Method != http.MethodPatch || got.URL.Path != tc.prefix+"/connections/c1" ||
				strings.Join(got.URL.Query()["update_mask"], ",") != "host,port" || got.Header.Get("Authorization") != tc.auth {
				t.Errorf("Airflow got %s %s auth %q", got.Method, got.URL, got.Header.Get("Authorization"))
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(af.bodies[0]), &body); err != nil || body["port"] != float64(8080) {
				t.Errorf("Airflow got body %s (%v)", af.bodies[0], err)
			}

			// A 4xx from Airflow comes back as RestApiClientException, a 5xx as
			// RestApiServerException, each with Airflow's status and answer.
			_, err = c.InvokeRestApi(ctx, &mwaa.InvokeRestApiInput{Name: aws.String("env"), Method: types.RestApiMethodGet, Path: aws.String("/connections/missing")})
			var clientErr *types.RestApiClientException
			if !errors.As(err, &clientErr) || aws.ToInt32(clientErr.RestApiStatusCode) != 404 {
				t.Fatalf("404: err = %v; want RestApiClientException with 404", err)
			}
			raw, _ = clientErr.RestApiResponse.MarshalSmithyDocument()
			if !strings.Contains(string(raw), "was not found") {
				t.Errorf("404 answer = %s", raw)
			}
			_, err = c.InvokeRestApi(ctx, &mwaa.InvokeRestApiInput{Name: aws.String("env"), Method: types.RestApiMethodGet, Path: aws.String("/boom")})
			var serverErr *types.RestApiServerException
			if !errors.As(err, &serverErr) || aws.ToInt32(serverErr.RestApiStatusCode) != 503 {
				t.Fatalf("503: err = %v; want RestApiServerException with 503", err)
			}

			// A 204 has no RestApiResponse.
			out, err = c.InvokeRestApi(ctx, &mwaa.InvokeRestApiInput{Name: aws.String("env"), Method: types.RestApiMethodDelete, Path: aws.String("/connections/c1")})
			if err != nil || aws.ToInt32(out.RestApiStatusCode) != 204 || out.RestApiResponse != nil {
				t.Errorf("DELETE: %+v, %v", out, err)
			}
			if s.InvokeCalls() != 4 || s.Forwarded() != 4 {
				t.Errorf("InvokeRestApi calls = %d, forwarded = %d; want 4 and 4", s.InvokeCalls(), s.Forwarded())
			}
		})
	}
}

func TestInvokeRestAPIRefusals(t *testing.T) {
	af := &stubAirflow{answer: func(*http.Request) (int, string) { return http.StatusOK, `{}` }}
	s := Start("eu-west-1", "123456789012", Environment{Name: "env", AirflowVersion: "3.0.6", AirflowURL: af.start(t)})
	defer s.Close()
	s.Deny("AKIDDENIED")
	ctx := context.Background()
	call := func(key, name, method, path string) error {
		_, err := sdkClient(s, key).InvokeRestApi(ctx, &mwaa.InvokeRestApiInput{Name: aws.String(name), Method: types.RestApiMethod(method), Path: aws.String(path)})
		return err
	}
	var denied *types.AccessDeniedException
	if err := call("AKIDDENIED", "env", "GET", "/connections"); !errors.As(err, &denied) || !strings.Contains(err.Error(), "airflow:InvokeRestApi") {
		t.Errorf("denied key: err = %v; want AccessDeniedException naming airflow:InvokeRestApi", err)
	}
	var notFound *types.ResourceNotFoundException
	if err := call("AKIDOK", "other", "GET", "/connections"); !errors.As(err, &notFound) {
		t.Errorf("unknown environment: err = %v; want ResourceNotFoundException", err)
	}
	var invalid *types.ValidationException
	if err := call("AKIDOK", "env", "GET", "/connections/"+strings.Repeat("a", 52)); !errors.As(err, &invalid) {
		t.Errorf("65-character path: err = %v; want ValidationException", err)
	}
	if err := call("AKIDOK", "env", "HEAD", "/connections"); !errors.As(err, &invalid) {
		t.Errorf("HEAD: err = %v; want ValidationException", err)
	}
	if len(af.requests) != 0 {
		t.Errorf("refused calls reached Airflow: %d requests", len(af.requests))
	}
	if err := call("AKIDOK", "env", "GET", "/connections/"+strings.Repeat("a", 51)); err != nil {
		t.Errorf("64-character path: %v", err)
	}
}
