package composer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// AuthMethod is how the airflow client names this authentication in its
// errors (airflow.Config.TransportAuth).
func AuthMethod(env *Environment) string {
	return "Google access token of the google block's identity, through Cloud Composer environment " + env.Name
}

// Transport sends the airflow client's requests to a Composer
// environment's Airflow. Base must add the Google access token (an
// oauth2.Transport over the google block's token source). Transport
// leaves every answer of Airflow as it is, except two refusals that Composer
// gives in its own way, which become an *AccessError naming the identity
// and the fix:
//
//   - a redirect (Composer's answer to a missing or refused Google token:
//     it sends the caller to Google's sign-in page instead of answering
//     401), and
//   - 403 from Airflow: the identity is registered but its Airflow role may
//     not manage connections.
type Transport struct {
	Base        http.RoundTripper
	Environment *Environment
	// Identity names the google block's identity (an email); it is called
	// at most once, on the first refusal.
	Identity func(ctx context.Context) string

	once  sync.Once
	email string
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.Base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "":
		_ = resp.Body.Close()
		return nil, &AccessError{Kind: SignInRedirect, Environment: t.Environment,
			Identity: t.identity(req.Context()), Location: signInHost(resp.Header.Get("Location"))}
	case resp.StatusCode == http.StatusForbidden:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		return nil, &AccessError{Kind: NoAirflowRole, Environment: t.Environment,
			Identity: t.identity(req.Context()), Detail: detailOf(body)}
	}
	return resp, nil
}

func (t *Transport) identity(ctx context.Context) string {
	t.once.Do(func() {
		if t.Identity != nil {
			t.email = t.Identity(ctx)
		}
	})
	return t.email
}

// Kinds of AccessError.
const (
	// SignInRedirect: Composer redirected the request to Google's sign-in.
	SignInRedirect = "sign-in redirect"
	// NoAirflowRole: Airflow answered 403 to a registered identity.
	NoAirflowRole = "no Airflow role"
)

// AccessError is a request Composer or its Airflow refused for who sent it.
type AccessError struct {
	Kind        string
	Environment *Environment
	Identity    string // email, "" when unknown
	Location    string // the redirect's scheme and host, for SignInRedirect
	Detail      string // Airflow's own message, for NoAirflowRole
}

func (e *AccessError) Error() string {
	who := describeIdentity(e.Identity)
	env := e.Environment
	if e.Kind == SignInRedirect {
		return fmt.Sprintf("Cloud Composer environment %s did not accept the Google access token of %s: it redirected the request to Google's sign-in page (%s) instead of answering. "+
			"Composer accepts a Google access token with the cloud-platform scope of an identity that may use the environment: grant it roles/composer.user on project %s, "+
			"check credentials or access_token in the provider's google block (a given access_token is not refreshed and expires after an hour), "+
			"and check that the environment's web server access control lets this machine in",
			env.Name, who, e.Location, projectOf(env.Name))
	}
	email := e.Identity
	if email == "" {
		email = "EMAIL"
	}
	detail := ""
	if e.Detail != "" && !strings.EqualFold(e.Detail, http.StatusText(http.StatusForbidden)) {
		detail = ": " + e.Detail
	}
	return fmt.Sprintf("Airflow in Cloud Composer environment %s refused %s (403 Forbidden%s): its Airflow role may not manage connections, which needs Op or Admin. "+
		"Composer registers a new API user with the role in [api] composer_auth_user_registration_role (this environment: %s). "+
		"Give the identity Op: `gcloud composer environments run %s --location %s users add-role -- -e %s -r Op`, or in the Airflow UI (Security > List Users)",
		env.Name, who, detail, env.RegistrationRole, last(env.Name), location(env.Name), email)
}

// signInHost keeps the scheme and host of a redirect: its query may carry
// state that has no place in an error.
func signInHost(location string) string {
	if i := strings.Index(location, "?"); i >= 0 {
		location = location[:i]
	}
	return location
}

// detailOf is the detail or title of an Airflow error body, or "".
func detailOf(body []byte) string {
	var e struct {
		Detail any    `json:"detail"`
		Title  string `json:"title"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	if s, ok := e.Detail.(string); ok && s != "" {
		return s
	}
	return e.Title
}

func projectOf(name string) string {
	p, _, _ := parts(name)
	return p
}
