package awssecrets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/awspolicy"
)

// What the access proof of a secret reads: the policies that decide who
// may read it, and a read as another identity.

// ErrDenied is returned by ReadValue when Secrets Manager refuses the read.
var ErrDenied = errors.New("access denied")

// As is a client of the same endpoints acting with creds.
func (c *Client) As(creds aws.CredentialsProvider) *Client {
	return &Client{
		SecretsManager: secretsmanager.New(c.SecretsManager.Options(), func(o *secretsmanager.Options) { o.Credentials = creds }),
		KMS:            kms.New(c.KMS.Options(), func(o *kms.Options) { o.Credentials = creds }),
	}
}

// ReadValue reads the secret's current value, as SecretsManagerBackend
// does, and discards it: ErrDenied when refused, ErrNotFound when it does
// not exist.
func (c *Client) ReadValue(ctx context.Context, id string) error {
	_, err := c.SecretsManager.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	var ae smithy.APIError
	switch {
	case err == nil:
		return nil
	case isNotFound(err):
		return ErrNotFound
	case errors.As(err, &ae) && (ae.ErrorCode() == "AccessDeniedException" || ae.ErrorCode() == "AccessDenied"):
		return fmt.Errorf("%w: %s", ErrDenied, ae.ErrorMessage())
	}
	return fmt.Errorf("reading secret %q: %w", id, err)
}

// IdentityPolicies reads a role's inline policies and the default versions
// of its attached managed policies.
func IdentityPolicies(ctx context.Context, api *iam.Client, roleARN string) ([]awspolicy.NamedPolicy, error) {
	role := roleARN[strings.LastIndex(roleARN, "/")+1:]
	var out []awspolicy.NamedPolicy
	inline := iam.NewListRolePoliciesPaginator(api, &iam.ListRolePoliciesInput{RoleName: aws.String(role)})
	for inline.HasMorePages() {
		page, err := inline.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the inline policies of role %s: %w", role, err)
		}
		for _, name := range page.PolicyNames {
			p, err := api.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
			if err != nil {
				return nil, fmt.Errorf("reading inline policy %s of role %s: %w", name, role, err)
			}
			np, err := named(fmt.Sprintf("inline policy %q of role %s", name, role), aws.ToString(p.PolicyDocument))
			if err != nil {
				return nil, err
			}
			out = append(out, np)
		}
	}
	attached := iam.NewListAttachedRolePoliciesPaginator(api, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
	for attached.HasMorePages() {
		page, err := attached.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the managed policies of role %s: %w", role, err)
		}
		for _, a := range page.AttachedPolicies {
			np, err := managedPolicy(ctx, api, aws.ToString(a.PolicyArn), role)
			if err != nil {
				return nil, err
			}
			out = append(out, np)
		}
	}
	return out, nil
}

func managedPolicy(ctx context.Context, api *iam.Client, arn, role string) (awspolicy.NamedPolicy, error) {
	p, err := api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil || p.Policy == nil {
		return awspolicy.NamedPolicy{}, fmt.Errorf("reading managed policy %s of role %s: %w", arn, role, err)
	}
	v, err := api.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: p.Policy.DefaultVersionId})
	if err != nil || v.PolicyVersion == nil {
		return awspolicy.NamedPolicy{}, fmt.Errorf("reading the default version of managed policy %s: %w", arn, err)
	}
	return named(fmt.Sprintf("managed policy %s attached to role %s", arn, role), aws.ToString(v.PolicyVersion.Document))
}

func named(name, doc string) (awspolicy.NamedPolicy, error) {
	// IAM returns documents URL-encoded; Parse decodes them.
	p, err := awspolicy.Parse(doc)
	if err != nil {
		return awspolicy.NamedPolicy{}, fmt.Errorf("%s: %w", name, err)
	}
	return awspolicy.NamedPolicy{Name: name, Doc: p}, nil
}

// KeyAccess is how a role may decrypt one secret's versions with its KMS
// key.
type KeyAccess struct {
	KeyARN string
	// Managed: the AWS managed key aws/secretsmanager, whose key policy lets
	// every principal of the account decrypt through Secrets Manager
	// (https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html).
	Managed bool
	// Grants are the IDs of grants to the role for kms:Decrypt whose
	// constraint every version of the secret meets.
	Grants []string
	// Policy is the key policy.
	Policy *awspolicy.Document
}

// KeyAccessOf reads how role may decrypt the secret's versions with the
// key keyID ("" is the AWS managed key).
func (c *Client) KeyAccessOf(ctx context.Context, keyID, secretARN, role string) (*KeyAccess, error) {
	if keyID == "" || keyID == DefaultKMSKey {
		// A secret without KmsKeyId is encrypted with aws/secretsmanager
		// (CreateSecret's KmsKeyId: "If you don't include this field, Secrets
		// Manager uses aws/secretsmanager",
		// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html).
		// It is known by its alias: moto's DescribeKey on that alias does not
		// say KeyManager AWS, and AWS's answer adds nothing.
		return &KeyAccess{KeyARN: DefaultKMSKey, Managed: true}, nil
	}
	d, err := c.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil || d.KeyMetadata == nil {
		return nil, fmt.Errorf("looking up KMS key %q: %w", keyID, err)
	}
	ka := &KeyAccess{KeyARN: aws.ToString(d.KeyMetadata.Arn), Managed: d.KeyMetadata.KeyManager == kmstypes.KeyManagerTypeAws}
	if ka.Managed {
		return ka, nil
	}
	kp, err := c.KMS.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(ka.KeyARN), PolicyName: aws.String("default")})
	if err != nil {
		return nil, fmt.Errorf("reading the key policy of %s: %w", ka.KeyARN, err)
	}
	if ka.Policy, err = awspolicy.Parse(aws.ToString(kp.Policy)); err != nil {
		return nil, fmt.Errorf("the key policy of %s: %w", ka.KeyARN, err)
	}
	p := kms.NewListGrantsPaginator(c.KMS, &kms.ListGrantsInput{KeyId: aws.String(ka.KeyARN)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the grants of KMS key %s: %w", ka.KeyARN, err)
		}
		for _, g := range page.Grants {
			if aws.ToString(g.GranteePrincipal) == role && slices.Contains(g.Operations, kmstypes.GrantOperationDecrypt) && coversSecret(g.Constraints, secretARN) {
				ka.Grants = append(ka.Grants, aws.ToString(g.GrantId))
			}
		}
	}
	return ka, nil
}

// coversSecret says whether a grant's constraint admits the decryption of
// every version of the secret, whose encryption context is {"SecretARN":
// ARN, "SecretVersionId": ID}: no constraint, or a subset constraint on
// SecretARN alone.
func coversSecret(c *kmstypes.GrantConstraints, secretARN string) bool {
	if c == nil || len(c.EncryptionContextEquals)+len(c.EncryptionContextSubset) == 0 {
		return true
	}
	if len(c.EncryptionContextEquals) > 0 {
		return false
	}
	for k, v := range c.EncryptionContextSubset {
		if k != "SecretARN" || v != secretARN {
			return false
		}
	}
	return true
}
