package airflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestErrorDecoding(t *testing.T) {
	html500 := "<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title>\n<style>body { color: red; }</style>" +
		"<script>var x = '<b>';</script></head>\n<body><h1>Internal   Server Error</h1>\n<p>The server encountered an internal error &amp; was unable to complete your request.</p></body></html>"
	cases := []struct {
		name       string
		version    string
		code       int
		body       string
		wantDetail string
	}{
		{
			name: "v2 string detail", version: VersionV2, code: 404,
			body:       `{"detail":"The Connection with connection_id: ` + "`x`" + ` was not found"}`,
			wantDetail: "The Connection with connection_id: `x` was not found",
		},
		{
			name: "v2 422 list detail", version: VersionV2, code: 422,
			body: `{"detail":[{"type":"string_pattern_mismatch","loc":["body","connection_id"],"msg":"String should match pattern '^[\\w.-]+$'","input":"a b","ctx":{"pattern":"^[\\w.-]+$"}},` +
				`{"type":"int_parsing","loc":["body","port",0],"msg":"Input should be a valid integer","input":"x"}]}`,
			wantDetail: "body.connection_id: String should match pattern '^[\\w.-]+$'; body.port.0: Input should be a valid integer",
		},
		{
			name: "v2 409 object detail", version: VersionV2, code: 409,
			body:       `{"detail":{"reason":"Unique constraint violation","statement":"INSERT INTO connection ...","orig_error":"UNIQUE constraint failed","message":"Connection with connection_id: ` + "`c1`" + ` already exists"}}`,
			wantDetail: "Unique constraint violation: Connection with connection_id: `c1` already exists",
		},
		{
			name: "v2 object detail with reason only", version: VersionV2, code: 409,
			body:       `{"detail":{"reason":"Unique constraint violation"}}`,
			wantDetail: "Unique constraint violation",
		},
		{
			name: "v1 RFC 7807 detail", version: VersionV1, code: 409,
			body:       `{"detail":"Connection already exist. ID: c1","status":409,"title":"Conflict","type":"https://airflow.apache.org/docs/apache-airflow/2.10.5/stable-rest-api-ref.html#section/Errors/AlreadyExists"}`,
			wantDetail: "Connection already exist. ID: c1",
		},
		{
			name: "v1 RFC 7807 null detail falls back to title", version: VersionV1, code: 400,
			body:       `{"detail":null,"status":400,"title":"Bad Request","type":"about:blank"}`,
			wantDetail: "Bad Request",
		},
		{
			name: "HTML page", version: VersionV2, code: 500,
			body:       html500,
			wantDetail: "500 Internal Server Error Internal Server Error The server encountered an internal error & was unable to complete your request.",
		},
		{
			name: "plain text", version: VersionV2, code: 400,
			body:       "  bad\n request \n",
			wantDetail: "bad request",
		},
		{
			name: "empty body", version: VersionV2, code: 400,
			body:       "",
			wantDetail: "",
		},
		{
			name: "JSON without known keys", version: VersionV2, code: 400,
			body:       `{"oops": 1}`,
			wantDetail: `{"oops":1}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newScriptedServer(t, status(tc.code, tc.body))
			c := s.client(t, func(cfg *Config) { cfg.APIVersion = tc.version; cfg.MaxRetries = -1 })
			_, err := c.GetConnection(context.Background(), "x")
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error = %v; want an *APIError", err)
			}
			if apiErr.Detail != tc.wantDetail {
				t.Fatalf("Detail = %q\nwant     %q", apiErr.Detail, tc.wantDetail)
			}
			wantURL := s.srv.URL + "/api/" + tc.version + "/connections/x"
			if apiErr.Method != http.MethodGet || apiErr.URL != wantURL || apiErr.StatusCode != tc.code {
				t.Fatalf("error = %+v", apiErr)
			}
			want := fmt.Sprintf("GET %s: %d %s", wantURL, tc.code, http.StatusText(tc.code))
			if tc.wantDetail != "" {
				want += ": " + tc.wantDetail
			}
			if err.Error() != want {
				t.Fatalf("Error() = %q\nwant      %q", err.Error(), want)
			}
		})
	}
}

func TestErrorSnippetIsTruncated(t *testing.T) {
	long := "<html><body>" + strings.Repeat("word ", 500) + "</body></html>"
	got := errorDetail([]byte(long))
	if utf8.RuneCountInString(got) > maxSnippetRunes+3 || !strings.HasSuffix(got, "...") || strings.Contains(got, "<") {
		t.Fatalf("snippet = %q (%d runes)", got, utf8.RuneCountInString(got))
	}
	// Multi-byte text is cut on rune boundaries.
	got = errorDetail([]byte(strings.Repeat("é", 400)))
	if !utf8.ValidString(got) || utf8.RuneCountInString(got) != maxSnippetRunes+3 {
		t.Fatalf("snippet = %q", got)
	}
	// Non-ASCII upper-case letters do not confuse tag stripping.
	if got := errorDetail([]byte("<p>İİİ <SCRIPT>x</SCRIPT>ok</p>")); got != "İİİ ok" {
		t.Fatalf("snippet = %q", got)
	}
}

func TestAPIErrorFormat(t *testing.T) {
	e := &APIError{Method: "GET", URL: "http://127.0.0.1:8080/api/v2/connections/x", StatusCode: 404, Detail: "The Connection with connection_id: `x` was not found"}
	if got, want := e.Error(), "GET http://127.0.0.1:8080/api/v2/connections/x: 404 Not Found: The Connection with connection_id: `x` was not found"; got != want {
		t.Fatalf("Error() = %q; want %q", got, want)
	}
	e = &APIError{Method: "POST", URL: "http://h/api/v1/connections", StatusCode: 401, Detail: "Unauthorized", AuthMethod: `Airflow 2 basic auth as "admin"`}
	if got, want := e.Error(), `POST http://h/api/v1/connections: 401 Unauthorized: Unauthorized (auth method: Airflow 2 basic auth as "admin")`; got != want {
		t.Fatalf("Error() = %q; want %q", got, want)
	}
	e = &APIError{Method: "GET", URL: "http://h/x", StatusCode: 599}
	if got, want := e.Error(), "GET http://h/x: 599"; got != want {
		t.Fatalf("Error() = %q; want %q", got, want)
	}
}

func TestAuthMethodOnlyOn401And403(t *testing.T) {
	for code, want := range map[int]bool{401: true, 403: true, 404: false, 500: false} {
		e := newAPIError("GET", "http://h/x", &response{status: code, header: http.Header{}}, "static bearer token")
		if (e.AuthMethod != "") != want {
			t.Errorf("status %d: AuthMethod = %q", code, e.AuthMethod)
		}
	}
}

func TestIsNotFoundAndIsConflict(t *testing.T) {
	notFound := &APIError{StatusCode: 404}
	conflict := &APIError{StatusCode: 409}
	wrapped := fmt.Errorf("context: %w", notFound)
	if !IsNotFound(notFound) || !IsNotFound(wrapped) || IsNotFound(conflict) || IsNotFound(nil) || IsNotFound(errors.New("404")) {
		t.Fatal("IsNotFound is wrong")
	}
	if !IsConflict(conflict) || !IsConflict(fmt.Errorf("x: %w", conflict)) || IsConflict(notFound) || IsConflict(nil) {
		t.Fatal("IsConflict is wrong")
	}
}

func TestNonJSONSuccessBody(t *testing.T) {
	s := newScriptedServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body><h1>Sign in</h1></body></html>"))
	})
	c := s.client(t)
	_, err := c.GetConnection(context.Background(), "c1")
	if err == nil {
		t.Fatal("want an error for an HTML 200")
	}
	for _, want := range []string{"GET " + s.srv.URL + "/api/v2/connections/c1", "JSON", "200", "Sign in"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		t.Errorf("a 2xx must not be an *APIError: %v", err)
	}
}

func TestEmptySuccessBodyWhereJSONExpected(t *testing.T) {
	s := newScriptedServer(t, status(200, ""))
	c := s.client(t)
	_, err := c.GetConnection(context.Background(), "c1")
	if err == nil || !strings.Contains(err.Error(), "empty body") || !strings.Contains(err.Error(), s.srv.URL) {
		t.Fatalf("error = %v", err)
	}
}

func TestWrongJSONShape(t *testing.T) {
	s := newScriptedServer(t, status(200, `{"connection_id": 5}`))
	c := s.client(t)
	_, err := c.GetConnection(context.Background(), "c1")
	if err == nil || !strings.Contains(err.Error(), "decoding response") || !strings.Contains(err.Error(), s.srv.URL) {
		t.Fatalf("error = %v", err)
	}
}
