package fakegcp

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	secretmanager "google.golang.org/api/secretmanager/v1"
)

// The Secret Manager tests drive the fake with Google's own generated Go
// client, as the provider does.

func secretsClient(t *testing.T, s *Server, tok string) *secretmanager.Service {
	t.Helper()
	svc, err := secretmanager.NewService(context.Background(), option.WithEndpoint(s.URL()+"/"), tokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func wantSecretError(t *testing.T, err error, code int, status, contains string) {
	t.Helper()
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != code || !strings.Contains(gerr.Body, status) || !strings.Contains(gerr.Message, contains) {
		t.Fatalf("got %v, want %d %s containing %q", err, code, status, contains)
	}
}

func automatic() *secretmanager.Replication {
	return &secretmanager.Replication{Automatic: &secretmanager.Automatic{}}
}

func payload(s string) *secretmanager.AddSecretVersionRequest {
	return &secretmanager.AddSecretVersionRequest{Payload: &secretmanager.SecretPayload{
		Data: base64.StdEncoding.EncodeToString([]byte(s)), DataCrc32c: int64(crc32.Checksum([]byte(s), castagnoli)),
		ForceSendFields: []string{"DataCrc32c"},
	}}
}

func TestSecretCreateRules(t *testing.T) {
	s := newSeeded(t, nil)
	sm := secretsClient(t, s, s.AccessTokenFor(admin))
	parent := "projects/" + testProject
	number, _ := s.ProjectNumber(testProject)

	created, err := sm.Projects.Secrets.Create(parent, &secretmanager.Secret{Replication: automatic(), Labels: map[string]string{"team": "data"}}).
		SecretId("airflow-connections-my_db").Do()
	if err != nil {
		t.Fatal(err)
	}
	if created.Name != "projects/"+number+"/secrets/airflow-connections-my_db" || created.Etag == "" || created.CreateTime == "" || created.Labels["team"] != "data" {
		t.Fatalf("created %+v", created)
	}
	_, err = sm.Projects.Secrets.Create(parent, &secretmanager.Secret{Replication: automatic()}).SecretId("airflow-connections-my_db").Do()
	wantSecretError(t, err, http.StatusConflict, "ALREADY_EXISTS", "already exists")

	for _, tc := range []struct {
		name, id string
		repl     *secretmanager.Replication
		want     string
	}{
		{"dot in the ID", "airflow-connections-my.db", automatic(), "Invalid secret ID"},
		{"no replication", "x1", nil, "exactly one of automatic and userManaged"},
		{"both replications", "x2", &secretmanager.Replication{Automatic: &secretmanager.Automatic{}, UserManaged: &secretmanager.UserManaged{Replicas: []*secretmanager.Replica{{Location: "us-east1"}}}}, "exactly one"},
		{"no replicas", "x3", &secretmanager.Replication{UserManaged: &secretmanager.UserManaged{}}, "must not be empty"},
		{"not a key", "x4", &secretmanager.Replication{Automatic: &secretmanager.Automatic{CustomerManagedEncryption: &secretmanager.CustomerManagedEncryption{KmsKeyName: "my-key"}}}, "is not a Cloud KMS key name"},
		{"regional key, automatic", "x5", &secretmanager.Replication{Automatic: &secretmanager.Automatic{CustomerManagedEncryption: &secretmanager.CustomerManagedEncryption{
			KmsKeyName: "projects/p/locations/us-east1/keyRings/r/cryptoKeys/k"}}}, "must be in location global"},
		{"key in another location", "x6", &secretmanager.Replication{UserManaged: &secretmanager.UserManaged{Replicas: []*secretmanager.Replica{{Location: "us-east1",
			CustomerManagedEncryption: &secretmanager.CustomerManagedEncryption{KmsKeyName: "projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k"}}}}}, "replica's location us-east1"},
		{"duplicate location", "x7", &secretmanager.Replication{UserManaged: &secretmanager.UserManaged{Replicas: []*secretmanager.Replica{{Location: "us-east1"}, {Location: "us-east1"}}}}, "more than once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sm.Projects.Secrets.Create(parent, &secretmanager.Secret{Replication: tc.repl}).SecretId(tc.id).Do()
			wantSecretError(t, err, http.StatusBadRequest, "INVALID_ARGUMENT", tc.want)
		})
	}
}

func TestSecretVersions(t *testing.T) {
	s := newSeeded(t, nil)
	sm := secretsClient(t, s, s.AccessTokenFor(admin))
	secret, err := sm.Projects.Secrets.Create("projects/"+testProject, &secretmanager.Secret{Replication: automatic()}).SecretId("conn").Do()
	if err != nil {
		t.Fatal(err)
	}
	// No version yet: "latest" does not exist.
	_, err = sm.Projects.Secrets.Versions.Access(secret.Name + "/versions/latest").Do()
	wantSecretError(t, err, http.StatusNotFound, "NOT_FOUND", "not found")

	v1, err := sm.Projects.Secrets.AddVersion(secret.Name, payload("first")).Do()
	if err != nil {
		t.Fatal(err)
	}
	if v1.Name != secret.Name+"/versions/1" || v1.State != VersionEnabled || !v1.ClientSpecifiedPayloadChecksum {
		t.Fatalf("first version %+v", v1)
	}
	bad := payload("second")
	bad.Payload.DataCrc32c++
	_, err = sm.Projects.Secrets.AddVersion(secret.Name, bad).Do()
	wantSecretError(t, err, http.StatusBadRequest, "INVALID_ARGUMENT", "Checksum mismatch")
	if _, err := sm.Projects.Secrets.AddVersion(secret.Name, payload("second")).Do(); err != nil {
		t.Fatal(err)
	}

	// "latest" is the newest version; access returns its resolved name.
	got, err := sm.Projects.Secrets.Versions.Access(secret.Name + "/versions/latest").Do()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := base64.StdEncoding.DecodeString(got.Payload.Data)
	if got.Name != secret.Name+"/versions/2" || string(data) != "second" || got.Payload.DataCrc32c != int64(crc32.Checksum(data, castagnoli)) {
		t.Fatalf("latest: %s %q", got.Name, data)
	}

	// A disabled latest version cannot be read, even through the alias.
	if _, err := sm.Projects.Secrets.Versions.Disable(secret.Name+"/versions/2", &secretmanager.DisableSecretVersionRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = sm.Projects.Secrets.Versions.Access(secret.Name + "/versions/latest").Do()
	wantSecretError(t, err, http.StatusBadRequest, "FAILED_PRECONDITION", "is in DISABLED state")
	if v, err := sm.Projects.Secrets.Versions.Get(secret.Name + "/versions/latest").Do(); err != nil || v.State != VersionDisabled || v.Name != secret.Name+"/versions/2" {
		t.Fatalf("get latest: %+v, %v", v, err)
	}
	if _, err := sm.Projects.Secrets.Versions.Enable(secret.Name+"/versions/2", &secretmanager.EnableSecretVersionRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	// Destroying is final.
	if _, err := sm.Projects.Secrets.Versions.Destroy(secret.Name+"/versions/1", &secretmanager.DestroySecretVersionRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = sm.Projects.Secrets.Versions.Enable(secret.Name+"/versions/1", &secretmanager.EnableSecretVersionRequest{}).Do()
	wantSecretError(t, err, http.StatusBadRequest, "FAILED_PRECONDITION", "DESTROYED")
	if _, ok := s.SecretPayload(testProject, "conn", "1"); ok {
		t.Fatal("a destroyed version still has its payload")
	}
	_, err = sm.Projects.Secrets.Versions.Disable(secret.Name+"/versions/2", &secretmanager.DisableSecretVersionRequest{Etag: `"stale"`}).Do()
	wantSecretError(t, err, http.StatusConflict, "ABORTED", "etag")

	// Deleting the secret removes its versions.
	if _, err := sm.Projects.Secrets.Delete(secret.Name).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = sm.Projects.Secrets.Versions.Get(secret.Name + "/versions/2").Do()
	wantSecretError(t, err, http.StatusNotFound, "NOT_FOUND", "not found")
}

func TestSecretPatch(t *testing.T) {
	s := newSeeded(t, nil)
	sm := secretsClient(t, s, s.AccessTokenFor(admin))
	regional := func(loc, key string) *secretmanager.Replication {
		r := &secretmanager.Replica{Location: loc}
		if key != "" {
			r.CustomerManagedEncryption = &secretmanager.CustomerManagedEncryption{KmsKeyName: "projects/p/locations/" + loc + "/keyRings/r/cryptoKeys/" + key}
		}
		return &secretmanager.Replication{UserManaged: &secretmanager.UserManaged{Replicas: []*secretmanager.Replica{r}}}
	}
	secret, err := sm.Projects.Secrets.Create("projects/"+testProject, &secretmanager.Secret{Replication: regional("us-east1", "")}).SecretId("patched").Do()
	if err != nil {
		t.Fatal(err)
	}
	// Only the keys of a replication may change.
	patched, err := sm.Projects.Secrets.Patch(secret.Name, &secretmanager.Secret{Replication: regional("us-east1", "k2")}).UpdateMask("replication").Do()
	if err != nil {
		t.Fatal(err)
	}
	if k := patched.Replication.UserManaged.Replicas[0].CustomerManagedEncryption.KmsKeyName; !strings.HasSuffix(k, "/cryptoKeys/k2") || patched.Etag == secret.Etag {
		t.Fatalf("after patch: key %q, etag %s", k, patched.Etag)
	}
	_, err = sm.Projects.Secrets.Patch(secret.Name, &secretmanager.Secret{Replication: regional("europe-west1", "")}).UpdateMask("replication").Do()
	wantSecretError(t, err, http.StatusBadRequest, "INVALID_ARGUMENT", "immutable")
	_, err = sm.Projects.Secrets.Patch(secret.Name, &secretmanager.Secret{Replication: automatic()}).UpdateMask("replication").Do()
	wantSecretError(t, err, http.StatusBadRequest, "INVALID_ARGUMENT", "immutable")
	_, err = sm.Projects.Secrets.Patch(secret.Name, &secretmanager.Secret{Labels: map[string]string{"a": "b"}}).Do()
	wantSecretError(t, err, http.StatusBadRequest, "INVALID_ARGUMENT", "updateMask")
	_, err = sm.Projects.Secrets.Patch(secret.Name, &secretmanager.Secret{}).UpdateMask("ttl").Do()
	wantSecretError(t, err, http.StatusBadRequest, "INVALID_ARGUMENT", "updateMask")
	_, err = sm.Projects.Secrets.Patch(secret.Name, &secretmanager.Secret{Labels: map[string]string{"a": "b"}, Etag: `"stale"`}).UpdateMask("labels").Do()
	wantSecretError(t, err, http.StatusConflict, "ABORTED", "etag")
	if got, err := sm.Projects.Secrets.Patch(secret.Name, &secretmanager.Secret{Labels: map[string]string{"a": "b"}}).UpdateMask("labels").Do(); err != nil || got.Labels["a"] != "b" {
		t.Fatalf("labels: %+v, %v", got, err)
	}
}

func TestSecretPermissions(t *testing.T) {
	s := newSeeded(t, nil)
	number, _ := s.ProjectNumber(testProject)
	if err := s.SetProjectBindings(testProject, []Binding{
		{Role: "roles/owner", Members: []string{admin}},
		{Role: "roles/secretmanager.secretAccessor", Members: []string{alice}},
	}); err != nil {
		t.Fatal(err)
	}
	sm := secretsClient(t, s, s.AccessTokenFor(admin))
	secret, err := sm.Projects.Secrets.Create("projects/"+testProject, &secretmanager.Secret{Replication: automatic()}).SecretId("guarded").Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sm.Projects.Secrets.AddVersion(secret.Name, payload("v")).Do(); err != nil {
		t.Fatal(err)
	}
	accessor := secretsClient(t, s, s.AccessTokenFor(alice))
	if _, err := accessor.Projects.Secrets.Versions.Access("projects/" + testProject + "/secrets/guarded/versions/latest").Do(); err != nil {
		t.Fatalf("an accessor cannot access: %v", err)
	}
	_, err = accessor.Projects.Secrets.Get("projects/" + testProject + "/secrets/guarded").Do()
	wantSecretError(t, err, http.StatusForbidden, "PERMISSION_DENIED", "Permission 'secretmanager.secrets.get' denied")
	_, err = accessor.Projects.Secrets.AddVersion("projects/"+number+"/secrets/guarded", payload("x")).Do()
	wantSecretError(t, err, http.StatusForbidden, "PERMISSION_DENIED", "secretmanager.versions.add")
	// Denied and missing look alike to a caller without access.
	_, err = accessor.Projects.Secrets.Get("projects/" + testProject + "/secrets/missing").Do()
	wantSecretError(t, err, http.StatusForbidden, "PERMISSION_DENIED", "or it may not exist")
}

func TestSecretOutOfBandHelpers(t *testing.T) {
	s := newSeeded(t, nil)
	sm := secretsClient(t, s, s.AccessTokenFor(admin))
	if _, err := sm.Projects.Secrets.Create("projects/"+testProject, &secretmanager.Secret{Replication: automatic()}).SecretId("oob").Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddSecretVersion(testProject, "oob", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSecretVersionState(testProject, "oob", "latest", VersionDisabled); err != nil {
		t.Fatal(err)
	}
	if vs := s.SecretVersions(testProject, "oob"); len(vs) != 1 || vs[0].State != VersionDisabled {
		t.Fatalf("versions %+v", vs)
	}
	if err := s.SetSecretLabels(testProject, "oob", map[string]string{"x": "y"}); err != nil {
		t.Fatal(err)
	}
	if sec, ok := s.Secret(testProject, "oob"); !ok || sec.Labels["x"] != "y" {
		t.Fatalf("secret %+v", sec)
	}
	if err := s.DeleteSecret(testProject, "oob"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Secret(testProject, "oob"); ok {
		t.Fatal("deleted secret still there")
	}
}

func TestSecretLabelRules(t *testing.T) {
	s := newSeeded(t, nil)
	sm := secretsClient(t, s, s.AccessTokenFor(admin))
	create := func(id string, labels map[string]string) error {
		_, err := sm.Projects.Secrets.Create("projects/"+testProject, &secretmanager.Secret{Replication: automatic(), Labels: labels}).SecretId(id).Do()
		return err
	}
	for i, ok := range []map[string]string{
		{"team": "data", "env_1": "", "a-b": "x_y-1"},
		{"équipe": "données"}, // international lowercase letters are allowed
		{strings.Repeat("k", 63): strings.Repeat("v", 63)},
	} {
		if err := create(fmt.Sprintf("labels-ok-%d", i), ok); err != nil {
			t.Errorf("labels %v: %v", ok, err)
		}
	}
	for i, bad := range []map[string]string{
		{"Team": "data"},                  // upper case
		{"1team": "data"},                 // starts with a digit
		{"team": "Data"},                  // value with upper case
		{"te.am": "data"},                 // dot
		{strings.Repeat("k", 64): "v"},    // key too long
		{"team": strings.Repeat("v", 64)}, // value too long
		{"": "v"},                         // empty key
	} {
		wantSecretError(t, create(fmt.Sprintf("labels-bad-%d", i), bad), http.StatusBadRequest, "INVALID_ARGUMENT", "label")
	}
	many := map[string]string{}
	for i := range 65 {
		many[fmt.Sprintf("k%d", i)] = ""
	}
	wantSecretError(t, create("labels-many", many), http.StatusBadRequest, "INVALID_ARGUMENT", "at most 64 labels")
	secret, err := sm.Projects.Secrets.Create("projects/"+testProject, &secretmanager.Secret{Replication: automatic()}).SecretId("labels-patch").Do()
	if err != nil {
		t.Fatal(err)
	}
	_, err = sm.Projects.Secrets.Patch(secret.Name, &secretmanager.Secret{Labels: map[string]string{"Team": "x"}}).UpdateMask("labels").Do()
	wantSecretError(t, err, http.StatusBadRequest, "INVALID_ARGUMENT", "label key")
}
