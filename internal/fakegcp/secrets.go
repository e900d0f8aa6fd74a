package fakegcp

import (
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Secret Manager API v1: secrets and their versions, in the projects the
// fake knows. Permissions are checked on the project's policy and the
// secret's own (secretiam.go).

// Wire types, named after the discovery schemas.

// Secret is a secret as Secret Manager returns it.
type Secret struct {
	Name        string            `json:"name,omitempty"`
	Replication *Replication      `json:"replication,omitempty"`
	CreateTime  string            `json:"createTime,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Etag        string            `json:"etag,omitempty"`
}

// Replication is a secret's replication policy: exactly one of Automatic
// and UserManaged.
type Replication struct {
	Automatic   *AutomaticReplication `json:"automatic,omitempty"`
	UserManaged *UserManaged          `json:"userManaged,omitempty"`
}

// AutomaticReplication is the Automatic schema.
type AutomaticReplication struct {
	CustomerManagedEncryption *CustomerManagedEncryption `json:"customerManagedEncryption,omitempty"`
}

// UserManaged is the UserManaged schema.
type UserManaged struct {
	Replicas []Replica `json:"replicas,omitempty"`
}

// Replica is one location of a user-managed replication.
type Replica struct {
	Location                  string                     `json:"location,omitempty"`
	CustomerManagedEncryption *CustomerManagedEncryption `json:"customerManagedEncryption,omitempty"`
}

// CustomerManagedEncryption names a Cloud KMS key.
type CustomerManagedEncryption struct {
	KmsKeyName string `json:"kmsKeyName,omitempty"`
}

// SecretVersion is a version as Secret Manager returns it.
type SecretVersion struct {
	Name                           string `json:"name,omitempty"`
	CreateTime                     string `json:"createTime,omitempty"`
	DestroyTime                    string `json:"destroyTime,omitempty"`
	State                          string `json:"state,omitempty"`
	Etag                           string `json:"etag,omitempty"`
	ClientSpecifiedPayloadChecksum bool   `json:"clientSpecifiedPayloadChecksum,omitempty"`
}

type secretPayload struct {
	Data       string `json:"data,omitempty"`
	DataCrc32c string `json:"dataCrc32c,omitempty"` // int64, as a string
}

type addSecretVersionRequest struct {
	Payload *secretPayload `json:"payload,omitempty"`
}

type accessSecretVersionResponse struct {
	Name    string         `json:"name,omitempty"`
	Payload *secretPayload `json:"payload,omitempty"`
}

type versionStateRequest struct {
	Etag string `json:"etag,omitempty"`
}

// Version states.
const (
	VersionEnabled   = "ENABLED"
	VersionDisabled  = "DISABLED"
	VersionDestroyed = "DESTROYED"
)

// Secret Manager permissions.
const (
	permSecretsCreate   = "secretmanager.secrets.create"
	permSecretsGet      = "secretmanager.secrets.get"
	permSecretsUpdate   = "secretmanager.secrets.update"
	permSecretsDelete   = "secretmanager.secrets.delete"
	permVersionsAdd     = "secretmanager.versions.add"
	permVersionsGet     = "secretmanager.versions.get"
	permVersionsAccess  = "secretmanager.versions.access"
	permVersionsEnable  = "secretmanager.versions.enable"
	permVersionsDisable = "secretmanager.versions.disable"
	permVersionsDestroy = "secretmanager.versions.destroy"
)

// secretRolePermissions adds Secret Manager's permissions to the roles the
// fake knows. roles/owner and roles/editor hold them all in Google too.
var secretRolePermissions = map[string][]string{
	"roles/owner":                              {permSecretsCreate, permSecretsGet, permSecretsUpdate, permSecretsDelete, permVersionsAdd, permVersionsGet, permVersionsAccess, permVersionsEnable, permVersionsDisable, permVersionsDestroy},
	"roles/editor":                             {permSecretsCreate, permSecretsGet, permSecretsUpdate, permSecretsDelete, permVersionsAdd, permVersionsGet, permVersionsAccess, permVersionsEnable, permVersionsDisable, permVersionsDestroy},
	"roles/secretmanager.admin":                {permSecretsCreate, permSecretsGet, permSecretsUpdate, permSecretsDelete, permVersionsAdd, permVersionsGet, permVersionsAccess, permVersionsEnable, permVersionsDisable, permVersionsDestroy},
	"roles/secretmanager.secretAccessor":       {permVersionsAccess},
	"roles/secretmanager.viewer":               {permSecretsGet, permVersionsGet},
	"roles/secretmanager.secretVersionManager": {permSecretsGet, permVersionsAdd, permVersionsGet, permVersionsEnable, permVersionsDisable, permVersionsDestroy},
	"roles/secretmanager.secretVersionAdder":   {permVersionsAdd},
}

func init() {
	for role, perms := range secretRolePermissions {
		rolePermissions[role] = append(rolePermissions[role], perms...)
	}
}

type secretState struct {
	project  *project
	id       string
	created  time.Time
	labels   map[string]string
	repl     Replication
	etag     string
	versions []*versionState // index i holds version i+1
	policy   policyState     // the secret's own IAM policy (secretiam.go)
}

type versionState struct {
	number    int
	created   time.Time
	destroyed time.Time
	state     string
	data      []byte
	checksum  bool
	etag      string
}

func (sec *secretState) name() string {
	return "projects/" + sec.project.number + "/secrets/" + sec.id
}

func (sec *secretState) view() Secret {
	labels := map[string]string(nil)
	if len(sec.labels) > 0 {
		labels = sec.labels
	}
	return Secret{Name: sec.name(), Replication: cloneReplication(sec.repl), CreateTime: sec.created.UTC().Format(time.RFC3339Nano),
		Labels: labels, Etag: sec.etag}
}

func (sec *secretState) versionView(v *versionState) SecretVersion {
	out := SecretVersion{
		Name:       fmt.Sprintf("%s/versions/%d", sec.name(), v.number),
		CreateTime: v.created.UTC().Format(time.RFC3339Nano), State: v.state, Etag: v.etag,
		ClientSpecifiedPayloadChecksum: v.checksum,
	}
	if v.state == VersionDestroyed {
		out.DestroyTime = v.destroyed.UTC().Format(time.RFC3339Nano)
	}
	return out
}

func cloneReplication(r Replication) *Replication {
	out := Replication{}
	if r.Automatic != nil {
		a := *r.Automatic
		if a.CustomerManagedEncryption != nil {
			c := *a.CustomerManagedEncryption
			a.CustomerManagedEncryption = &c
		}
		out.Automatic = &a
	}
	if r.UserManaged != nil {
		um := &UserManaged{}
		for _, rep := range r.UserManaged.Replicas {
			if rep.CustomerManagedEncryption != nil {
				c := *rep.CustomerManagedEncryption
				rep.CustomerManagedEncryption = &c
			}
			um.Replicas = append(um.Replicas, rep)
		}
		out.UserManaged = um
	}
	return &out
}

var (
	secretIDPattern   = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)
	kmsKeyNamePattern = regexp.MustCompile(`^projects/[^/]+/locations/([^/]+)/keyRings/[^/]+/cryptoKeys/[^/]+$`)
)

// checkReplication applies Secret Manager's rules to a replication policy.
func checkReplication(r *Replication) *APIError {
	if r == nil || (r.Automatic == nil) == (r.UserManaged == nil) {
		return errInvalid("Secret.replication must set exactly one of automatic and userManaged.")
	}
	if r.Automatic != nil {
		if cme := r.Automatic.CustomerManagedEncryption; cme != nil {
			loc, aerr := kmsKeyLocation("replication.automatic.customerManagedEncryption.kmsKeyName", cme.KmsKeyName)
			if aerr != nil {
				return aerr
			}
			if loc != "global" {
				return errInvalid("replication.automatic.customerManagedEncryption.kmsKeyName: the Cloud KMS key %s must be in location global for a secret with automatic replication.", cme.KmsKeyName)
			}
		}
		return nil
	}
	if len(r.UserManaged.Replicas) == 0 {
		return errInvalid("replication.userManaged.replicas must not be empty.")
	}
	seen := map[string]bool{}
	for i, rep := range r.UserManaged.Replicas {
		if rep.Location == "" {
			return errInvalid("replication.userManaged.replicas[%d].location must be set.", i)
		}
		if seen[rep.Location] {
			return errInvalid("replication.userManaged.replicas: location %s appears more than once.", rep.Location)
		}
		seen[rep.Location] = true
		if cme := rep.CustomerManagedEncryption; cme != nil {
			field := fmt.Sprintf("replication.userManaged.replicas[%d].customerManagedEncryption.kmsKeyName", i)
			loc, aerr := kmsKeyLocation(field, cme.KmsKeyName)
			if aerr != nil {
				return aerr
			}
			if loc != rep.Location {
				return errInvalid("%s: the Cloud KMS key %s must be in the replica's location %s.", field, cme.KmsKeyName, rep.Location)
			}
		}
	}
	return nil
}

func kmsKeyLocation(field, name string) (string, *APIError) {
	m := kmsKeyNamePattern.FindStringSubmatch(name)
	if m == nil {
		return "", errInvalid("%s: %q is not a Cloud KMS key name of the form projects/*/locations/*/keyRings/*/cryptoKeys/*.", field, name)
	}
	return m[1], nil
}

// locationsOf is a replication's kind and sorted locations.
func locationsOf(r Replication) string {
	if r.Automatic != nil {
		return "automatic"
	}
	var locs []string
	for _, rep := range r.UserManaged.Replicas {
		locs = append(locs, rep.Location)
	}
	slices.Sort(locs)
	return "userManaged:" + strings.Join(locs, ",")
}

// secretPath is the secret's name from the path as the caller wrote it.
func secretPath(c *call) string {
	return "projects/" + c.params[0] + "/secrets/" + c.params[1]
}

// secretsAuthLocked checks perm on the project of a Secret Manager call.
func (s *Server) secretsAuthLocked(c *call, perm, resource string) (*project, *APIError) {
	p := s.projectLocked(c.params[0])
	if p == nil || !s.holdsOnProjectLocked(c.caller.member, p, perm) {
		e := apiErr(http.StatusForbidden, "PERMISSION_DENIED", "Permission '%s' denied for resource '%s' (or it may not exist).", perm, resource)
		e.Details = []any{newErrorInfo("IAM_PERMISSION_DENIED", serviceSecretManager, map[string]string{"permission": perm})}
		return nil, e
	}
	return p, nil
}

func (s *Server) secretLocked(c *call, perm string) (*secretState, *APIError) {
	return s.secretAuthLocked(c, perm)
}

// versionLocked resolves a version number or "latest".
func (s *Server) versionLocked(c *call, perm string) (*secretState, *versionState, *APIError) {
	sec, aerr := s.secretLocked(c, perm)
	if aerr != nil {
		return nil, nil, aerr
	}
	v := sec.lookupVersion(c.params[2])
	if v == nil {
		return nil, nil, errNotFound("Secret Version [%s/versions/%s] not found.", sec.name(), c.params[2])
	}
	return sec, v, nil
}

func (sec *secretState) lookupVersion(id string) *versionState {
	if id == "latest" {
		if len(sec.versions) == 0 {
			return nil
		}
		return sec.versions[len(sec.versions)-1]
	}
	n, err := strconv.Atoi(id)
	if err != nil || n < 1 || n > len(sec.versions) {
		return nil
	}
	return sec.versions[n-1]
}

func (s *Server) createSecret(c *call) (any, *APIError) {
	var body Secret
	if aerr := c.decode(&body); aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, aerr := s.secretsAuthLocked(c, permSecretsCreate, "projects/"+c.params[0])
	if aerr != nil {
		return nil, aerr
	}
	id := c.r.URL.Query().Get("secretId")
	if !secretIDPattern.MatchString(id) {
		return nil, errInvalid("Invalid secret ID %q: it must be 1 to 255 characters of letters, digits, underscores and hyphens.", id)
	}
	if aerr := checkReplication(body.Replication); aerr != nil {
		return nil, aerr
	}
	if aerr := checkLabels(body.Labels); aerr != nil {
		return nil, aerr
	}
	if p.secrets[id] != nil {
		return nil, errAlreadyExists("Secret [projects/%s/secrets/%s] already exists.", p.number, id)
	}
	sec := &secretState{project: p, id: id, created: s.now(), labels: body.Labels, repl: *cloneReplication(*body.Replication), etag: s.secretEtagLocked()}
	if p.secrets == nil {
		p.secrets = map[string]*secretState{}
	}
	p.secrets[id] = sec
	return sec.view(), nil
}

func (s *Server) secretEtagLocked() string {
	return `"` + s.nextEtagLocked() + `"`
}

func (s *Server) getSecret(c *call) (any, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, aerr := s.secretLocked(c, permSecretsGet)
	if aerr != nil {
		return nil, aerr
	}
	return sec.view(), nil
}

func (s *Server) patchSecret(c *call) (any, *APIError) {
	var body Secret
	if aerr := c.decode(&body); aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, aerr := s.secretLocked(c, permSecretsUpdate)
	if aerr != nil {
		return nil, aerr
	}
	mask := c.r.URL.Query().Get("updateMask")
	if mask == "" {
		return nil, errInvalid("updateMask must be set.")
	}
	if body.Etag != "" && body.Etag != sec.etag {
		return nil, apiErr(http.StatusConflict, "ABORTED", "The etag provided in the request does not match the current etag of the secret.")
	}
	paths := strings.Split(mask, ",")
	if aerr := checkSecretPatch(&body, sec, paths); aerr != nil {
		return nil, aerr
	}
	for _, p := range paths {
		switch strings.TrimSpace(p) {
		case "labels":
			sec.labels = body.Labels
		case "replication":
			sec.repl = *cloneReplication(*body.Replication)
		}
	}
	sec.etag = s.secretEtagLocked()
	return sec.view(), nil
}

// checkSecretPatch refuses a patch of paths that Secret Manager would:
// unknown fields, labels it does not accept, a change of replication
// locations.
func checkSecretPatch(body *Secret, sec *secretState, paths []string) *APIError {
	for _, p := range paths {
		switch strings.TrimSpace(p) {
		case "labels":
			if aerr := checkLabels(body.Labels); aerr != nil {
				return aerr
			}
		case "replication":
			if aerr := checkReplication(body.Replication); aerr != nil {
				return aerr
			}
			if locationsOf(*body.Replication) != locationsOf(sec.repl) {
				return errInvalid("Secret.replication is immutable: only the customer-managed encryption keys of its replicas may change.")
			}
		default:
			return errInvalid("Unsupported or unknown field in updateMask: %q.", p)
		}
	}
	return nil
}

func (s *Server) deleteSecret(c *call) (any, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, aerr := s.secretLocked(c, permSecretsDelete)
	if aerr != nil {
		return nil, aerr
	}
	if etag := c.r.URL.Query().Get("etag"); etag != "" && etag != sec.etag {
		return nil, apiErr(http.StatusConflict, "ABORTED", "The etag provided in the request does not match the current etag of the secret.")
	}
	delete(sec.project.secrets, sec.id)
	return empty{}, nil
}

const maxPayloadBytes = 64 << 10

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (s *Server) addSecretVersion(c *call) (any, *APIError) {
	var body addSecretVersionRequest
	if aerr := c.decode(&body); aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, aerr := s.secretLocked(c, permVersionsAdd)
	if aerr != nil {
		return nil, aerr
	}
	if body.Payload == nil {
		return nil, errInvalid("AddSecretVersionRequest.payload must be set.")
	}
	data, err := base64.StdEncoding.DecodeString(body.Payload.Data)
	if err != nil {
		return nil, errInvalid("Invalid value at 'payload.data' (TYPE_BYTES), Base64 decoding failed.")
	}
	if len(data) > maxPayloadBytes {
		return nil, errInvalid("Secret payload data length must be less than 65536 bytes.")
	}
	v := &versionState{number: len(sec.versions) + 1, created: s.now(), state: VersionEnabled, data: data, etag: s.secretEtagLocked()}
	if body.Payload.DataCrc32c != "" {
		want, err := strconv.ParseInt(body.Payload.DataCrc32c, 10, 64)
		if err != nil || want != int64(crc32.Checksum(data, castagnoli)) {
			return nil, errInvalid("Checksum mismatch: payload.data_crc32c does not match the CRC32C checksum of payload.data.")
		}
		v.checksum = true
	}
	sec.versions = append(sec.versions, v)
	return sec.versionView(v), nil
}

func (s *Server) getSecretVersion(c *call) (any, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, v, aerr := s.versionLocked(c, permVersionsGet)
	if aerr != nil {
		return nil, aerr
	}
	return sec.versionView(v), nil
}

func (s *Server) accessSecretVersion(c *call) (any, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, v, aerr := s.versionLocked(c, permVersionsAccess)
	if aerr != nil {
		return nil, aerr
	}
	name := sec.versionView(v).Name
	if v.state != VersionEnabled {
		return nil, errFailedPrecondition("%s is in %s state.", "SecretVersion ["+name+"]", v.state)
	}
	return accessSecretVersionResponse{Name: name, Payload: &secretPayload{
		Data:       base64.StdEncoding.EncodeToString(v.data),
		DataCrc32c: strconv.FormatInt(int64(crc32.Checksum(v.data, castagnoli)), 10),
	}}, nil
}

func setVersionState(target, perm string) func(*Server, *call) (any, *APIError) {
	return func(s *Server, c *call) (any, *APIError) {
		var body versionStateRequest
		if aerr := c.decode(&body); aerr != nil {
			return nil, aerr
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		sec, v, aerr := s.versionLocked(c, perm)
		if aerr != nil {
			return nil, aerr
		}
		if body.Etag != "" && body.Etag != v.etag {
			return nil, apiErr(http.StatusConflict, "ABORTED", "The etag provided in the request does not match the current etag of the version.")
		}
		if v.state == VersionDestroyed && target != VersionDestroyed {
			return nil, errFailedPrecondition("SecretVersion [%s] is in DESTROYED state.", sec.versionView(v).Name)
		}
		s.applyVersionStateLocked(v, target)
		return sec.versionView(v), nil
	}
}

func (s *Server) applyVersionStateLocked(v *versionState, target string) {
	if v.state == target {
		return
	}
	v.state = target
	v.etag = s.secretEtagLocked()
	if target == VersionDestroyed {
		v.data = nil
		v.destroyed = s.now()
	}
}

// Out-of-band helpers, for tests.

func (s *Server) secretByIDLocked(project, secretID string) (*secretState, error) {
	p := s.projectLocked(project)
	if p == nil || p.secrets[secretID] == nil {
		return nil, errNotFound("Secret [projects/%s/secrets/%s] not found.", project, secretID)
	}
	return p.secrets[secretID], nil
}

// Secret returns a secret as the API would.
func (s *Server) Secret(project, secretID string) (Secret, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.secretByIDLocked(project, secretID)
	if err != nil {
		return Secret{}, false
	}
	return sec.view(), true
}

// SecretVersions returns a secret's versions, oldest first.
func (s *Server) SecretVersions(project, secretID string) []SecretVersion {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.secretByIDLocked(project, secretID)
	if err != nil {
		return nil
	}
	var out []SecretVersion
	for _, v := range sec.versions {
		out = append(out, sec.versionView(v))
	}
	return out
}

// SecretPayload returns the data of a version ("latest" or a number)
// whatever its state; false when there is no such version or it is
// destroyed.
func (s *Server) SecretPayload(project, secretID, version string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.secretByIDLocked(project, secretID)
	if err != nil {
		return nil, false
	}
	v := sec.lookupVersion(version)
	if v == nil || v.state == VersionDestroyed {
		return nil, false
	}
	return slices.Clone(v.data), true
}

// AddSecretVersion adds an enabled version, as someone outside Terraform
// would.
func (s *Server) AddSecretVersion(project, secretID string, data []byte) (SecretVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.secretByIDLocked(project, secretID)
	if err != nil {
		return SecretVersion{}, err
	}
	v := &versionState{number: len(sec.versions) + 1, created: s.now(), state: VersionEnabled, data: slices.Clone(data), etag: s.secretEtagLocked()}
	sec.versions = append(sec.versions, v)
	return sec.versionView(v), nil
}

// SetSecretVersionState enables, disables or destroys a version ("latest"
// or a number).
func (s *Server) SetSecretVersionState(project, secretID, version, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.secretByIDLocked(project, secretID)
	if err != nil {
		return err
	}
	v := sec.lookupVersion(version)
	if v == nil {
		return errNotFound("Secret Version [%s/versions/%s] not found.", sec.name(), version)
	}
	switch state {
	case VersionEnabled, VersionDisabled, VersionDestroyed:
	default:
		return errInvalid("unknown version state %q", state)
	}
	s.applyVersionStateLocked(v, state)
	return nil
}

// SetSecretLabels replaces a secret's labels.
func (s *Server) SetSecretLabels(project, secretID string, labels map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.secretByIDLocked(project, secretID)
	if err != nil {
		return err
	}
	sec.labels = labels
	sec.etag = s.secretEtagLocked()
	return nil
}

// DeleteSecret deletes a secret with its versions.
func (s *Server) DeleteSecret(project, secretID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.secretByIDLocked(project, secretID)
	if err != nil {
		return err
	}
	delete(sec.project.secrets, secretID)
	return nil
}

// Google's rule for a secret's labels, from the labels field of the Secret
// resource (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets):
// keys are 1 to 63 characters matching [\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62},
// values 0 to 63 characters matching [\p{Ll}\p{Lo}\p{N}_-]{0,63}, each at
// most 128 bytes of UTF-8, and no more than 64 labels. A request that
// breaks it fails with 400 INVALID_ARGUMENT.
var (
	labelKeyPattern   = regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	labelValuePattern = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
)

const (
	maxLabels     = 64
	maxLabelBytes = 128
)

func checkLabels(labels map[string]string) *APIError {
	if len(labels) > maxLabels {
		return errInvalid("A secret may have at most %d labels, got %d.", maxLabels, len(labels))
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if !labelKeyPattern.MatchString(k) || len(k) > maxLabelBytes {
			return errInvalid("Invalid label key %q: keys must start with a lowercase letter and contain only lowercase letters, digits, underscores and dashes, 1 to 63 characters.", k)
		}
		if v := labels[k]; !labelValuePattern.MatchString(v) || len(v) > maxLabelBytes {
			return errInvalid("Invalid value for label %q: values may contain only lowercase letters, digits, underscores and dashes, at most 63 characters.", k)
		}
	}
	return nil
}
