package gcpsecrets

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"golang.org/x/oauth2"
	secretmanager "google.golang.org/api/secretmanager/v1"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

// Who may read a secret: the secret's own IAM policy, edited one binding at
// a time, and a read of the secret as another identity.

// RoleSecretAccessor reads a secret's versions
// (https://cloud.google.com/secret-manager/docs/access-control).
const RoleSecretAccessor = "roles/secretmanager.secretAccessor"

// PermissionAccess is the permission Airflow's backend uses: accessing the
// latest version.
const PermissionAccess = "secretmanager.versions.access"

// policyVersion asks for conditions intact, so that they are written back
// unchanged.
const policyVersion = 3

// policyRetry bounds the read-modify-write of a secret's policy; tests
// replace its Sleep.
var policyRetry = gcpiam.Retry{}

// ErrDenied is returned by Access when the caller may not read the secret.
var ErrDenied = errors.New("permission denied")

// Policy reads the secret's IAM policy, or ErrNotFound.
func (c *Client) Policy(ctx context.Context, secretName string) (*secretmanager.Policy, error) {
	p, err := c.svc.Projects.Secrets.GetIamPolicy(secretName).OptionsRequestedPolicyVersion(policyVersion).Context(ctx).Do()
	if err != nil {
		if gcpiam.StatusCode(err) == http.StatusNotFound {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("reading the IAM policy of secret %s: %w", secretName, err)
	}
	return p, nil
}

// Accessors lists the members of the secret's unconditional binding of
// RoleSecretAccessor, as the policy holds them.
func (c *Client) Accessors(ctx context.Context, secretName string) ([]string, error) {
	p, err := c.Policy(ctx, secretName)
	if err != nil {
		return nil, err
	}
	return PolicyMembers(p, RoleSecretAccessor), nil
}

// EditAccessors sets the members of the secret's unconditional binding of
// RoleSecretAccessor to edit(the members it holds now). Every other
// binding, conditional bindings of the same role included, is written back
// as read. The write carries the etag that was read; on a conflict the whole
// read-modify-write starts again.
func (c *Client) EditAccessors(ctx context.Context, secretName string, edit func(current []string) []string) error {
	return policyRetry.Do(ctx, func(ctx context.Context) error {
		p, err := c.Policy(ctx, secretName)
		if err != nil {
			return err
		}
		if !setMembers(p, RoleSecretAccessor, edit(PolicyMembers(p, RoleSecretAccessor))) {
			return nil
		}
		_, err = c.svc.Projects.Secrets.SetIamPolicy(secretName, &secretmanager.SetIamPolicyRequest{Policy: p}).Context(ctx).Do()
		if err != nil && gcpiam.StatusCode(err) == http.StatusNotFound {
			return ErrNotFound
		}
		return err
	})
}

// PolicyMembers is the members of the unconditional binding of role.
func PolicyMembers(p *secretmanager.Policy, role string) []string {
	var out []string
	for _, b := range p.Bindings {
		if b.Role == role && b.Condition == nil {
			out = append(out, b.Members...)
		}
	}
	return out
}

// setMembers makes members the unconditional binding of role, dropping the
// binding when members is empty. It reports whether the policy changed.
func setMembers(p *secretmanager.Policy, role string, members []string) bool {
	if sameMembers(PolicyMembers(p, role), members) {
		return false
	}
	kept := p.Bindings[:0:0]
	for _, b := range p.Bindings {
		if b.Role != role || b.Condition != nil {
			kept = append(kept, b)
		}
	}
	if len(members) > 0 {
		kept = append(kept, &secretmanager.Binding{Role: role, Members: slices.Clone(members)})
	}
	p.Bindings = kept
	if p.Version < policyVersion && hasConditions(kept) {
		p.Version = policyVersion
	}
	return true
}

func hasConditions(bs []*secretmanager.Binding) bool {
	return slices.ContainsFunc(bs, func(b *secretmanager.Binding) bool { return b.Condition != nil })
}

// sameMembers compares two member lists as sets, as IAM compares members.
func sameMembers(a, b []string) bool {
	covered := func(xs, ys []string) bool {
		for _, x := range xs {
			if !slices.ContainsFunc(ys, func(y string) bool { return gcpiam.SameMember(x, y) }) {
				return false
			}
		}
		return true
	}
	return covered(a, b) && covered(b, a)
}

// As returns a client at the same endpoint that authenticates with ts, to
// read secrets as another identity (a task's service account).
func (c *Client) As(ctx context.Context, ts oauth2.TokenSource) (*Client, error) {
	hc := &http.Client{Transport: &oauth2.Transport{Source: ts}}
	return NewClient(ctx, hc, c.svc.BasePath, c.svc.UserAgent)
}

// Access reads the latest version's value as Airflow's
// CloudSecretManagerBackend does: one versions.access call on "latest",
// which needs only PermissionAccess. A refusal wraps ErrDenied, a missing
// secret or version ErrNotFound, a disabled version ErrNoReadableVersion.
func (c *Client) Access(ctx context.Context, secretName string) (string, error) {
	out, err := c.svc.Projects.Secrets.Versions.Access(secretName + "/versions/latest").Context(ctx).Do()
	switch code := gcpiam.StatusCode(err); {
	case err == nil:
	case code == http.StatusForbidden:
		return "", fmt.Errorf("%w: %w", ErrDenied, err)
	case code == http.StatusNotFound:
		return "", fmt.Errorf("%w: %w", ErrNotFound, err)
	case code == http.StatusBadRequest:
		return "", fmt.Errorf("%w: %w", ErrNoReadableVersion, err)
	default:
		return "", fmt.Errorf("accessing the latest version of %s: %w", secretName, err)
	}
	if out.Payload == nil {
		return "", ErrNoReadableVersion
	}
	data, err := base64.StdEncoding.DecodeString(out.Payload.Data)
	if err != nil {
		return "", fmt.Errorf("accessing %s: the payload is not base64: %w", secretName, err)
	}
	return string(data), nil
}
