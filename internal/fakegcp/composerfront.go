package fakegcp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// ComposerFront stands in for the web server in front of a Cloud Composer
// environment's Airflow, in front of a real Airflow. It does what Google
// documents that front to do for the Airflow REST API
// (https://cloud.google.com/composer/docs/composer-3/access-airflow-api,
// https://cloud.google.com/composer/docs/composer-2/access-airflow-api):
//
//   - It takes a Google access token as "Authorization: Bearer" and
//     accepts only tokens this fake issued and that are still valid (the
//     same token store tokeninfo and the APIs use), with the cloud-platform
//     scope. Any other request is redirected (302) to Google's sign-in page,
//     as the Identity-Aware Proxy and Composer's web server do for a caller
//     without a valid Google identity, instead of answering 401.
//   - The first request of an identity registers it as an Airflow user with
//     the role in [api] composer_auth_user_registration_role (the
//     environment's airflowConfigOverrides key
//     "api-composer_auth_user_registration_role"), Op by default ("When a
//     new user authorizes through the API, the user's account gets the Op
//     role by default"). The role stays with the user; SetRole changes it
//     as `gcloud composer environments run ... users add-role` would.
//   - Authorization is Airflow's own: a role that may not manage
//     connections is answered 403 in the shape of that Airflow's errors.
//
// The simplification, said plainly: the real Airflow behind the front has
// no Composer auth backend, so the front does not create Airflow users.
// It keeps the registered users and their roles itself and sends each
// request on to Airflow as a fixed Airflow account for that role (Logins:
// Airflow 2 basic auth, or an Airflow 3 JWT from POST /auth/token that it
// obtains once per role and renews on 401). A role with no login is
// answered 403 by the front itself, as Airflow would answer a user of that
// role. The Airflow accounts may hold more than the role (the test
// Airflows' administrator stands in for Op); what the tests check through
// the front is the provider's side of the exchange, not Airflow's RBAC.
type ComposerFront struct {
	gcp        *Server
	env        string
	upstream   string
	apiVersion string
	logins     map[string]AirflowLogin
	client     *http.Client

	mu    sync.Mutex
	users map[string]string // registered email -> Airflow role
	jwts  map[string]string // Airflow role -> Airflow 3 JWT
	// forwarded counts requests sent on to Airflow; refused those the
	// front answered itself.
	forwarded, refused int
}

// AirflowLogin is an Airflow account the front uses for one role.
type AirflowLogin struct {
	Username, Password string
}

// ComposerFrontConfig configures NewComposerFront.
type ComposerFrontConfig struct {
	// Environment is the name of the seeded environment the front serves;
	// its airflowConfigOverrides give the registration role.
	Environment string
	// Airflow is the base URL of the real Airflow behind the front.
	Airflow string
	// APIVersion is "v1" (Airflow 2, basic auth) or "v2" (Airflow 3, JWT).
	APIVersion string
	// Logins maps Airflow roles ("Op", "Viewer") to the Airflow accounts
	// the front uses for them.
	Logins map[string]AirflowLogin
}

// NewComposerFront returns a front that checks tokens against s. Serve it
// on its own listener and seed the environment with its URL as
// AirflowURI.
func (s *Server) NewComposerFront(cfg ComposerFrontConfig) *ComposerFront {
	return &ComposerFront{
		gcp: s, env: cfg.Environment, upstream: strings.TrimRight(cfg.Airflow, "/"),
		apiVersion: cfg.APIVersion, logins: cfg.Logins, client: &http.Client{},
		users: map[string]string{}, jwts: map[string]string{},
	}
}

// SetRole gives a registered (or not yet registered) identity an Airflow
// role.
func (f *ComposerFront) SetRole(email, role string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[strings.ToLower(email)] = role
}

// Role is the Airflow role of a registered identity.
func (f *ComposerFront) Role(email string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	role, ok := f.users[strings.ToLower(email)]
	return role, ok
}

// Counts returns how many requests the front sent on to Airflow and how
// many it answered itself (redirects and 403s).
func (f *ComposerFront) Counts() (forwarded, refused int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.forwarded, f.refused
}

// SignInURL is where the front redirects a request without a valid token.
const SignInURL = "https://accounts.google.com/ServiceLogin"

// ServeHTTP implements http.Handler.
func (f *ComposerFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	email, ok := f.caller(r)
	if !ok {
		f.count(false)
		http.Redirect(w, r, SignInURL+"?continue="+url.QueryEscape("http://"+r.Host+r.URL.RequestURI()), http.StatusFound)
		return
	}
	role := f.register(email)
	login, ok := f.logins[role]
	if !ok {
		f.count(false)
		f.forbidden(w)
		return
	}
	f.count(true)
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp, err := f.forward(r, body, role, login)
	if err != nil {
		http.Error(w, "composer front: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// caller is the email of a valid, cloud-platform-scoped token's identity.
func (f *ComposerFront) caller(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	f.gcp.mu.Lock()
	defer f.gcp.mu.Unlock()
	id := f.gcp.identityLocked(strings.TrimSpace(tok))
	if id == nil || !id.hasAnyScope(scopeCloudPlatform) || id.email() == "" {
		return "", false
	}
	return strings.ToLower(id.email()), true
}

// register returns the identity's role, registering it on first sight
// with the environment's registration role.
func (f *ComposerFront) register(email string) string {
	role := "Op"
	if env, ok := f.gcp.composerEnvironment(f.env); ok {
		if r := env.AirflowConfigOverrides["api-composer_auth_user_registration_role"]; r != "" {
			role = r
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if have, ok := f.users[email]; ok {
		return have
	}
	f.users[email] = role
	return role
}

func (f *ComposerFront) count(forwarded bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if forwarded {
		f.forwarded++
	} else {
		f.refused++
	}
}

// forbidden answers 403 as the Airflow behind the front would: Airflow 3
// {"detail": "Forbidden"}, Airflow 2 an RFC 7807 problem.
func (f *ComposerFront) forbidden(w http.ResponseWriter) {
	if f.apiVersion == "v1" {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(map[string]any{"detail": nil, "status": 403, "title": "Forbidden",
			"type": "https://airflow.apache.org/docs/apache-airflow/stable/stable-rest-api-ref.html#section/Errors/PermissionDenied"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_ = json.NewEncoder(w).Encode(map[string]any{"detail": "Forbidden"})
}

// forward sends the request on to Airflow as the role's account; on
// Airflow 3 a 401 (an expired JWT) renews the JWT once.
func (f *ComposerFront) forward(r *http.Request, body []byte, role string, login AirflowLogin) (*http.Response, error) {
	for renewed := false; ; renewed = true {
		auth, err := f.authorization(role, login, renewed)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, f.upstream+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		for k, vs := range r.Header {
			if k == "Authorization" || k == "Cookie" {
				continue
			}
			req.Header[k] = vs
		}
		req.Header.Set("Authorization", auth)
		resp, err := f.client.Do(req)
		if err != nil || resp.StatusCode != http.StatusUnauthorized || f.apiVersion == "v1" || renewed {
			return resp, err
		}
		_ = resp.Body.Close()
	}
}

func (f *ComposerFront) authorization(role string, login AirflowLogin, renew bool) (string, error) {
	if f.apiVersion == "v1" {
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.SetBasicAuth(login.Username, login.Password)
		return req.Header.Get("Authorization"), nil
	}
	f.mu.Lock()
	jwt := f.jwts[role]
	f.mu.Unlock()
	if jwt != "" && !renew {
		return "Bearer " + jwt, nil
	}
	payload, _ := json.Marshal(map[string]string{"username": login.Username, "password": login.Password})
	resp, err := f.client.Post(f.upstream+"/auth/token", "application/json", bytes.NewReader(payload))
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode/100 != 2 || json.NewDecoder(resp.Body).Decode(&tr) != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("logging in to Airflow as %q: status %d", login.Username, resp.StatusCode)
	}
	f.mu.Lock()
	f.jwts[role] = tr.AccessToken
	f.mu.Unlock()
	return "Bearer " + tr.AccessToken, nil
}
