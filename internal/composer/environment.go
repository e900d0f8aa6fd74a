package composer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	composerapi "google.golang.org/api/composer/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

// NameForm is the form of an environment's resource name, for messages.
const NameForm = "projects/PROJECT/locations/LOCATION/environments/ENVIRONMENT"

// DefaultRegistrationRole is the Airflow role Composer gives a caller it
// registers on its first API request, unless
// [api] composer_auth_user_registration_role says otherwise.
const DefaultRegistrationRole = "Op"

// RegistrationRoleOverride is the key of [api]
// composer_auth_user_registration_role in
// config.softwareConfig.airflowConfigOverrides ("section-key").
const RegistrationRoleOverride = "api-composer_auth_user_registration_role"

// API versions, as the airflow package names them.
const (
	apiV1 = "v1"
	apiV2 = "v2"
)

// NamePattern is the form of an environment's name (NameForm): project IDs
// (lower-case letters, digits, hyphens, and the domain-scoped "example.com:p"
// form), location and environment IDs (lower-case letters, digits and
// hyphens).
var NamePattern = regexp.MustCompile(`^projects/([a-z0-9.:-]+)/locations/([a-z0-9-]+)/environments/([a-z0-9-]+)$`)

// ValidName reports whether name has the form NameForm.
func ValidName(name string) bool {
	return NamePattern.MatchString(name)
}

// parts splits a valid name into project, location and environment ID.
func parts(name string) (project, location, env string) {
	m := NamePattern.FindStringSubmatch(name)
	if m == nil {
		return "", "", ""
	}
	return m[1], m[2], m[3]
}

// Environment is what the provider needs of a Composer environment.
type Environment struct {
	Name string // projects/P/locations/L/environments/E
	// AirflowURI is the base URL of its Airflow web server and REST API.
	AirflowURI string
	// ImageVersion is config.softwareConfig.imageVersion, for example
	// "composer-3-airflow-2.10.5-build.7".
	ImageVersion string
	// AirflowMajor is the Airflow major version of the image (2 or 3).
	AirflowMajor int
	// APIVersion is the airflow package's name of its REST API: "v1" for
	// Airflow 2, "v2" for Airflow 3.
	APIVersion string
	State      string
	// RegistrationRole is the role Composer gives a caller it registers:
	// the override, or DefaultRegistrationRole.
	RegistrationRole string
}

// Config configures a Resolver.
type Config struct {
	// HTTPClient authenticates as the google block's identity.
	HTTPClient *http.Client
	// Endpoint overrides https://composer.googleapis.com/ (tests).
	Endpoint  string
	UserAgent string
	// Identity names the google block's identity in messages (an email);
	// it is called only when something failed.
	Identity func(ctx context.Context) string
}

// Resolver reads environments through the Composer API.
type Resolver struct {
	svc      *composerapi.Service
	identity func(ctx context.Context) string
}

// NewResolver builds the Composer API client. It makes no network call.
func NewResolver(ctx context.Context, cfg Config) (*Resolver, error) {
	opts := []option.ClientOption{option.WithHTTPClient(cfg.HTTPClient)}
	if cfg.Endpoint != "" {
		ep := cfg.Endpoint
		if !strings.HasSuffix(ep, "/") {
			ep += "/"
		}
		opts = append(opts, option.WithEndpoint(ep))
	}
	if cfg.UserAgent != "" {
		opts = append(opts, option.WithUserAgent(cfg.UserAgent))
	}
	svc, err := composerapi.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("building the Cloud Composer client: %w", err)
	}
	identity := cfg.Identity
	if identity == nil {
		identity = func(context.Context) string { return "" }
	}
	return &Resolver{svc: svc, identity: identity}, nil
}

// Resolve reads the environment and checks that its Airflow can be used:
// it is RUNNING (or UPDATING), has an Airflow URI, and runs Airflow 2 or 3.
func (r *Resolver) Resolve(ctx context.Context, name string) (*Environment, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("composer environment %q is not of the form %s", name, NameForm)
	}
	got, err := r.svc.Projects.Locations.Environments.Get(name).Context(ctx).Do()
	if err != nil {
		return nil, r.getError(ctx, name, err)
	}
	return fromAPI(name, got)
}

// fromAPI checks the environment the API returned and extracts what the
// provider needs.
func fromAPI(name string, got *composerapi.Environment) (*Environment, error) {
	env := &Environment{Name: name, State: got.State, RegistrationRole: DefaultRegistrationRole}
	if got.State != "RUNNING" && got.State != "UPDATING" {
		return nil, fmt.Errorf("the Cloud Composer environment %s is %s, not RUNNING: its Airflow cannot be used now. "+
			"Wait until `gcloud composer environments describe %s --location %s` shows RUNNING, "+
			"or fix the environment (an ERROR state needs an update or a re-creation)", name, stateOrUnknown(got.State), last(name), location(name))
	}
	if got.Config == nil || got.Config.AirflowUri == "" {
		return nil, fmt.Errorf("the Cloud Composer environment %s has no config.airflowUri yet: it has no Airflow web server to talk to", name)
	}
	env.AirflowURI = got.Config.AirflowUri
	if sc := got.Config.SoftwareConfig; sc != nil {
		env.ImageVersion = sc.ImageVersion
		if role := sc.AirflowConfigOverrides[RegistrationRoleOverride]; role != "" {
			env.RegistrationRole = role
		}
	}
	major, err := AirflowMajor(env.ImageVersion)
	if err != nil {
		return nil, fmt.Errorf("the Cloud Composer environment %s: %w", name, err)
	}
	env.AirflowMajor = major
	switch major {
	case 2:
		env.APIVersion = apiV1
	case 3:
		env.APIVersion = apiV2
	default:
		return nil, fmt.Errorf("the Cloud Composer environment %s runs Airflow %d (image %s): the provider supports Airflow 2 (/api/v1) and Airflow 3 (/api/v2)",
			name, major, env.ImageVersion)
	}
	return env, nil
}

// imagePattern is composer-X[.Y.Z]-airflow-A[.B[.C]][-build.N] (or
// "composer-3-airflow-3.x" style with a literal x).
var imagePattern = regexp.MustCompile(`^composer-[0-9][0-9a-z.-]*?-airflow-([0-9]+)(?:[.-]|$)`)

// AirflowMajor is the Airflow major version named by an image version such
// as "composer-3-airflow-2.10.5-build.7" or "composer-2.9.7-airflow-2.9.3".
func AirflowMajor(imageVersion string) (int, error) {
	m := imagePattern.FindStringSubmatch(imageVersion)
	if m == nil {
		return 0, fmt.Errorf("cannot tell the Airflow version from config.softwareConfig.imageVersion %q "+
			"(expected composer-VERSION-airflow-VERSION)", imageVersion)
	}
	major, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, fmt.Errorf("cannot tell the Airflow version from imageVersion %q: %w", imageVersion, err)
	}
	return major, nil
}

// getError explains a failed environments.get.
func (r *Resolver) getError(ctx context.Context, name string, err error) error {
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		return fmt.Errorf("reading the Cloud Composer environment %s: %w", name, err)
	}
	who := describeIdentity(r.identity(ctx))
	project, loc, _ := parts(name)
	switch gerr.Code {
	case http.StatusForbidden:
		return fmt.Errorf("%s may not read the Cloud Composer environment %s (403: %s): it lacks the permission composer.environments.get. "+
			"Grant it roles/composer.user on project %s, for example `gcloud projects add-iam-policy-binding %s --member=%s --role=roles/composer.user`; "+
			"also check that the Cloud Composer API is enabled in the project",
			who, name, gerr.Message, project, project, memberFlag(r.identity(ctx)))
	case http.StatusNotFound:
		return fmt.Errorf("the Cloud Composer environment %s does not exist (404 to %s: %s): check the project, location and name in composer_environment; "+
			"`gcloud composer environments list --project %s --locations %s` lists the environments there",
			name, who, gerr.Message, project, loc)
	case http.StatusUnauthorized:
		return fmt.Errorf("the google block's credentials were rejected reading the Cloud Composer environment %s (401: %s): "+
			"check credentials or access_token in the provider's google block", name, gerr.Message)
	}
	return fmt.Errorf("reading the Cloud Composer environment %s as %s: %w", name, who, err)
}

// describeIdentity names an identity in a sentence.
func describeIdentity(email string) string {
	if email == "" {
		return "the google block's identity"
	}
	return "the google block's identity " + email
}

// memberFlag is the --member of a gcloud binding for email.
func memberFlag(email string) string {
	switch {
	case email == "":
		return "MEMBER"
	case strings.HasSuffix(email, ".gserviceaccount.com"):
		return "serviceAccount:" + email
	}
	return "user:" + email
}

func stateOrUnknown(s string) string {
	if s == "" {
		return "in no known state"
	}
	return s
}

func last(name string) string {
	_, _, env := parts(name)
	return env
}

func location(name string) string {
	_, loc, _ := parts(name)
	return loc
}
