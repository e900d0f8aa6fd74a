package gcpsecrets

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/fakegcp"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/retry"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/retry/retrytest"
)

const (
	project = "airflow-prod"
	owner   = "user:owner@example.com"
)

func newClient(t *testing.T) (*Client, *fakegcp.Server) {
	t.Helper()
	s := fakegcp.NewTestServer(t)
	if err := s.Seed(fakegcp.Seed{Projects: []fakegcp.SeedProject{{
		ProjectID: project, Bindings: []fakegcp.Binding{{Role: "roles/secretmanager.admin", Members: []string{owner}}},
	}}}); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &oauth2.Transport{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: s.AccessTokenFor(owner)})}}
	c, err := NewClient(context.Background(), hc, s.URL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func TestCheckID(t *testing.T) {
	for _, ok := range []string{"airflow-connections-my_db", "a", strings.Repeat("a", MaxIDLength)} {
		if err := CheckID(ok); err != nil {
			t.Errorf("CheckID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "airflow-connections-my.db", "a/b", strings.Repeat("a", MaxIDLength+1)} {
		if err := CheckID(bad); err == nil {
			t.Errorf("CheckID(%q) accepted", bad)
		}
	}
}

func TestCheckIDPartAndConnectionID(t *testing.T) {
	for _, ok := range []string{"", "airflow-connections", "-", "__"} {
		if err := CheckIDPart(ok); err != nil {
			t.Errorf("CheckIDPart(%q) = %v", ok, err)
		}
	}
	for _, ok := range []string{"my_db", "my-db", "A9"} {
		if err := CheckConnectionID(ok); err != nil {
			t.Errorf("CheckConnectionID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"a/b", "my.db", "a b", "ü"} {
		if err := CheckIDPart(bad); err == nil {
			t.Errorf("CheckIDPart(%q) accepted", bad)
		}
		if err := CheckConnectionID(bad); err == nil {
			t.Errorf("CheckConnectionID(%q) accepted", bad)
		}
	}
	if err := CheckConnectionID(""); err == nil {
		t.Error("CheckConnectionID accepted an empty ID")
	}
}

func TestKeyLocation(t *testing.T) {
	if loc, err := KeyLocation("projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k"); err != nil || loc != "europe-west1" {
		t.Fatalf("KeyLocation = %q, %v", loc, err)
	}
	for _, bad := range []string{"k", "projects/p/locations/global/keyRings/r", "arn:aws:kms:us-east-1:123456789012:key/x"} {
		if _, err := KeyLocation(bad); err == nil || !strings.Contains(err.Error(), KeyNameForm) {
			t.Errorf("KeyLocation(%q) = %v", bad, err)
		}
	}
}

func TestSecretLifecycle(t *testing.T) {
	ctx := context.Background()
	c, s := newClient(t)
	key := "projects/" + project + "/locations/global/keyRings/r/cryptoKeys/k1"
	secret, err := c.Create(ctx, CreateInput{Project: project, SecretID: "airflow-connections-x", KMSKeyName: key, Labels: map[string]string{"a": "b"}, Value: "http://one"})
	if err != nil {
		t.Fatal(err)
	}
	number, _ := s.ProjectNumber(project)
	if secret.Name != "projects/"+number+"/secrets/airflow-connections-x" || secret.KMSKeyName != key || secret.Replicas != nil {
		t.Fatalf("created %+v", secret)
	}
	if _, err := c.Create(ctx, CreateInput{Project: project, SecretID: "airflow-connections-x", Value: "x://"}); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v", err)
	}

	// Supersede adds a version and disables the one before it.
	if err := c.Supersede(ctx, secret.Name, "http://two"); err != nil {
		t.Fatal(err)
	}
	v, value, err := c.Latest(ctx, secret.Name)
	if err != nil || value != "http://two" || !strings.HasSuffix(v.Name, "/versions/2") {
		t.Fatalf("latest: %+v %q %v", v, value, err)
	}
	if vs := s.SecretVersions(project, "airflow-connections-x"); len(vs) != 2 || vs[0].State != fakegcp.VersionDisabled || vs[1].State != fakegcp.VersionEnabled {
		t.Fatalf("versions %+v", vs)
	}

	// A disabled latest version is not readable; superseding it leaves it be.
	if err := s.SetSecretVersionState(project, "airflow-connections-x", "latest", fakegcp.VersionDisabled); err != nil {
		t.Fatal(err)
	}
	if v, _, err := c.Latest(ctx, secret.Name); !errors.Is(err, ErrNoReadableVersion) || v == nil || v.State != fakegcp.VersionDisabled {
		t.Fatalf("latest disabled: %+v %v", v, err)
	}
	if err := c.Supersede(ctx, secret.Name, "http://three"); err != nil {
		t.Fatal(err)
	}
	if _, value, err := c.Latest(ctx, secret.Name); err != nil || value != "http://three" {
		t.Fatalf("after superseding a disabled version: %q %v", value, err)
	}

	key2 := strings.Replace(key, "k1", "k2", 1)
	if err := c.SetEncryption(ctx, secret.Name, key2, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.SetLabels(ctx, secret.Name, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, secret.Name); err != nil || got.KMSKeyName != key2 || len(got.Labels) != 0 {
		t.Fatalf("after patches: %+v %v", got, err)
	}
	if err := c.SetEncryption(ctx, secret.Name, "", []Replica{{Location: "us-east1"}}); err == nil || !strings.Contains(err.Error(), "immutable") {
		t.Fatalf("moving the secret: %v", err)
	}

	if err := c.Delete(ctx, secret.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, secret.Name); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := c.Delete(ctx, secret.Name); err != nil {
		t.Fatalf("deleting a deleted secret: %v", err)
	}
}

// Latest reports a secret whose versions are gone as unreadable, like one
// that never had a version.
func TestLatestWithoutVersions(t *testing.T) {
	ctx := context.Background()
	c, s := newClient(t)
	secret, err := c.Create(ctx, CreateInput{Project: project, SecretID: "empty", Value: "x://"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSecret(project, "empty"); err != nil {
		t.Fatal(err)
	}
	if v, _, err := c.Latest(ctx, secret.Name); !errors.Is(err, ErrNoReadableVersion) || v != nil {
		t.Fatalf("latest without versions: %+v, %v", v, err)
	}
}

func TestSameLocations(t *testing.T) {
	a := []Replica{{Location: "us-east1"}, {Location: "europe-west1", KMSKeyName: "k"}}
	b := []Replica{{Location: "europe-west1"}, {Location: "us-east1"}}
	if !SameLocations(a, b) || SameLocations(a, nil) || SameLocations(nil, []Replica{}) || !SameLocations(nil, nil) {
		t.Fatal("SameLocations disagrees")
	}
}

// newFaultyClient is newClient with the provider's retry transport over a
// transport that loses the answers lose selects.
func newFaultyClient(t *testing.T, lose *retrytest.LoseAnswers) (*Client, *fakegcp.Server) {
	t.Helper()
	_, s := newClient(t)
	sleep := func(context.Context, time.Duration) error { return nil }
	rt := retry.NewTransport(lose, retry.Policy{Idempotent: gcpiam.IdempotentRequest, Sleep: sleep})
	hc := &http.Client{Transport: &oauth2.Transport{Base: rt, Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: s.AccessTokenFor(owner)})}}
	c, err := NewClient(context.Background(), hc, s.URL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func isCreate(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/secrets")
}

func isAddVersion(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, ":addVersion") }

// A create whose answer is lost is sent again, answered 409, and resolved
// by reading: the secret is the one sent, without a version, so it is
// adopted and its version added once.
func TestCreate_lostAnswerIsAdopted(t *testing.T) {
	lose := &retrytest.LoseAnswers{Match: isCreate, Times: 1}
	c, s := newFaultyClient(t, lose)
	in := CreateInput{Project: project, SecretID: "airflow-connections-lost", Labels: map[string]string{"team": "data"}, Value: "http://one"}
	secret, err := c.Create(context.Background(), in)
	if err != nil {
		t.Fatalf("create after a lost answer: %v", err)
	}
	if lose.Lost() != 1 || lose.Seen() != 2 {
		t.Errorf("lost %d of %d creates; want 1 of 2 (the lost one and its repeat)", lose.Lost(), lose.Seen())
	}
	if vs := s.SecretVersions(project, in.SecretID); len(vs) != 1 {
		t.Errorf("versions %+v, want exactly one", vs)
	}
	if secret.Labels["team"] != "data" {
		t.Errorf("adopted %+v", secret)
	}
}

// A repeat answered 409 for a secret that is not this request's (it has a
// version already) is a conflict, not an adoption, even when its settings
// are the ones sent.
func TestCreate_repeatOnSomeoneElsesSecretIsAConflict(t *testing.T) {
	ctx := context.Background()
	lose := &retrytest.LoseAnswers{Match: isCreate, Times: 1}
	c, s := newFaultyClient(t, lose)
	// Someone else's secret, with the same settings and a version.
	if _, err := c.Create(ctx, CreateInput{Project: project, SecretID: "taken", Value: "x://"}); err != nil {
		t.Fatal(err)
	}
	lose.Times = 2 // lose the next create's answer too
	_, err := c.Create(ctx, CreateInput{Project: project, SecretID: "taken", Value: "y://"})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists: the existing secret has a version, it is not this request's", err)
	}
	if vs := s.SecretVersions(project, "taken"); len(vs) != 1 {
		t.Errorf("versions %+v, want the first create's one only", vs)
	}
}

// An addVersion whose answer is lost is not sent again blindly: the latest
// version is read and holds the value, so it is taken as done.
func TestAddVersion_lostAnswerIsNotDoubled(t *testing.T) {
	lose := &retrytest.LoseAnswers{Match: isAddVersion, Times: 1}
	c, s := newFaultyClient(t, lose)
	if _, err := c.Create(context.Background(), CreateInput{Project: project, SecretID: "once", Value: "http://one"}); err != nil {
		t.Fatal(err)
	}
	if vs := s.SecretVersions(project, "once"); len(vs) != 1 || lose.Seen() != 1 {
		t.Errorf("versions %+v after %d addVersion calls; want one of each", vs, lose.Seen())
	}
}
