// Package gcpsecrets keeps Airflow connections in Google Secret Manager, one
// secret per connection, named and encoded as Airflow's
// CloudSecretManagerBackend reads them. It knows nothing of Terraform.
package gcpsecrets

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"google.golang.org/api/option"
	secretmanager "google.golang.org/api/secretmanager/v1"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/denied"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/retry"
)

// Defaults of CloudSecretManagerBackend.
const (
	DefaultPrefix    = "airflow-connections"
	DefaultSeparator = "-"
	// MaxIDLength is Secret Manager's limit on a secret ID.
	MaxIDLength = 255
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)

// IDChars describes the characters of a secret ID, for messages.
const IDChars = "ASCII letters, digits, underscores and hyphens"

// ConnectionIDChars describes the connection IDs a secret ID can hold, for
// messages: Airflow's ^[\w.-]+$ without what Secret Manager refuses.
const ConnectionIDChars = IDChars + " (no dots: Secret Manager IDs cannot hold them)"

// CheckID reports whether id is a valid secret ID.
func CheckID(id string) error {
	if id == "" || len(id) > MaxIDLength {
		return fmt.Errorf("the secret ID %q must be 1 to %d characters long (it has %d)", id, MaxIDLength, len(id))
	}
	if !idPattern.MatchString(id) {
		return fmt.Errorf("the secret ID %q may contain only %s", id, IDChars)
	}
	return nil
}

// CheckIDPart reports whether s may be part of a secret ID (a prefix or a
// separator; it may be empty).
func CheckIDPart(s string) error {
	if !idPattern.MatchString(s) {
		return fmt.Errorf("%q may contain only %s", s, IDChars)
	}
	return nil
}

// CheckConnectionID reports whether id is a connection ID a secret ID can
// hold: not empty, and only the characters of a secret ID.
func CheckConnectionID(id string) error {
	if id == "" || !idPattern.MatchString(id) {
		return fmt.Errorf("%q must be an Airflow connection ID of %s", id, ConnectionIDChars)
	}
	return nil
}

var keyNamePattern = regexp.MustCompile(`^projects/[^/]+/locations/([^/]+)/keyRings/[^/]+/cryptoKeys/[^/]+$`)

// KeyNameForm is the form of a Cloud KMS key name, for messages.
const KeyNameForm = "projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY"

// KeyLocation returns the location of a Cloud KMS key name, or an error
// when name is not one.
func KeyLocation(name string) (string, error) {
	m := keyNamePattern.FindStringSubmatch(name)
	if m == nil {
		return "", fmt.Errorf("%q is not a Cloud KMS key name: expected %s", name, KeyNameForm)
	}
	return m[1], nil
}

// Replica is one location of a user-managed replication, with its own key.
type Replica struct {
	Location   string
	KMSKeyName string
}

// Secret is what the provider knows of one secret.
type Secret struct {
	Name string // projects/NUMBER/secrets/ID, as Google returns it
	// KMSKeyName is the key of an automatically replicated secret.
	KMSKeyName string
	// Replicas is set for user-managed replication, nil for automatic.
	Replicas []Replica
	Labels   map[string]string
}

// Version is the latest version of a secret.
type Version struct {
	Name  string // projects/NUMBER/secrets/ID/versions/N
	State string // ENABLED, DISABLED or DESTROYED
}

// ErrNotFound is returned when a secret does not exist.
var ErrNotFound = errors.New("secret not found")

// ErrExists is returned by Create when the secret ID is taken.
var ErrExists = errors.New("secret exists")

// ErrNoReadableVersion is returned by Latest when the secret has no
// version, or its latest version is disabled or destroyed: Airflow reads
// "latest" and would find nothing.
var ErrNoReadableVersion = errors.New("no readable latest version")

// Client keeps connections in Secret Manager.
type Client struct {
	svc *secretmanager.Service
}

// NewClient builds a client on an authorised HTTP client; endpoint
// overrides https://secretmanager.googleapis.com/ when set.
func NewClient(ctx context.Context, hc *http.Client, endpoint, userAgent string) (*Client, error) {
	opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if endpoint != "" {
		if !strings.HasSuffix(endpoint, "/") {
			endpoint += "/"
		}
		opts = append(opts, option.WithEndpoint(endpoint))
	}
	if userAgent != "" {
		opts = append(opts, option.WithUserAgent(userAgent))
	}
	svc, err := secretmanager.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("building the Secret Manager client: %w", err)
	}
	return &Client{svc: svc}, nil
}

// SecretPath is the resource name of a secret in a project.
func SecretPath(project, secretID string) string {
	return "projects/" + project + "/secrets/" + secretID
}

// CreateInput is one new secret with its first version.
type CreateInput struct {
	Project, SecretID string
	KMSKeyName        string    // automatic replication only
	Replicas          []Replica // user-managed replication when set
	Labels            map[string]string
	Value             string
}

// Create creates the secret and adds its first version. When the version
// cannot be added, the secret is deleted again, so nothing half-written is
// left.
//
// secrets.create is not idempotent, so it is repeated (after a lost or
// transient answer) only because a repeat is resolved here: a repeat
// answered 409 ALREADY_EXISTS reads the secret and adopts it when it is the
// one that was sent (same replication and labels, and no version yet: the
// first copy of this request landed). Anything else is ErrExists.
func (c *Client) Create(ctx context.Context, in CreateInput) (*Secret, error) {
	path := SecretPath(in.Project, in.SecretID)
	secret := &secretmanager.Secret{Replication: replication(in.KMSKeyName, in.Replicas), Labels: in.Labels}
	tracked, rec := retry.Track(retry.AllowRetry(ctx))
	created, err := c.svc.Projects.Secrets.Create("projects/"+in.Project, secret).SecretId(in.SecretID).Context(tracked).Do()
	if err != nil && gcpiam.StatusCode(err) == http.StatusConflict && rec.Attempts() > 1 {
		created, err = c.adopt(ctx, path, secret, err)
	}
	if err != nil {
		if gcpiam.StatusCode(err) == http.StatusConflict {
			return nil, fmt.Errorf("%w: secret %s already exists: %w", ErrExists, path, err)
		}
		return nil, fmt.Errorf("creating secret %s: %w", path, need(err, "secretmanager.secrets.create", "projects/"+in.Project))
	}
	if err := c.addVersion(ctx, created.Name, in.Value); err != nil {
		if _, derr := c.svc.Projects.Secrets.Delete(created.Name).Context(ctx).Do(); derr != nil {
			return nil, fmt.Errorf("%w (and deleting the secret again failed: %w)", err, need(derr, "secretmanager.secrets.delete", created.Name))
		}
		return nil, err
	}
	return view(created), nil
}

// adopt resolves a repeated create answered conflict: the secret is this
// request's own when it has what was sent and no version yet; else the
// conflict stands.
func (c *Client) adopt(ctx context.Context, path string, sent *secretmanager.Secret, conflict error) (*secretmanager.Secret, error) {
	got, err := c.svc.Projects.Secrets.Get(path).Context(ctx).Do()
	if err != nil {
		return nil, conflict
	}
	v, _, err := c.Latest(ctx, got.Name)
	if !errors.Is(err, ErrNoReadableVersion) || v != nil {
		return nil, conflict // it has a version: not the secret this request just made
	}
	want, have := view(sent), view(got)
	if have.KMSKeyName != want.KMSKeyName || !sameReplicas(have.Replicas, want.Replicas) || !maps.Equal(have.Labels, want.Labels) {
		return nil, conflict
	}
	return got, nil
}

func sameReplicas(a, b []Replica) bool {
	if !SameLocations(a, b) {
		return false
	}
	keys := func(rs []Replica) map[string]string {
		m := map[string]string{}
		for _, r := range rs {
			m[r.Location] = r.KMSKeyName
		}
		return m
	}
	return maps.Equal(keys(a), keys(b))
}

// Get returns the secret.
func (c *Client) Get(ctx context.Context, name string) (*Secret, error) {
	s, err := c.svc.Projects.Secrets.Get(name).Context(ctx).Do()
	if err != nil {
		if gcpiam.StatusCode(err) == http.StatusNotFound {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("reading secret %s: %w", name, need(err, "secretmanager.secrets.get", name))
	}
	return view(s), nil
}

// Latest returns the latest version and its value, or
// ErrNoReadableVersion (with the version, when there is one).
func (c *Client) Latest(ctx context.Context, secretName string) (*Version, string, error) {
	v, err := c.svc.Projects.Secrets.Versions.Get(secretName + "/versions/latest").Context(ctx).Do()
	if err != nil {
		if gcpiam.StatusCode(err) == http.StatusNotFound {
			return nil, "", ErrNoReadableVersion
		}
		return nil, "", fmt.Errorf("reading the latest version of secret %s: %w", secretName, need(err, "secretmanager.versions.get", secretName+"/versions/latest"))
	}
	version := &Version{Name: v.Name, State: v.State}
	if v.State != "ENABLED" {
		return version, "", ErrNoReadableVersion
	}
	out, err := c.svc.Projects.Secrets.Versions.Access(v.Name).Context(ctx).Do()
	if err != nil {
		if gcpiam.StatusCode(err) == http.StatusBadRequest || gcpiam.StatusCode(err) == http.StatusNotFound {
			return version, "", ErrNoReadableVersion // disabled or destroyed meanwhile
		}
		return nil, "", fmt.Errorf("accessing %s: %w", v.Name, need(err, "secretmanager.versions.access", v.Name))
	}
	if out.Payload == nil {
		return version, "", ErrNoReadableVersion
	}
	data, err := base64.StdEncoding.DecodeString(out.Payload.Data)
	if err != nil {
		return nil, "", fmt.Errorf("accessing %s: the payload is not base64: %w", v.Name, err)
	}
	if out.Payload.DataCrc32c != 0 && int64(crc32.Checksum(data, castagnoli)) != out.Payload.DataCrc32c {
		return nil, "", fmt.Errorf("accessing %s: the payload does not match its checksum", v.Name)
	}
	return version, string(data), nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AddVersion adds an enabled version holding value, with its checksum.
func (c *Client) AddVersion(ctx context.Context, secretName, value string) (*Version, error) {
	data := []byte(value)
	v, err := c.svc.Projects.Secrets.AddVersion(secretName, &secretmanager.AddSecretVersionRequest{Payload: &secretmanager.SecretPayload{
		Data:       base64.StdEncoding.EncodeToString(data),
		DataCrc32c: int64(crc32.Checksum(data, castagnoli)),
		// DataCrc32c is an int64 sent as a string; zero would be left out.
		ForceSendFields: []string{"DataCrc32c"},
	}}).Context(ctx).Do()
	if err != nil {
		return nil, fmt.Errorf("adding a version to secret %s: %w", secretName, need(err, "secretmanager.versions.add", secretName))
	}
	return &Version{Name: v.Name, State: v.State}, nil
}

// addVersion is AddVersion resolved: addVersion is not idempotent, and is
// sent once; when its outcome is unknown (no answer, or a server error),
// the latest version is read, and taken as this request's own when it
// holds value; otherwise the version is added again, once.
func (c *Client) addVersion(ctx context.Context, secretName, value string) error {
	_, err := c.AddVersion(ctx, secretName, value)
	if err == nil || !unknownOutcome(err) {
		return err
	}
	if _, got, lerr := c.Latest(ctx, secretName); lerr == nil && got == value {
		return nil
	}
	_, err = c.AddVersion(ctx, secretName, value)
	return err
}

// unknownOutcome reports whether a failed write may have been carried out:
// it got no answer, or a server error.
func unknownOutcome(err error) bool {
	code := gcpiam.StatusCode(err)
	return code == 0 || code >= 500
}

// Supersede adds a version holding value and then disables the version
// that was latest before it, when that one was enabled. Nothing is
// destroyed.
func (c *Client) Supersede(ctx context.Context, secretName, value string) error {
	previous, _, err := c.Latest(ctx, secretName)
	if err != nil && !errors.Is(err, ErrNoReadableVersion) {
		return err
	}
	if err := c.addVersion(ctx, secretName, value); err != nil {
		return err
	}
	if previous == nil || previous.State != "ENABLED" {
		return nil
	}
	if _, err := c.svc.Projects.Secrets.Versions.Disable(previous.Name, &secretmanager.DisableSecretVersionRequest{}).Context(ctx).Do(); err != nil {
		return fmt.Errorf("disabling the superseded version %s: %w", previous.Name, need(err, "secretmanager.versions.disable", previous.Name))
	}
	return nil
}

// SetEncryption changes the keys that encrypt versions added afterwards;
// the replication's kind and locations stay as they are.
func (c *Client) SetEncryption(ctx context.Context, secretName, kmsKeyName string, replicas []Replica) error {
	_, err := c.svc.Projects.Secrets.Patch(secretName, &secretmanager.Secret{Replication: replication(kmsKeyName, replicas)}).
		UpdateMask("replication").Context(ctx).Do()
	if err != nil {
		return fmt.Errorf("changing the encryption of secret %s: %w", secretName, need(err, "secretmanager.secrets.update", secretName))
	}
	return nil
}

// SetLabels makes the secret's labels exactly labels.
func (c *Client) SetLabels(ctx context.Context, secretName string, labels map[string]string) error {
	s := &secretmanager.Secret{Labels: labels, ForceSendFields: []string{"Labels"}}
	if _, err := c.svc.Projects.Secrets.Patch(secretName, s).UpdateMask("labels").Context(ctx).Do(); err != nil {
		return fmt.Errorf("labelling secret %s: %w", secretName, need(err, "secretmanager.secrets.update", secretName))
	}
	return nil
}

// Delete deletes the secret with every version. A missing secret is not an
// error.
func (c *Client) Delete(ctx context.Context, secretName string) error {
	if _, err := c.svc.Projects.Secrets.Delete(secretName).Context(ctx).Do(); err != nil && gcpiam.StatusCode(err) != http.StatusNotFound {
		return fmt.Errorf("deleting secret %s: %w", secretName, need(err, "secretmanager.secrets.delete", secretName))
	}
	return nil
}

func replication(kmsKeyName string, replicas []Replica) *secretmanager.Replication {
	if len(replicas) == 0 {
		auto := &secretmanager.Automatic{}
		if kmsKeyName != "" {
			auto.CustomerManagedEncryption = &secretmanager.CustomerManagedEncryption{KmsKeyName: kmsKeyName}
		}
		return &secretmanager.Replication{Automatic: auto}
	}
	um := &secretmanager.UserManaged{}
	for _, r := range replicas {
		rep := &secretmanager.Replica{Location: r.Location}
		if r.KMSKeyName != "" {
			rep.CustomerManagedEncryption = &secretmanager.CustomerManagedEncryption{KmsKeyName: r.KMSKeyName}
		}
		um.Replicas = append(um.Replicas, rep)
	}
	return &secretmanager.Replication{UserManaged: um}
}

func view(s *secretmanager.Secret) *Secret {
	out := &Secret{Name: s.Name, Labels: s.Labels}
	if r := s.Replication; r != nil {
		switch {
		case r.UserManaged != nil:
			out.Replicas = []Replica{}
			for _, rep := range r.UserManaged.Replicas {
				x := Replica{Location: rep.Location}
				if rep.CustomerManagedEncryption != nil {
					x.KMSKeyName = rep.CustomerManagedEncryption.KmsKeyName
				}
				out.Replicas = append(out.Replicas, x)
			}
		case r.Automatic != nil && r.Automatic.CustomerManagedEncryption != nil:
			out.KMSKeyName = r.Automatic.CustomerManagedEncryption.KmsKeyName
		}
	}
	return out
}

// SameLocations says whether two replications have the same kind and
// locations (the part of a replication that cannot change).
func SameLocations(a, b []Replica) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	la, lb := locations(a), locations(b)
	return slices.Equal(la, lb)
}

func locations(rs []Replica) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Location
	}
	slices.Sort(out)
	return out
}

// need attaches to err the Secret Manager permission the call needed, as
// https://cloud.google.com/secret-manager/docs/access-control names it.
func need(err error, permission, resource string) error {
	return denied.Wrap(err, denied.Need{Service: "Secret Manager", Permission: permission, Resource: resource})
}
