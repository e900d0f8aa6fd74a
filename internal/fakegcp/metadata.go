package fakegcp

import (
	"net/http"
	"strings"
	"time"
)

// The metadata server a GKE pod with Workload Identity (or a Compute
// Engine VM) reaches at metadata.google.internal, answering for one
// service account chosen with SetMetadataServiceAccount. google-auth
// finds it through GCE_METADATA_HOST (host:port of the /computeMetadata/v1/
// root) and GCE_METADATA_IP (host:port it pings), so a worker's real code
// path runs unchanged against the fake:
//
//   - every request needs the header Metadata-Flavor: Google and is 403
//     without it, and a request carrying X-Forwarded-For is 403 too; every
//     answer carries Metadata-Flavor: Google
//     (https://cloud.google.com/compute/docs/metadata/querying-metadata);
//   - google-auth pings the root ("/") and checks the status and that header
//     (google/auth/compute_engine/_metadata.py, ping), reads
//     instance/service-accounts/default/?recursive=true for the email and
//     scopes, then .../default/token (?scopes=a,b) for an access token
//     (get_service_account_info, get_service_account_token), and
//     .../default/identity?audience=AUD&format=full for an ID token
//     (credentials.py, IDTokenCredentials with use_metadata_identity_endpoint);
//     it reads project/project-id and universe/universe-domain
//     (get_project_id, get_universe_domain);
//   - the account is "default" or its own email
//     (https://cloud.google.com/compute/docs/access/authenticate-workloads#applications);
//   - ID tokens are the instance identity tokens of
//     https://cloud.google.com/compute/docs/instances/verifying-instance-identity:
//     RS256, iss https://accounts.google.com, aud the requested audience,
//     azp = sub = the account's unique ID, and email with email_verified only
//     with format=full; audience is required. The fake acts as GKE's
//     metadata server, which has no VM, so format=full adds no
//     google.compute_engine claims;
//   - access tokens are the account's own, with the scopes asked for (the
//     account's scopes, cloud-platform, otherwise), and work at every API of
//     the fake like tokens from generateAccessToken.
//
// Without SetMetadataServiceAccount the service-accounts entries are 404,
// as on a VM without a service account.

const (
	metadataFlavor     = "Metadata-Flavor"
	metadataFlavorVal  = "Google"
	metadataRoot       = "computeMetadata/v1/"
	metadataSAPath     = metadataRoot + "instance/service-accounts/{account}/"
	metadataUniverse   = "googleapis.com"
	metadataTextPlain  = "application/text"
	metadataTokenScope = scopeCloudPlatform
)

// metadataRoutes are appended to routes (routes.go).
var metadataRoutes = []*route{
	{method: http.MethodGet, path: "", id: "metadata.ping", raw: metadataText(func(*Server, *account, *http.Request) (string, int) {
		return "computeMetadata/\n", http.StatusOK
	})},
	{method: http.MethodGet, path: metadataRoot + "project/project-id", id: "metadata.project", raw: metadataProject(false)},
	{method: http.MethodGet, path: metadataRoot + "project/numeric-project-id", id: "metadata.project", raw: metadataProject(true)},
	{method: http.MethodGet, path: metadataRoot + "universe/universe-domain", id: "metadata.universe",
		raw: metadataText(func(*Server, *account, *http.Request) (string, int) { return metadataUniverse, http.StatusOK })},
	{method: http.MethodGet, path: metadataRoot + "instance/service-accounts/", id: "metadata.serviceAccounts", raw: metadataAccountText(
		func(_ *Server, a *account, _ *http.Request) (string, int) {
			return "default/\n" + a.email + "/\n", http.StatusOK
		})},
	{method: http.MethodGet, path: metadataSAPath, id: "metadata.serviceAccount", raw: (*Server).serveMetadataAccount},
	{method: http.MethodGet, path: metadataSAPath + "email", id: "metadata.email", raw: metadataAccountText(
		func(_ *Server, a *account, _ *http.Request) (string, int) { return a.email, http.StatusOK })},
	{method: http.MethodGet, path: metadataSAPath + "aliases", id: "metadata.aliases", raw: metadataAccountText(
		func(*Server, *account, *http.Request) (string, int) { return "default\n", http.StatusOK })},
	{method: http.MethodGet, path: metadataSAPath + "scopes", id: "metadata.scopes", raw: metadataAccountText(
		func(*Server, *account, *http.Request) (string, int) { return metadataTokenScope + "\n", http.StatusOK })},
	{method: http.MethodGet, path: metadataSAPath + "token", id: "metadata.token", raw: (*Server).serveMetadataToken},
	{method: http.MethodGet, path: metadataSAPath + "identity", id: "metadata.identity", raw: metadataAccountText((*Server).metadataIdentity)},
}

// SetMetadataServiceAccount makes the metadata server answer as the
// account (email or unique ID); "" makes it answer as none.
func (s *Server) SetMetadataServiceAccount(emailOrUniqueID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if emailOrUniqueID == "" {
		s.metadataAccount = ""
		return nil
	}
	a, err := s.mustAccountLocked(emailOrUniqueID)
	if err != nil {
		return err
	}
	s.metadataAccount = a.email
	return nil
}

// AcceptBareDelegates makes IAM Credentials take a delegate given as a
// bare email as projects/-/serviceAccounts/EMAIL. The reference states the
// prefixed form ("The delegates must have the following format",
// https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken),
// so the fake refuses bare emails by default; but Airflow's GoogleBaseHook
// hands impersonation_chain's emails to google-auth, whose
// impersonated_credentials sends them unchanged, so a test that runs
// Airflow's own hooks over a chain with delegates turns this on, and the
// behaviour it assumes of Google is not documented.
func (s *Server) AcceptBareDelegates(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bareDelegates = on
}

// metadataGate checks the request headers as the metadata server does and
// sets the answer's Metadata-Flavor. It reports whether to go on.
func metadataGate(w http.ResponseWriter, r *http.Request) bool {
	w.Header().Set(metadataFlavor, metadataFlavorVal)
	if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get(metadataFlavor) != metadataFlavorVal {
		writeMetadata(w, http.StatusForbidden, "text/html; charset=UTF-8",
			"Missing required header \"Metadata-Flavor\": \"Google\" or request came through a proxy (X-Forwarded-For).\n")
		return false
	}
	return true
}

func writeMetadata(w http.ResponseWriter, code int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

type metadataAnswer func(s *Server, a *account, r *http.Request) (string, int)

// metadataText serves a plain-text entry that needs no account.
func metadataText(f metadataAnswer) func(*Server, http.ResponseWriter, *http.Request, []string) {
	return func(s *Server, w http.ResponseWriter, r *http.Request, _ []string) {
		if !metadataGate(w, r) {
			return
		}
		body, code := f(s, nil, r)
		writeMetadata(w, code, metadataTextPlain, body)
	}
}

// metadataAccountText serves a plain-text entry of the account in the
// path ("default" or its email; the listing has none).
func metadataAccountText(f metadataAnswer) func(*Server, http.ResponseWriter, *http.Request, []string) {
	return func(s *Server, w http.ResponseWriter, r *http.Request, params []string) {
		a := s.metadataCaller(w, r, params)
		if a == nil {
			return
		}
		body, code := f(s, a, r)
		writeMetadata(w, code, metadataTextPlain, body)
	}
}

// metadataCaller gates the request and finds the account its path names;
// when it returns nil it has answered (403 or 404).
func (s *Server) metadataCaller(w http.ResponseWriter, r *http.Request, params []string) *account {
	if !metadataGate(w, r) {
		return nil
	}
	a := s.metadataAccountFor(params)
	if a == nil {
		writeMetadata(w, http.StatusNotFound, "text/html; charset=UTF-8", "Not Found\n")
	}
	return a
}

// metadataAccountFor is the metadata server's account when params (the
// path's account, if any) names it, else nil.
func (s *Server) metadataAccountFor(params []string) *account {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[s.metadataAccount]
	if a == nil || a.disabled {
		return nil
	}
	if len(params) > 0 && params[0] != "default" && !strings.EqualFold(params[0], a.email) {
		return nil
	}
	return a
}

func metadataProject(numeric bool) func(*Server, http.ResponseWriter, *http.Request, []string) {
	return metadataAccountText(func(_ *Server, a *account, _ *http.Request) (string, int) {
		if numeric {
			return a.project.number, http.StatusOK
		}
		return a.project.id, http.StatusOK
	})
}

type metadataAccountInfo struct {
	Aliases []string `json:"aliases"`
	Email   string   `json:"email"`
	Scopes  []string `json:"scopes"`
}

// serveMetadataAccount is the account's directory: with recursive=true
// its entries as JSON, else their names.
func (s *Server) serveMetadataAccount(w http.ResponseWriter, r *http.Request, params []string) {
	a := s.metadataCaller(w, r, params)
	if a == nil {
		return
	}
	if r.URL.Query().Get("recursive") == "true" {
		writeJSON(w, http.StatusOK, metadataAccountInfo{Aliases: []string{"default"}, Email: a.email, Scopes: []string{metadataTokenScope}})
		return
	}
	writeMetadata(w, http.StatusOK, metadataTextPlain, "aliases\nemail\nidentity\nscopes\ntoken\n")
}

// serveMetadataToken mints the account's own access token.
func (s *Server) serveMetadataToken(w http.ResponseWriter, r *http.Request, params []string) {
	a := s.metadataCaller(w, r, params)
	if a == nil {
		return
	}
	scopes := []string{metadataTokenScope}
	if v := r.URL.Query().Get("scopes"); v != "" {
		scopes = strings.Split(v, ",")
	}
	s.mu.Lock()
	id := &identity{member: a.member(), uid: a.uid, scopes: scopes, expiry: s.now().Add(tokenLifetime)}
	tok := s.mintLocked(id)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: tok, ExpiresIn: int(tokenLifetime/time.Second) - 1, TokenType: "Bearer"})
}

// metadataIdentity signs an instance identity token for the account.
func (s *Server) metadataIdentity(a *account, r *http.Request) (string, int) {
	q := r.URL.Query()
	aud := q.Get("audience")
	if aud == "" {
		return "non-empty audience parameter required\n", http.StatusBadRequest
	}
	format := q.Get("format")
	if format != "" && format != "standard" && format != "full" {
		return "invalid format parameter: " + format + "\n", http.StatusBadRequest
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, err := s.idTokenLocked(a, aud, a.uid, format == "full")
	if err != nil {
		return err.Error(), http.StatusInternalServerError
	}
	return tok, http.StatusOK
}
