package awssecrets

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/retry/retrytest"
)

func TestMain(m *testing.M) { os.Exit(acctest.Main(m)) }

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"airflow/connections/my_db", "a", "x+y=z.@-_/", strings.Repeat("a", MaxNameLength)} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "airflow/connections/my db", "a:b", "ünïcode", strings.Repeat("a", MaxNameLength+1)} {
		if err := CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
}

func TestCheckConnectionID(t *testing.T) {
	for _, ok := range []string{"my_db", "a", "my.db-2", "A_9"} {
		if err := CheckConnectionID(ok); err != nil {
			t.Errorf("CheckConnectionID(%q) = %v", ok, err)
		}
	}
	// Airflow allows Unicode letters, Secrets Manager does not; neither
	// allows "/", which a name may hold.
	for _, bad := range []string{"", "my db", "données", "a/b", "a+b"} {
		if err := CheckConnectionID(bad); err == nil {
			t.Errorf("CheckConnectionID(%q) accepted", bad)
		}
	}
}

func TestCheckNamePart(t *testing.T) {
	for _, ok := range []string{"", "airflow/connections", "/", "x+y=z.@-_"} {
		if err := CheckNamePart(ok); err != nil {
			t.Errorf("CheckNamePart(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"a:b", "a b", "ü"} {
		if err := CheckNamePart(bad); err == nil {
			t.Errorf("CheckNamePart(%q) accepted", bad)
		}
	}
}

func TestCheckKMSKeyID(t *testing.T) {
	for _, ok := range []string{
		"1234abcd-12ab-34cd-56ef-1234567890ab",
		"mrk-1234abcd12ab34cd56ef1234567890ab",
		"alias/airflow-connections",
		"arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/x",
	} {
		if err := CheckKMSKeyID(ok); err != nil {
			t.Errorf("CheckKMSKeyID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "my-key", "alias/", "arn:aws:iam::123456789012:role/x", "projects/p/locations/global/keyRings/r/cryptoKeys/k"} {
		if err := CheckKMSKeyID(bad); err == nil || !strings.Contains(err.Error(), "alias name") {
			t.Errorf("CheckKMSKeyID(%q) = %v, want an error listing the forms", bad, err)
		}
	}
}

func motoClient(t *testing.T) *Client {
	t.Helper()
	m := acctest.MotoServer(t)
	return NewClient(m.AWSConfig(), Endpoints{SecretsManager: m.URL, KMS: m.URL})
}

func TestSecretLifecycle(t *testing.T) {
	ctx := context.Background()
	c := motoClient(t)
	key, err := c.KMS.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyID := aws.ToString(key.KeyMetadata.KeyId)
	name := DefaultPrefix + DefaultSeparator + "lifecycle_" + strings.ToLower(t.Name()[4:9])

	s, err := c.Create(ctx, CreateInput{Name: name, Value: "http://h", KMSKeyID: keyID, Tags: map[string]string{"team": "data"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != name || s.Value != "http://h" || s.KMSKeyID != keyID || s.Tags["team"] != "data" {
		t.Fatalf("created %+v", s)
	}
	if _, err := c.Create(ctx, CreateInput{Name: name, Value: "x://"}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second create: %v", err)
	}

	first := s.VersionID
	if _, err := c.PutValue(ctx, s.ARN, "http://h2"); err != nil {
		t.Fatal(err)
	}
	if s, err = c.Read(ctx, s.ARN); err != nil || s.Value != "http://h2" || s.VersionID == first {
		t.Fatalf("after put: %+v, %v", s, err)
	}
	// The superseded version stays readable as AWSPREVIOUS.
	prev, err := c.SecretsManager.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.ARN), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || aws.ToString(prev.SecretString) != "http://h" {
		t.Fatalf("AWSPREVIOUS: %v, %v", prev, err)
	}

	if err := c.SetTags(ctx, s.ARN, s.Tags, map[string]string{"env": "prod"}); err != nil {
		t.Fatal(err)
	}
	if s, err = c.Read(ctx, s.ARN); err != nil || len(s.Tags) != 1 || s.Tags["env"] != "prod" {
		t.Fatalf("after tagging: %+v, %v", s, err)
	}

	arn, err := c.KeyARN(ctx, keyID)
	if err != nil || !strings.HasPrefix(arn, "arn:aws:kms:") {
		t.Fatalf("KeyARN: %q, %v", arn, err)
	}
	if same, err := c.SameKey(ctx, keyID, arn); err != nil || !same {
		t.Fatalf("SameKey(id, arn) = %v, %v", same, err)
	}
	if _, err := c.KeyARN(ctx, "alias/does-not-exist"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("KeyARN of a missing alias: %v", err)
	}

	// A recovery window makes the secret unreadable at once.
	if err := c.Delete(ctx, s.ARN, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(ctx, s.ARN); !errors.Is(err, ErrNotFound) {
		t.Fatalf("read after delete: %v", err)
	}
	if _, err := c.Create(ctx, CreateInput{Name: name, Value: "x://"}); err == nil || !strings.Contains(err.Error(), "scheduled for deletion") {
		t.Fatalf("create over a deleted secret: %v", err)
	}
	if err := c.Delete(ctx, s.ARN, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, s.ARN, 0); err != nil {
		t.Fatalf("deleting a deleted secret: %v", err)
	}
}

// A CreateSecret whose answer is lost is sent again by the SDK's retryer
// with the same ClientRequestToken, and Secrets Manager (here moto) takes
// the repeat as the same request: one secret, one version, no "already
// exists".
func TestCreate_lostAnswerIsTheSameRequest(t *testing.T) {
	m := acctest.MotoServer(t)
	proxy := retrytest.NewProxy(t, m.URL, func(r *http.Request) bool {
		return r.Header.Get("X-Amz-Target") == "secretsmanager.CreateSecret"
	}, 1)
	c := NewClient(awsiam.WithRetries(m.AWSConfig(), 10*time.Second), Endpoints{SecretsManager: proxy.URL, KMS: m.URL})
	name := DefaultPrefix + DefaultSeparator + "lost_create_" + NewRequestToken()[:8]
	s, err := c.Create(context.Background(), CreateInput{Name: name, Value: "http://h"})
	if err != nil {
		t.Fatalf("create after a lost answer: %v", err)
	}
	if proxy.Lose.Lost() != 1 || proxy.Lose.Seen() != 2 {
		t.Errorf("lost %d of %d creates; want 1 of 2 (the SDK's repeat)", proxy.Lose.Lost(), proxy.Lose.Seen())
	}
	versions, err := c.SecretsManager.ListSecretVersionIds(context.Background(), &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(s.ARN)})
	if err != nil || len(versions.Versions) != 1 || s.Value != "http://h" {
		t.Fatalf("versions %+v, %v; secret %+v: want one version", versions, err, s)
	}
	_ = c.Delete(context.Background(), s.ARN, 0)
}

func TestNewRequestToken(t *testing.T) {
	a, b := NewRequestToken(), NewRequestToken()
	if a == b || len(a) != 36 || a[14] != '4' {
		t.Errorf("tokens %q, %q: want two different version 4 UUIDs", a, b)
	}
}
