package fakegcp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	iam "google.golang.org/api/iam/v1"
	iamcredentials "google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/option"
)

const (
	testProject = "test-project"
	admin       = "user:admin@example.com"
	alice       = "user:alice@example.com"
)

func saEmail(id string) string { return id + "@" + testProject + ".iam.gserviceaccount.com" }

// newSeeded starts a server with testProject, admin as project owner, and
// the given service accounts.
func newSeeded(t *testing.T, accountIDs []string, opts ...Option) *Server {
	t.Helper()
	s := NewTestServer(t, opts...)
	var sas []SeedServiceAccount
	for _, id := range accountIDs {
		sas = append(sas, SeedServiceAccount{AccountID: id, DisplayName: "SA " + id})
	}
	if err := s.Seed(Seed{Projects: []SeedProject{{
		ProjectID:       testProject,
		Bindings:        []Binding{{Role: "roles/owner", Members: []string{admin}}},
		ServiceAccounts: sas,
	}}}); err != nil {
		t.Fatal(err)
	}
	return s
}

func tokenSource(tok string) option.ClientOption {
	return option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok}))
}

func iamClient(t *testing.T, s *Server, tok string) *iam.Service {
	t.Helper()
	svc, err := iam.NewService(context.Background(), option.WithEndpoint(s.URL()+"/"), tokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func credClient(t *testing.T, s *Server, tok string) *iamcredentials.Service {
	t.Helper()
	svc, err := iamcredentials.NewService(context.Background(), option.WithEndpoint(s.URL()+"/"), tokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// apiFailure is what tests inspect of a failed call.
type apiFailure struct {
	Message string
	Body    string
	Header  http.Header
}

// wantAPIError checks that err is a googleapi.Error with code and, in the
// JSON body, status.
func wantAPIError(t *testing.T, err error, code int, status string) apiFailure {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("got error %v, want googleapi.Error %d %s", err, code, status)
	}
	var body errorBody
	if err := json.Unmarshal([]byte(ge.Body), &body); err != nil {
		t.Fatalf("error body %q: %v", ge.Body, err)
	}
	if ge.Code != code || body.Error.Status != status || body.Error.Code != code {
		t.Fatalf("got %d %s, want %d %s", ge.Code, ge.Body, code, status)
	}
	return apiFailure{Message: ge.Message, Body: ge.Body, Header: ge.Header}
}

// rawCall sends a request and decodes a JSON answer.
func rawCall(t *testing.T, method, u, tok, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q", method, u, ct)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: %d %s: %v", method, u, resp.StatusCode, b, err)
	}
	return resp.StatusCode, out
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func postForm(t *testing.T, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	return rawCall(t, http.MethodPost, u, "", "application/x-www-form-urlencoded", form.Encode())
}

// fakeClock is a settable clock for WithClock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func saName(emailOrUID string) string { return "projects/-/serviceAccounts/" + emailOrUID }
