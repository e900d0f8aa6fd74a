package fakegcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultIssuer is the iss claim of ID tokens unless WithIssuer says
// otherwise.
const DefaultIssuer = "https://accounts.google.com"

// Server is the fake. It implements http.Handler and is safe for concurrent
// use. The zero value is not usable; call New.
type Server struct {
	issuer  string
	clock   func() time.Time
	baseURL string // from WithBaseURL

	mu      sync.Mutex
	url     string // set by Start
	httpSrv *http.Server

	// knobs
	latency     time.Duration
	propagation time.Duration
	conflicts   int
	counts      map[string]int
	etagCounter uint64
	etagBase    uint64
	keysTaken   int
	issuerKeys  []*signingKey
	projects    map[string]*project    // by project ID
	accounts    map[string]*account    // by email
	byUID       map[string]*account    // by unique ID
	usedUIDs    map[string]bool        // unique IDs are never reused, not even after delete
	keysByID    map[string]*signingKey // service-account keys, user- and system-managed
	tokens      map[string]*identity   // opaque access tokens
	// composerEnvs are the seeded Cloud Composer environments, by name
	// (composer.go).
	composerEnvs map[string]*ComposerEnvironment
	// metadataAccount is the email the metadata server answers as (metadata.go).
	metadataAccount string
	bareDelegates   bool // AcceptBareDelegates
}

// Option configures a Server.
type Option func(*Server)

// WithIssuer sets the iss claim of ID tokens and the issuer of the OpenID
// configuration. The default is DefaultIssuer.
func WithIssuer(iss string) Option {
	return func(s *Server) { s.issuer = iss }
}

// WithClock sets the clock used for token lifetimes, ID-token claims,
// JWT validation and propagation delays. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.clock = now }
}

// WithBaseURL sets the base URL the server advertises (token_uri in key
// files, jwks_uri, the expected audience of JWT assertions) when it is
// served by something other than Start, such as httptest.NewServer(s).
func WithBaseURL(u string) Option {
	return func(s *Server) { s.baseURL = strings.TrimSuffix(u, "/") }
}

// New returns a server with no projects; add them with Seed or
// CreateServiceAccount.
func New(opts ...Option) *Server {
	s := &Server{
		issuer:   DefaultIssuer,
		clock:    time.Now,
		counts:   map[string]int{},
		projects: map[string]*project{},
		accounts: map[string]*account{},
		byUID:    map[string]*account{},
		usedUIDs: map[string]bool{},
		keysByID: map[string]*signingKey{},
		tokens:   map[string]*identity{},
	}
	for _, o := range opts {
		o(s)
	}
	// Etags look like Google's: 8 bytes starting 0x07, growing with time.
	s.etagBase = 0x0700000000000000 | uint64(s.clock().UnixMicro())&0x00ffffffffffffff
	return s
}

// NewTestServer starts a server for t and closes it when t ends.
func NewTestServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := New(opts...)
	if _, err := s.Start(); err != nil {
		t.Fatalf("fakegcp: starting server: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start listens on a free loopback port, serves in the background and
// returns the base URL, such as "http://127.0.0.1:43117".
func (s *Server) Start() (string, error) {
	return s.StartAt("127.0.0.1:0")
}

// StartAt is Start on a given address ("host:port"; port 0 picks one).
func (s *Server) StartAt(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("fakegcp: listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	if s.httpSrv != nil {
		s.mu.Unlock()
		ln.Close()
		return "", errors.New("fakegcp: server already started")
	}
	s.httpSrv = srv
	s.url = "http://" + ln.Addr().String()
	u := s.url
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return u, nil
}

// URL is the base URL after Start, or the one given to WithBaseURL, else "".
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.urlLocked()
}

func (s *Server) urlLocked() string {
	if s.url != "" {
		return s.url
	}
	return s.baseURL
}

// Close stops serving. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	srv := s.httpSrv
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

func (s *Server) now() time.Time { return s.clock() }

// InjectEtagConflicts makes the next n setIamPolicy calls that would
// succeed fail with 409 ABORTED instead, as if another writer got there
// first.
func (s *Server) InjectEtagConflicts(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conflicts = n
}

// SetLatency makes every request wait d before it is handled.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetPropagationDelay makes a member newly added to a binding grant its
// permissions only d after the write, like IAM's eventual consistency.
// It applies to every permission check from then on, on the server's clock.
func (s *Server) SetPropagationDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.propagation = d
}

// RequestCounts returns how many requests each method received, keyed by
// discovery method id ("iam.projects.serviceAccounts.setIamPolicy") or,
// for endpoints outside the discovery documents, "oauth2.token",
// "oauth2.tokeninfo", "oidc.discovery", "oidc.jwks",
// "oidc.serviceAccountJwks" and, for the metadata server, "metadata.*"
// (metadata.go). Requests that match no route are not counted.
func (s *Server) RequestCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// ResetCounts sets every request count to zero.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
}

// call is one authenticated API request.
type call struct {
	r      *http.Request
	rt     *route
	params []string
	caller *identity
}

// resource is the resource name from the path, "projects/P/serviceAccounts/SA".
func (c *call) resource() string {
	return "projects/" + c.params[0] + "/serviceAccounts/" + c.params[1]
}

// decode reads a JSON body into v, rejecting unknown fields as Google
// does. An empty body decodes as {}.
func (c *call) decode(v any) *APIError {
	body, err := io.ReadAll(io.LimitReader(c.r.Body, 4<<20))
	if err != nil {
		return errInvalid("Invalid JSON payload received. %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return errInvalid("Invalid JSON payload received. Unknown name %s: Cannot find field.", name)
		}
		return errInvalid("Invalid JSON payload received. %v", err)
	}
	return nil
}

// ServeHTTP serves every endpoint of the fake.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}

	rt, params := matchRoute(r.Method, r.URL.Path)
	if rt == nil {
		writeError(w, errNotFound("Method not found: %s %s.", r.Method, r.URL.Path))
		return
	}
	s.mu.Lock()
	s.counts[rt.id]++
	s.mu.Unlock()

	if rt.raw != nil {
		rt.raw(s, w, r, params)
		return
	}
	caller, aerr := s.authenticate(r, rt)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	resp, aerr := rt.handler(s, &call{r: r, rt: rt, params: params, caller: caller})
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}
