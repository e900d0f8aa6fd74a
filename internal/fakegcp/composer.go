package fakegcp

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
)

// Cloud Composer API v1: projects.locations.environments.get, read only
// (https://cloud.google.com/composer/docs/reference/rest/v1/projects.locations.environments/get).
// Environments are seeded with AddComposerEnvironment; the fake returns the
// fields the provider reads: name, uuid, state, config.airflowUri and
// config.softwareConfig (imageVersion, airflowConfigOverrides).
//
// Rules and their sources:
//
//   - The get needs composer.environments.get on the environment, which the
//     fake checks on the project's policy (environments have no policy of
//     their own: https://cloud.google.com/composer/docs/composer-3/access-control).
//     The roles that hold it are those of composerRolePermissions, from
//     https://cloud.google.com/iam/docs/roles-permissions/composer and the
//     basic roles (https://cloud.google.com/iam/docs/roles-overview#basic:
//     Viewer holds every get permission).
//   - A caller without the permission gets 403 PERMISSION_DENIED whether or
//     not the environment exists, and a caller with it gets 404 NOT_FOUND
//     for one that does not: Google checks permission before existence
//     ("Permission ... denied on resource (or it may not exist)", the
//     wording of Google's APIs for an unauthorised get).
//   - State is one of the Environment.State enum
//     (https://cloud.google.com/composer/docs/reference/rest/v1/projects.locations.environments#State).

const (
	apiComposer     = "composer"
	serviceComposer = "composer.googleapis.com"
	composerRPC     = "google.cloud.orchestration.airflow.service.v1.Environments."

	permComposerEnvironmentsGet = "composer.environments.get"
)

// composerRolePermissions adds composer.environments.get to the roles the
// fake knows: the Composer roles that hold it
// (https://cloud.google.com/iam/docs/roles-permissions/composer) and the
// basic roles.
var composerRolePermissions = map[string][]string{
	"roles/owner":           {permComposerEnvironmentsGet},
	"roles/editor":          {permComposerEnvironmentsGet},
	"roles/viewer":          {permComposerEnvironmentsGet},
	"roles/composer.admin":  {permComposerEnvironmentsGet},
	"roles/composer.user":   {permComposerEnvironmentsGet},
	"roles/composer.viewer": {permComposerEnvironmentsGet},
	"roles/composer.environmentAndStorageObjectViewer": {permComposerEnvironmentsGet},
}

func init() {
	for role, perms := range composerRolePermissions {
		rolePermissions[role] = append(rolePermissions[role], perms...)
	}
}

// Environment states (Environment.State).
const (
	ComposerRunning  = "RUNNING"
	ComposerCreating = "CREATING"
	ComposerUpdating = "UPDATING"
	ComposerDeleting = "DELETING"
	ComposerError    = "ERROR"
)

// ComposerEnvironment is a seeded Cloud Composer environment.
type ComposerEnvironment struct {
	// Name is projects/P/locations/L/environments/E; the project must exist.
	Name  string
	State string // one of the Composer* states; "" means RUNNING
	// AirflowURI is where its Airflow answers: a ComposerFront's URL.
	AirflowURI string
	// ImageVersion, for example "composer-3-airflow-2.10.5-build.7".
	ImageVersion string
	// AirflowConfigOverrides are "section-key" -> value, as the API shows
	// them ("api-composer_auth_user_registration_role": "Viewer").
	AirflowConfigOverrides map[string]string

	uuid string
}

var composerEnvName = regexp.MustCompile(`^projects/([^/]+)/locations/([^/]+)/environments/([^/]+)$`)

// AddComposerEnvironment seeds (or replaces) an environment.
func (s *Server) AddComposerEnvironment(env ComposerEnvironment) error {
	m := composerEnvName.FindStringSubmatch(env.Name)
	if m == nil {
		return fmt.Errorf("fakegcp: composer environment name %q is not projects/P/locations/L/environments/E", env.Name)
	}
	if env.State == "" {
		env.State = ComposerRunning
	}
	env.AirflowConfigOverrides = maps.Clone(env.AirflowConfigOverrides)
	h := randomHex(16)
	env.uuid = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.projectLocked(m[1]) == nil {
		return fmt.Errorf("fakegcp: composer environment %s: unknown project %s", env.Name, m[1])
	}
	if s.composerEnvs == nil {
		s.composerEnvs = map[string]*ComposerEnvironment{}
	}
	s.composerEnvs[env.Name] = &env
	return nil
}

// SetComposerState changes a seeded environment's state.
func (s *Server) SetComposerState(name, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	env := s.composerEnvs[name]
	if env == nil {
		return fmt.Errorf("fakegcp: no composer environment %s", name)
	}
	env.State = state
	return nil
}

// composerEnvironment returns a copy of a seeded environment.
func (s *Server) composerEnvironment(name string) (ComposerEnvironment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	env := s.composerEnvs[name]
	if env == nil {
		return ComposerEnvironment{}, false
	}
	return *env, true
}

// Wire types of composer/v1 (the Environment schema and the parts of it
// the fake fills in).
type composerEnvironmentWire struct {
	Name   string                 `json:"name"`
	UUID   string                 `json:"uuid,omitempty"`
	State  string                 `json:"state"`
	Config *composerEnvConfigWire `json:"config,omitempty"`
}

type composerEnvConfigWire struct {
	AirflowURI     string                      `json:"airflowUri,omitempty"`
	SoftwareConfig *composerSoftwareConfigWire `json:"softwareConfig,omitempty"`
}

type composerSoftwareConfigWire struct {
	ImageVersion           string            `json:"imageVersion,omitempty"`
	AirflowConfigOverrides map[string]string `json:"airflowConfigOverrides,omitempty"`
}

func (s *Server) getComposerEnvironment(c *call) (any, *APIError) {
	name := "projects/" + c.params[0] + "/locations/" + c.params[1] + "/environments/" + c.params[2]
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(c.params[0])
	if p == nil || !s.holdsOnProjectLocked(c.caller.member, p, permComposerEnvironmentsGet) {
		e := apiErr(http.StatusForbidden, "PERMISSION_DENIED", "Permission '%s' denied on resource '%s' (or it may not exist).",
			permComposerEnvironmentsGet, name)
		e.Details = []any{newErrorInfo("IAM_PERMISSION_DENIED", serviceComposer, map[string]string{"permission": permComposerEnvironmentsGet})}
		return nil, e
	}
	env := s.composerEnvs[name]
	if env == nil {
		return nil, errNotFound("Environment %s not found.", name)
	}
	return composerEnvironmentWire{
		Name:  env.Name,
		UUID:  env.uuid,
		State: env.State,
		Config: &composerEnvConfigWire{
			AirflowURI: env.AirflowURI,
			SoftwareConfig: &composerSoftwareConfigWire{
				ImageVersion:           env.ImageVersion,
				AirflowConfigOverrides: maps.Clone(env.AirflowConfigOverrides),
			},
		},
	}, nil
}
