// Package awssecrets keeps Airflow connections in AWS Secrets Manager, one
// secret per connection, named and encoded as Amazon's
// SecretsManagerBackend for Airflow reads them, and resolves the KMS keys
// that encrypt them. Client holds the Secrets Manager and KMS clients,
// built from an aws.Config the caller loads once. It knows nothing of
// Terraform.
package awssecrets

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/denied"
)

// Defaults of SecretsManagerBackend.
const (
	DefaultPrefix    = "airflow/connections"
	DefaultSeparator = "/"
	// MaxNameLength is Secrets Manager's limit on a secret name.
	MaxNameLength = 512
	// DefaultKMSKey is the AWS managed key Secrets Manager uses when a
	// secret names none.
	DefaultKMSKey = "alias/aws/secretsmanager"
)

// namePattern is the set of characters Secrets Manager allows in a name.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]*$`)

// NameChars describes namePattern for messages.
const NameChars = "ASCII letters, digits and /_+=.@-"

// connectionIDPattern is Airflow's rule for connection IDs, ^[\w.-]+$,
// within what a secret name allows: the connection IDs this package can
// name.
var connectionIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ConnectionIDChars describes connectionIDPattern for messages.
const ConnectionIDChars = "ASCII letters, digits, underscores, dots and hyphens"

// CheckConnectionID reports whether id is a connection ID that both Airflow
// and Secrets Manager allow in a secret name.
func CheckConnectionID(id string) error {
	if !connectionIDPattern.MatchString(id) {
		return fmt.Errorf("%q must be an Airflow connection ID of %s", id, ConnectionIDChars)
	}
	return nil
}

// CheckNamePart reports whether s may be part of a secret name.
func CheckNamePart(s string) error {
	if !namePattern.MatchString(s) {
		return fmt.Errorf("%q may contain only %s", s, NameChars)
	}
	return nil
}

// CheckName reports whether name is a valid secret name.
func CheckName(name string) error {
	if name == "" || len(name) > MaxNameLength {
		return fmt.Errorf("the secret name %q must be 1 to %d characters long (it has %d)", name, MaxNameLength, len(name))
	}
	return CheckNamePart(name)
}

var (
	keyIDPattern = regexp.MustCompile(`^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)
	aliasPattern = regexp.MustCompile(`^alias/[A-Za-z0-9/_-]{1,250}$`)
	keyARN       = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/(mrk-[0-9a-f]{32}|[0-9a-f-]{36})|alias/[A-Za-z0-9/_-]{1,250})$`)
)

// KMSKeyForms lists the forms CheckKMSKeyID accepts, for messages.
const KMSKeyForms = "a key ID (1234abcd-12ab-34cd-56ef-1234567890ab or mrk-...), a key ARN " +
	"(arn:aws:kms:REGION:ACCOUNT:key/ID), an alias name (alias/NAME) or an alias ARN (arn:aws:kms:REGION:ACCOUNT:alias/NAME)"

// CheckKMSKeyID reports whether id names a KMS key in a form Secrets
// Manager accepts.
func CheckKMSKeyID(id string) error {
	if keyIDPattern.MatchString(id) || aliasPattern.MatchString(id) || keyARN.MatchString(id) {
		return nil
	}
	return fmt.Errorf("%q is not a KMS key: expected %s", id, KMSKeyForms)
}

// Secret is what the provider knows of one secret.
type Secret struct {
	ARN      string
	Name     string
	KMSKeyID string // as Secrets Manager reports it; "" for the AWS managed key
	Tags     map[string]string
	// Value is the AWSCURRENT version's string.
	Value     string
	VersionID string
}

// ErrNotFound is returned when a secret does not exist or is scheduled for
// deletion: SecretsManagerBackend can read neither.
var ErrNotFound = errors.New("secret not found")

// ErrExists is returned by Create when the name is taken, also by a secret
// scheduled for deletion.
var ErrExists = errors.New("secret exists")

// Endpoints override the Secrets Manager and KMS endpoints, for tests and
// sandboxes. Empty means the SDK's endpoint for the configuration's region.
type Endpoints struct {
	SecretsManager string
	KMS            string
}

// Client keeps connections in Secrets Manager.
type Client struct {
	SecretsManager *secretsmanager.Client
	KMS            *kms.Client
}

// NewClient builds the Secrets Manager and KMS clients from cfg, which is
// shared with the other AWS service packages; it calls no AWS API.
func NewClient(cfg aws.Config, endpoints Endpoints) *Client {
	return &Client{
		SecretsManager: secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
			if endpoints.SecretsManager != "" {
				o.BaseEndpoint = aws.String(endpoints.SecretsManager)
			}
		}),
		KMS: kms.NewFromConfig(cfg, func(o *kms.Options) {
			if endpoints.KMS != "" {
				o.BaseEndpoint = aws.String(endpoints.KMS)
			}
		}),
	}
}

// CreateInput is one new secret.
type CreateInput struct {
	Name     string
	Value    string
	KMSKeyID string
	Tags     map[string]string
	// RequestToken is the ClientRequestToken (32 to 64 characters) that
	// makes a repeat of this create the same request; empty: a new one.
	RequestToken string
}

// Create creates the secret with its first version.
//
// CreateSecret is not idempotent by itself, and the SDK sends it again
// after a lost answer. It carries a ClientRequestToken, the ID of the
// first version, so that a repeat is the same request: Secrets Manager
// ignores a request whose token is already the ID of a version with the
// same value ("If a version with this value already exists and the version
// SecretString and SecretBinary values are the same as those in the
// request, then the request is ignored",
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html#SecretsManager-CreateSecret-request-ClientRequestToken).
// moto 5 does the same (secretsmanager/models.py,
// _check_with_existing_secrets_and_versions).
func (c *Client) Create(ctx context.Context, in CreateInput) (*Secret, error) {
	token := in.RequestToken
	if token == "" {
		token = NewRequestToken()
	}
	req := &secretsmanager.CreateSecretInput{
		Name:               aws.String(in.Name),
		SecretString:       aws.String(in.Value),
		KmsKeyId:           optional(in.KMSKeyID),
		ClientRequestToken: aws.String(token),
	}
	for _, k := range slices.Sorted(maps.Keys(in.Tags)) {
		req.Tags = append(req.Tags, smtypes.Tag{Key: aws.String(k), Value: aws.String(in.Tags[k])})
	}
	out, err := c.SecretsManager.CreateSecret(ctx, req)
	if err != nil {
		var exists *smtypes.ResourceExistsException
		var invalid *smtypes.InvalidRequestException
		// AWS answers InvalidRequest for a name scheduled for deletion, and
		// moto ResourceExists; either way, say which it is.
		if errors.As(err, &exists) || errors.As(err, &invalid) && strings.Contains(strings.ToLower(invalid.ErrorMessage()), "scheduled for deletion") {
			d, derr := c.SecretsManager.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(in.Name)})
			if derr == nil && d.DeletedDate != nil {
				return nil, fmt.Errorf("%w: a secret named %q is scheduled for deletion on %s; restore it (aws secretsmanager restore-secret) and import it, "+
					"or delete it for good (aws secretsmanager delete-secret --force-delete-without-recovery) first: %w",
					ErrExists, in.Name, d.DeletedDate.UTC().Format("2006-01-02"), err)
			}
			return nil, fmt.Errorf("%w: a secret named %q already exists: %w", ErrExists, in.Name, err)
		}
		return nil, fmt.Errorf("creating secret %q: %w", in.Name, need(err, "secretsmanager:CreateSecret", "secret "+in.Name, withKey(in.KMSKeyID, "kms:GenerateDataKey", "kms:Decrypt")...))
	}
	return c.Read(ctx, aws.ToString(out.ARN))
}

// NewRequestToken is a random ClientRequestToken: a version 4 UUID, as the
// SDK makes when none is given.
func NewRequestToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Read returns the secret and its AWSCURRENT value. A secret that does not
// exist, is scheduled for deletion or has no current value is ErrNotFound.
func (c *Client) Read(ctx context.Context, id string) (*Secret, error) {
	s, err := c.Describe(ctx, id)
	if err != nil {
		return nil, err
	}
	v, err := c.SecretsManager.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.ARN)})
	if err != nil {
		if isNotFound(err) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("reading the current value of secret %q: %w", s.Name, need(err, "secretsmanager:GetSecretValue", s.ARN, withKey(s.KMSKeyID, "kms:Decrypt")...))
	}
	s.Value = aws.ToString(v.SecretString)
	s.VersionID = aws.ToString(v.VersionId)
	return s, nil
}

// PutValue adds a version that becomes AWSCURRENT. Secrets Manager moves
// AWSPREVIOUS to the version it supersedes, which stays readable until the
// secret is deleted; Secrets Manager has no disabled state for versions.
// The SDK fills ClientRequestToken itself, once per call, so its own
// retries of this call write one version.
func (c *Client) PutValue(ctx context.Context, arn, value string) (string, error) {
	out, err := c.SecretsManager.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(arn),
		SecretString: aws.String(value),
	})
	if err != nil {
		return "", fmt.Errorf("writing a new version of secret %q: %w", arn, need(err, "secretsmanager:PutSecretValue", arn, withKey("the secret's customer managed key, if it has one", "kms:GenerateDataKey")...))
	}
	return aws.ToString(out.VersionId), nil
}

// SetKMSKey changes the key that encrypts new versions; "" means the AWS
// managed key.
func (c *Client) SetKMSKey(ctx context.Context, arn, keyID string) error {
	if keyID == "" {
		keyID = DefaultKMSKey
	}
	_, err := c.SecretsManager.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: aws.String(arn), KmsKeyId: aws.String(keyID)})
	if err != nil {
		return fmt.Errorf("changing the KMS key of secret %q: %w", arn, need(err, "secretsmanager:UpdateSecret", arn, withKey(customerKey(keyID), "kms:GenerateDataKey", "kms:Decrypt")...))
	}
	return nil
}

// SetTags makes the secret's tags exactly want.
func (c *Client) SetTags(ctx context.Context, arn string, have, want map[string]string) error {
	var remove []string
	for k := range have {
		if _, ok := want[k]; !ok {
			remove = append(remove, k)
		}
	}
	slices.Sort(remove)
	if len(remove) > 0 {
		if _, err := c.SecretsManager.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: aws.String(arn), TagKeys: remove}); err != nil {
			return fmt.Errorf("removing tags from secret %q: %w", arn, need(err, "secretsmanager:UntagResource", arn))
		}
	}
	var add []smtypes.Tag
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if v, ok := have[k]; !ok || v != want[k] {
			add = append(add, smtypes.Tag{Key: aws.String(k), Value: aws.String(want[k])})
		}
	}
	if len(add) > 0 {
		if _, err := c.SecretsManager.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(arn), Tags: add}); err != nil {
			return fmt.Errorf("tagging secret %q: %w", arn, need(err, "secretsmanager:TagResource", arn))
		}
	}
	return nil
}

// Delete deletes the secret with every version: after recoveryWindowDays
// (7 to 30), or at once when it is 0. A missing secret is not an error.
func (c *Client) Delete(ctx context.Context, arn string, recoveryWindowDays int64) error {
	in := &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn)}
	if recoveryWindowDays == 0 {
		in.ForceDeleteWithoutRecovery = aws.Bool(true)
	} else {
		in.RecoveryWindowInDays = aws.Int64(recoveryWindowDays)
	}
	if _, err := c.SecretsManager.DeleteSecret(ctx, in); err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting secret %q: %w", arn, need(err, "secretsmanager:DeleteSecret", arn))
	}
	return nil
}

// KeyARN resolves a key ID, key ARN, alias name or alias ARN to the key's
// ARN. A key that does not exist is an error that says so.
func (c *Client) KeyARN(ctx context.Context, keyID string) (string, error) {
	out, err := c.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		var nf *kmstypes.NotFoundException
		if errors.As(err, &nf) {
			return "", fmt.Errorf("KMS key %q does not exist in this account and region: %w", keyID, err)
		}
		return "", fmt.Errorf("looking up KMS key %q: %w", keyID, denied.Wrap(err, denied.Need{Service: "AWS KMS", Permission: "kms:DescribeKey", Resource: keyID}))
	}
	if out.KeyMetadata == nil {
		return "", fmt.Errorf("looking up KMS key %q: no key metadata returned", keyID)
	}
	return aws.ToString(out.KeyMetadata.Arn), nil
}

// SameKey says whether two key references name the same key, resolving
// them through KMS only when they differ as text. "" is the AWS managed
// key.
func (c *Client) SameKey(ctx context.Context, a, b string) (bool, error) {
	if a == b {
		return true, nil
	}
	// Secrets Manager omits the AWS managed key; only its alias names it.
	if a == "" || b == "" {
		return a+b == DefaultKMSKey, nil
	}
	arnA, err := c.KeyARN(ctx, a)
	if err != nil {
		return false, err
	}
	arnB, err := c.KeyARN(ctx, b)
	if err != nil {
		return false, err
	}
	return arnA == arnB, nil
}

// Describe is what Read knows of a secret but its value.
func (c *Client) Describe(ctx context.Context, id string) (*Secret, error) {
	d, err := c.SecretsManager.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		if isNotFound(err) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("describing secret %q: %w", id, need(err, "secretsmanager:DescribeSecret", id))
	}
	if d.DeletedDate != nil {
		return nil, ErrNotFound
	}
	s := &Secret{
		ARN:      aws.ToString(d.ARN),
		Name:     aws.ToString(d.Name),
		KMSKeyID: aws.ToString(d.KmsKeyId),
		Tags:     map[string]string{},
	}
	for _, t := range d.Tags {
		s.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return s, nil
}

func isNotFound(err error) bool {
	var nf *smtypes.ResourceNotFoundException
	return errors.As(err, &nf)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// need attaches to err the IAM action the call needed, as the Service
// Authorization Reference for Secrets Manager names it
// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html).
func need(err error, action, resource string, also ...denied.Need) error {
	return denied.Wrap(err, denied.Need{Service: "AWS Secrets Manager", Permission: action, Resource: resource, Also: also})
}

// withKey is what a call on a secret encrypted with a customer managed key
// needs on that key besides
// (https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html):
// nothing for the AWS managed key (key "").
func withKey(key string, actions ...string) []denied.Need {
	if key == "" || key == DefaultKMSKey {
		return nil
	}
	out := make([]denied.Need, 0, len(actions))
	for _, a := range actions {
		out = append(out, denied.Need{Service: "AWS KMS", Permission: a, Resource: key})
	}
	return out
}

// customerKey is keyID, or "" for the AWS managed key.
func customerKey(keyID string) string {
	if keyID == DefaultKMSKey {
		return ""
	}
	return keyID
}
