package mwaafake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
)

// Environment is one MWAA environment of the double and the Airflow behind it.
type Environment struct {
	Name           string
	AirflowVersion string // "3.0.6", "2.10.3": its major picks /api/v2 or /api/v1
	Status         string // "" means AVAILABLE
	// AirflowURL is the base URL of the real Airflow the double forwards
	// to, and Username and Password an Airflow administrator's.
	AirflowURL         string
	Username, Password string
	// ViewerUsername and ViewerPassword are an Airflow user with the
	// Viewer role, for callers mapped to Viewer (MapToViewer).
	ViewerUsername, ViewerPassword string
}

// Server is the running double.
type Server struct {
	// URL is the double's base URL, for the SDK's BaseEndpoint.
	URL     string
	region  string
	account string
	srv     *httptest.Server
	client  *http.Client

	mu     sync.Mutex
	envs   map[string]*Environment
	denied map[string]bool   // access key IDs without airflow:InvokeRestApi
	viewer map[string]bool   // access key IDs mapped to the Airflow role Viewer
	jwts   map[string]string // environment name and user -> Airflow 3 JWT

	invokes  atomic.Int64
	getEnvs  atomic.Int64
	forwards atomic.Int64
}

// Start starts a double for region and account with these environments.
func Start(region, account string, envs ...Environment) *Server {
	s := &Server{region: region, account: account, client: &http.Client{},
		envs: map[string]*Environment{}, denied: map[string]bool{}, viewer: map[string]bool{}, jwts: map[string]string{}}
	for i := range envs {
		e := envs[i]
		s.envs[e.Name] = &e
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the double.
func (s *Server) Close() { s.srv.Close() }

// Deny takes airflow:InvokeRestApi away from the caller with this access key ID.
func (s *Server) Deny(accessKeyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[accessKeyID] = true
}

// MapToViewer maps the caller with this access key ID to the Airflow role
// Viewer, as a grant of airflow:InvokeRestApi on .../role/ENV/Viewer does:
// the double then acts as the environment's Viewer user.
func (s *Server) MapToViewer(accessKeyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.viewer[accessKeyID] = true
}

// Delete removes an environment: later calls for it get
// ResourceNotFoundException.
func (s *Server) Delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.envs, name)
}

// SetStatus changes an environment's status.
func (s *Server) SetStatus(name, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.envs[name].Status = status
}

// InvokeCalls is how many InvokeRestApi calls the double received;
// Forwarded how many of them reached Airflow; GetEnvironmentCalls how
// many GetEnvironment calls.
func (s *Server) InvokeCalls() int64         { return s.invokes.Load() }
func (s *Server) Forwarded() int64           { return s.forwards.Load() }
func (s *Server) GetEnvironmentCalls() int64 { return s.getEnvs.Load() }

// ARN is the environment's ARN.
func (s *Server) ARN(name string) string {
	return fmt.Sprintf("arn:aws:airflow:%s:%s:environment/%s", s.region, s.account, name)
}

var (
	namePattern = regexp.MustCompile(`^[a-zA-Z][0-9a-zA-Z\-_]{0,79}$`)
	methods     = []string{"GET", "PUT", "POST", "PATCH", "DELETE"}
)

const maxPath = 64

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/environments/"):
		s.getEnvs.Add(1)
		s.getEnvironment(w, strings.TrimPrefix(r.URL.Path, "/environments/"))
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/restapi/"):
		s.invokes.Add(1)
		s.invoke(w, r, strings.TrimPrefix(r.URL.Path, "/restapi/"))
	default:
		writeError(w, http.StatusNotFound, "UnknownOperationException", "no such operation: "+r.Method+" "+r.URL.Path)
	}
}

// env returns the environment, or answers ResourceNotFoundException.
func (s *Server) env(w http.ResponseWriter, name string) (Environment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.envs[name]
	if !ok {
		writeError(w, http.StatusNotFound, "ResourceNotFoundException", "Environment "+name+" not found")
		return Environment{}, false
	}
	return *e, true
}

func (s *Server) getEnvironment(w http.ResponseWriter, name string) {
	e, ok := s.env(w, name)
	if !ok {
		return
	}
	status := e.Status
	if status == "" {
		status = "AVAILABLE"
	}
	writeJSON(w, http.StatusOK, map[string]any{"Environment": map[string]any{
		"Name": e.Name, "Arn": s.ARN(e.Name), "AirflowVersion": e.AirflowVersion, "Status": status,
		"WebserverUrl": strings.TrimPrefix(strings.TrimPrefix(e.AirflowURL, "http://"), "https://"),
	}})
}

type invokeInput struct {
	Method          string
	Path            string
	QueryParameters map[string]any
	Body            json.RawMessage
}

func (s *Server) invoke(w http.ResponseWriter, r *http.Request, name string) {
	if !namePattern.MatchString(name) {
		writeError(w, http.StatusBadRequest, "ValidationException", "Name does not match [a-zA-Z][0-9a-zA-Z-_]*")
		return
	}
	key := accessKeyID(r)
	if s.isDenied(key) {
		writeError(w, http.StatusForbidden, "AccessDeniedException",
			"User with access key "+key+" is not authorized to perform: airflow:InvokeRestApi on resource: "+s.ARN(name))
		return
	}
	e, ok := s.env(w, name)
	if !ok {
		return
	}
	if s.isViewer(key) {
		e.Username, e.Password = e.ViewerUsername, e.ViewerPassword
	}
	var in invokeInput
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "ValidationException", "request body: "+err.Error())
		return
	}
	if msg := validate(in); msg != "" {
		writeError(w, http.StatusBadRequest, "ValidationException", msg)
		return
	}
	query, err := queryValues(in.QueryParameters)
	if err != nil {
		writeError(w, http.StatusBadRequest, "ValidationException", err.Error())
		return
	}
	status, body, err := s.forward(e, in.Method, in.Path, query, in.Body)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalServerException", err.Error())
		return
	}
	s.answer(w, status, body)
}

func validate(in invokeInput) string {
	known := false
	for _, m := range methods {
		known = known || in.Method == m
	}
	switch {
	case !known:
		return "Method must be one of GET, PUT, POST, PATCH, DELETE"
	case len(in.Path) < 1 || len(in.Path) > maxPath:
		return fmt.Sprintf("Path must have between 1 and %d characters", maxPath)
	}
	return ""
}

// answer wraps Airflow's answer as InvokeRestApi does.
func (s *Server) answer(w http.ResponseWriter, status int, body []byte) {
	out := map[string]any{"RestApiStatusCode": status}
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 {
		if json.Valid(trimmed) {
			out["RestApiResponse"] = json.RawMessage(trimmed)
		} else {
			out["RestApiResponse"] = string(trimmed)
		}
	}
	switch {
	case status >= 200 && status < 300:
		writeJSON(w, http.StatusOK, out)
	case status >= 500:
		out["Message"] = fmt.Sprintf("Airflow answered %d", status)
		w.Header().Set("X-Amzn-ErrorType", "RestApiServerException")
		writeJSON(w, http.StatusBadRequest, out)
	default:
		out["Message"] = fmt.Sprintf("Airflow answered %d", status)
		w.Header().Set("X-Amzn-ErrorType", "RestApiClientException")
		writeJSON(w, http.StatusBadRequest, out)
	}
}

func (s *Server) isDenied(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.denied[key]
}

func (s *Server) isViewer(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.viewer[key]
}

// accessKeyID reads the access key ID from a SigV4 Authorization header
// ("AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...").
func accessKeyID(r *http.Request) string {
	h := r.Header.Get("Authorization")
	_, cred, ok := strings.Cut(h, "Credential=")
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(cred, "/")
	return key
}

// queryValues turns QueryParameters into a query: strings, numbers and
// booleans, or lists of them for a repeated parameter.
func queryValues(doc map[string]any) (url.Values, error) {
	q := url.Values{}
	for k, v := range doc {
		items, isList := v.([]any)
		if !isList {
			items = []any{v}
		}
		for _, item := range items {
			switch x := item.(type) {
			case string:
				q.Add(k, x)
			case json.Number, bool:
				q.Add(k, fmt.Sprint(x))
			default:
				return nil, fmt.Errorf("QueryParameters.%s: unsupported value %v", k, item)
			}
		}
	}
	return q, nil
}

// forward sends the request to the environment's Airflow as its
// administrator and returns Airflow's answer.
func (s *Server) forward(e Environment, method, path string, query url.Values, body json.RawMessage) (int, []byte, error) {
	s.forwards.Add(1)
	version := "v2"
	if strings.HasPrefix(e.AirflowVersion, "2.") {
		version = "v1"
	}
	u := strings.TrimRight(e.AirflowURL, "/") + "/api/" + version + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	for relogged := false; ; relogged = true {
		auth, err := s.authorization(e, version, relogged)
		if err != nil {
			return 0, nil, err
		}
		status, answer, err := s.send(method, u, auth, body)
		if err != nil || relogged || version != "v2" || (status != http.StatusUnauthorized && status != http.StatusForbidden) {
			return status, answer, err
		}
		if status == http.StatusForbidden && !bytes.Contains(bytes.ToLower(answer), []byte("jwt")) {
			return status, answer, nil
		}
	}
}

func (s *Server) send(method, u, auth string, body json.RawMessage) (int, []byte, error) {
	var reader io.Reader
	if len(body) > 0 && string(body) != "null" {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, reader)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if reader != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", auth)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("forwarding to Airflow: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// authorization is basic auth on Airflow 2 and a JWT on Airflow 3, logged
// in for once per environment and user (again when fresh is set).
func (s *Server) authorization(e Environment, version string, fresh bool) (string, error) {
	if version == "v1" {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(e.Username+":"+e.Password)), nil
	}
	cacheKey := e.Name + "/" + e.Username
	s.mu.Lock()
	tok := s.jwts[cacheKey]
	s.mu.Unlock()
	if tok != "" && !fresh {
		return "Bearer " + tok, nil
	}
	creds, _ := json.Marshal(map[string]string{"username": e.Username, "password": e.Password})
	resp, err := s.client.Post(strings.TrimRight(e.AirflowURL, "/")+"/auth/token", "application/json", bytes.NewReader(creds))
	if err != nil {
		return "", fmt.Errorf("logging in to Airflow: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		return "", fmt.Errorf("logging in to Airflow: status %d, no access_token", resp.StatusCode)
	}
	s.mu.Lock()
	s.jwts[cacheKey] = out.AccessToken
	s.mu.Unlock()
	return "Bearer " + out.AccessToken, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	writeJSON(w, status, map[string]string{"Message": message})
}
