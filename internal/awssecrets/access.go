package awssecrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Who may read a secret: the secret's resource policy and, for a
// customer-managed key, one KMS grant per reader.
//
// The resource policy holds two statements this package owns, found by
// their Sid; every other statement is kept as read:
//
//   - ReadersSid allows secretsmanager:GetSecretValue to the readers.
//   - OthersDeniedSid denies secretsmanager:GetSecretValue to every
//     principal of the secret's account (aws:PrincipalAccount) whose
//     aws:PrincipalArn is neither a reader nor an administrator. For a role
//     session aws:PrincipalArn is the role's ARN
//     (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn),
//     so a role ARN covers all its sessions. An explicit deny wins over
//     every allow, so identity policies of other principals in the account
//     no longer read the secret
//     (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
//
// Secrets Manager encrypts each version with the secret's KMS key under
// the encryption context {"SecretARN": ARN, "SecretVersionId": ID}
// (https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html).
// A grant cannot hold kms:ViaService, but it can hold an encryption-context
// constraint (https://docs.aws.amazon.com/kms/latest/developerguide/grants.html,
// "Grant constraints"): each reader's grant allows kms:Decrypt only with
// EncryptionContextSubset {"SecretARN": ARN}, which only a decryption of this
// secret's versions carries. The AWS managed key aws/secretsmanager takes no
// grants; with it, the key policy already lets every principal of the account
// decrypt through Secrets Manager.

// Sids of the statements this package owns.
const (
	ReadersSid      = "AirflowIAMReaders"
	OthersDeniedSid = "AirflowIAMOthersDenied"
)

// GrantName names the KMS grants this package makes.
const GrantName = "airflowiam-secret-reader"

// ActionGetSecretValue is the read SecretsManagerBackend makes.
const ActionGetSecretValue = "secretsmanager:GetSecretValue"

// Readers is who may read a secret: readers, and administrators who are
// not denied (and need their own grants to read).
type Readers struct {
	Readers        []string
	Administrators []string
}

// AccountOf is the account of an ARN, or "".
func AccountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

type statement = map[string]any

// policyDoc is a resource policy with its statements kept as read.
type policyDoc struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

// ResourcePolicy reads the secret's resource policy; "" when it has none.
func (c *Client) ResourcePolicy(ctx context.Context, arn string) (string, error) {
	out, err := c.SecretsManager.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String(arn)})
	if err != nil {
		if isNotFound(err) {
			return "", ErrNotFound
		}
		return "", fmt.Errorf("reading the resource policy of secret %q: %w", arn, err)
	}
	return aws.ToString(out.ResourcePolicy), nil
}

// ReadReaders reads the readers and administrators from the secret's
// resource policy.
func (c *Client) ReadReaders(ctx context.Context, arn string) (Readers, error) {
	doc, err := c.ResourcePolicy(ctx, arn)
	if err != nil {
		return Readers{}, err
	}
	return ParseReaders(doc)
}

// ParseReaders finds the readers and administrators in a resource policy.
func ParseReaders(doc string) (Readers, error) {
	var r Readers
	if doc == "" {
		return r, nil
	}
	var p policyDoc
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return r, fmt.Errorf("the resource policy is not JSON: %w", err)
	}
	var excepted []string
	for _, st := range p.Statement {
		switch st["Sid"] {
		case ReadersSid:
			if pr, ok := st["Principal"].(map[string]any); ok {
				r.Readers = stringsOf(pr["AWS"])
			}
		case OthersDeniedSid:
			if cond, ok := st["Condition"].(map[string]any); ok {
				if ne, ok := cond["ArnNotEquals"].(map[string]any); ok {
					excepted = stringsOf(ne["aws:PrincipalArn"])
				}
			}
		}
	}
	for _, e := range excepted {
		if !slices.Contains(r.Readers, e) {
			r.Administrators = append(r.Administrators, e)
		}
	}
	return r, nil
}

func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// ReadersPolicy is doc (a resource policy, or "") with the statements this
// package owns made to say r, for the secret arn; every other statement is
// kept. With r nil the owned statements are removed; "" means no
// statement is left.
func ReadersPolicy(doc, arn string, r *Readers) (string, error) {
	p := policyDoc{Version: "2012-10-17"}
	if doc != "" {
		if err := json.Unmarshal([]byte(doc), &p); err != nil {
			return "", fmt.Errorf("the resource policy of secret %q is not JSON: %w", arn, err)
		}
	}
	kept := p.Statement[:0:0]
	for _, st := range p.Statement {
		if sid := st["Sid"]; sid != ReadersSid && sid != OthersDeniedSid {
			kept = append(kept, st)
		}
	}
	if r != nil {
		kept = append(kept, ownedStatements(arn, *r)...)
	}
	if len(kept) == 0 {
		return "", nil
	}
	p.Statement = kept
	out, err := json.Marshal(p)
	return string(out), err
}

func ownedStatements(arn string, r Readers) []statement {
	var out []statement
	readers := slices.Sorted(slices.Values(r.Readers))
	if len(readers) > 0 {
		out = append(out, statement{
			"Sid": ReadersSid, "Effect": "Allow", "Principal": map[string]any{"AWS": readers},
			"Action": ActionGetSecretValue, "Resource": "*",
		})
	}
	excepted := slices.Sorted(slices.Values(append(slices.Clone(readers), r.Administrators...)))
	cond := map[string]any{"StringEquals": map[string]any{"aws:PrincipalAccount": AccountOf(arn)}}
	if len(excepted) > 0 {
		cond["ArnNotEquals"] = map[string]any{"aws:PrincipalArn": slices.Compact(excepted)}
	}
	return append(out, statement{
		"Sid": OthersDeniedSid, "Effect": "Deny", "Principal": "*", "Action": ActionGetSecretValue, "Resource": "*",
		"Condition": cond,
	})
}

// SetReaders writes the secret's resource policy with the owned statements
// saying r (nil: removed), keeping every other statement.
func (c *Client) SetReaders(ctx context.Context, arn string, r *Readers) error {
	doc, err := c.ResourcePolicy(ctx, arn)
	if err != nil {
		return err
	}
	next, err := ReadersPolicy(doc, arn, r)
	if err != nil {
		return err
	}
	if next == "" {
		if _, err := c.SecretsManager.DeleteResourcePolicy(ctx, &secretsmanager.DeleteResourcePolicyInput{SecretId: aws.String(arn)}); err != nil && !isNotFound(err) {
			return fmt.Errorf("deleting the resource policy of secret %q: %w", arn, err)
		}
		return nil
	}
	_, err = c.SecretsManager.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{
		SecretId: aws.String(arn), ResourcePolicy: aws.String(next), BlockPublicPolicy: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("writing the resource policy of secret %q: %w", arn, err)
	}
	return nil
}

// Grant is one of this package's KMS grants.
type Grant struct {
	ID      string
	Grantee string
}

// ReaderGrants lists the grants this package made on key for the secret
// arn.
func (c *Client) ReaderGrants(ctx context.Context, key, arn string) ([]Grant, error) {
	var out []Grant
	p := kms.NewListGrantsPaginator(c.KMS, &kms.ListGrantsInput{KeyId: aws.String(key)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the grants of KMS key %q: %w", key, err)
		}
		for _, g := range page.Grants {
			if aws.ToString(g.Name) != GrantName || g.Constraints == nil || g.Constraints.EncryptionContextSubset["SecretARN"] != arn {
				continue
			}
			out = append(out, Grant{ID: aws.ToString(g.GrantId), Grantee: aws.ToString(g.GranteePrincipal)})
		}
	}
	return out, nil
}

// SyncGrants makes the grants of this package on key for arn exactly one
// per reader: it revokes those of principals that left and creates the
// missing ones.
func (c *Client) SyncGrants(ctx context.Context, key, arn string, readers []string) error {
	have, err := c.ReaderGrants(ctx, key, arn)
	if err != nil {
		return err
	}
	granted := map[string]bool{}
	for _, g := range have {
		if slices.Contains(readers, g.Grantee) && !granted[g.Grantee] {
			granted[g.Grantee] = true
			continue
		}
		if _, err := c.KMS.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(key), GrantId: aws.String(g.ID)}); err != nil && !isKMSNotFound(err) {
			return fmt.Errorf("revoking the KMS grant of %s on %q: %w", g.Grantee, key, err)
		}
	}
	for _, r := range readers {
		if granted[r] {
			continue
		}
		_, err := c.KMS.CreateGrant(ctx, &kms.CreateGrantInput{
			KeyId: aws.String(key), GranteePrincipal: aws.String(r), Name: aws.String(GrantName),
			Operations:  []kmstypes.GrantOperation{kmstypes.GrantOperationDecrypt},
			Constraints: &kmstypes.GrantConstraints{EncryptionContextSubset: map[string]string{"SecretARN": arn}},
		})
		if err != nil {
			return fmt.Errorf("granting %s kms:Decrypt on %q for secret %q: %w", r, key, arn, err)
		}
	}
	return nil
}

func isKMSNotFound(err error) bool {
	var nf *kmstypes.NotFoundException
	return errors.As(err, &nf)
}
