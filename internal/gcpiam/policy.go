package gcpiam

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	iam "google.golang.org/api/iam/v1"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/retry"
)

// policyVersion is the version every read asks for, so that conditional
// bindings come back whole and are written back unchanged.
const policyVersion = 3

// Policy reads an account's IAM policy (version 3, conditions intact).
func (c *Client) Policy(ctx context.Context, ref string) (*iam.Policy, error) {
	return c.iam.Projects.ServiceAccounts.GetIamPolicy(resourceName(ref)).
		OptionsRequestedPolicyVersion(policyVersion).Context(ctx).Do()
}

// plannedFor is how long a policy PlanPolicy read may stand in for the
// first read of a write to the same account. In terraform apply, Terraform
// plans each resource again right before it applies it, in the same
// provider process, so the plan's read and the write's come seconds apart.
const plannedFor = 5 * time.Minute

// plannedPolicy is a policy read during plan, and when.
type plannedPolicy struct {
	policy *iam.Policy
	at     time.Time
}

// PlanPolicy is Policy for a plan that decides what a write will do: the
// policy it returns also stands in for the first read of the next write
// to the account in this process (within plannedFor) when that write
// changes it, so that planning and applying a new grant cost one
// getIamPolicy and one setIamPolicy, not two reads. The write sends the etag of that read, so if the policy changed
// meanwhile Google refuses it with 409 ABORTED and the write starts again
// from a fresh read (https://cloud.google.com/iam/docs/policies#etag):
// nothing written by others is lost.
func (c *Client) PlanPolicy(ctx context.Context, ref string) (*iam.Policy, error) {
	p, err := c.Policy(ctx, ref)
	if err != nil {
		return nil, err
	}
	copied, err := copyPolicy(p)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.planned[strings.ToLower(resourceName(ref))] = plannedPolicy{policy: copied, at: time.Now()}
	c.mu.Unlock()
	return p, nil
}

// takePlanned returns, once, the policy PlanPolicy read for ref, if it is
// recent enough.
func (c *Client) takePlanned(ref string) *iam.Policy {
	key := strings.ToLower(resourceName(ref))
	c.mu.Lock()
	defer c.mu.Unlock()
	planned, ok := c.planned[key]
	delete(c.planned, key)
	if !ok || time.Since(planned.at) > plannedFor {
		return nil
	}
	return planned.policy
}

// copyPolicy is a deep copy of p, through its JSON form.
func copyPolicy(p *iam.Policy) (*iam.Policy, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var out iam.Policy
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// HasMember reports whether member holds role on the account through an
// unconditional binding.
func (c *Client) HasMember(ctx context.Context, ref, role, member string) (bool, error) {
	p, err := c.Policy(ctx, ref)
	if err != nil {
		return false, err
	}
	return PolicyHasMember(p, role, member), nil
}

// AddMember grants role to member on the account. It reports false when the
// unconditional binding already held the member, in which case nothing is
// written. Every other binding, member, condition and the policy version are
// kept as read.
func (c *Client) AddMember(ctx context.Context, ref, role, member string) (bool, error) {
	return c.modify(ctx, ref, func(p *iam.Policy) bool { return addMember(p, role, member) })
}

// RemoveMember takes member out of the unconditional binding of role on the
// account. It reports false when the member was not there. Conditional
// bindings of the same role are never touched.
func (c *Client) RemoveMember(ctx context.Context, ref, role, member string) (bool, error) {
	return c.modify(ctx, ref, func(p *iam.Policy) bool { return removeMember(p, role, member) })
}

// modify is the etag-guarded read-modify-write: under the account's
// in-process lock, read the policy, apply edit, and write it back with the
// etag that was read; on a conflict or a transient error, start again from
// the read.
func (c *Client) modify(ctx context.Context, ref string, edit func(*iam.Policy) bool) (bool, error) {
	key, err := c.lockKey(ctx, ref)
	if err != nil {
		return false, err
	}
	defer c.lock(key)()

	// maybeWrote is set once a write may have landed without its answer
	// reaching us: a repeated setIamPolicy answered 409 (the etag changed,
	// perhaps by our own first copy), or one that got no answer at all. If
	// the next read then finds the edit already made, it is this call's own
	// edit, and reported as a change.
	var changed, maybeWrote bool
	planned := c.takePlanned(ref)
	err = c.retry.do(ctx, func(ctx context.Context) error {
		// The plan's read stands in only for a read whose edit is written:
		// Google checks its etag. One that needs no write is confirmed by
		// a fresh read.
		p := planned
		planned = nil
		if p == nil || !edit(p) {
			var err error
			if p, err = c.Policy(ctx, ref); err != nil {
				return err
			}
			if !edit(p) {
				changed = maybeWrote
				return nil
			}
		}
		changed = true
		tracked, rec := retry.Track(ctx)
		_, err = c.iam.Projects.ServiceAccounts.SetIamPolicy(resourceName(ref), &iam.SetIamPolicyRequest{Policy: p}).
			Context(tracked).Do()
		if err != nil && (rec.Attempts() > 1 || StatusCode(err) == 0) {
			maybeWrote = true
		}
		return err
	})
	return changed, err
}

// PolicyHasMember reports whether member is in the unconditional binding of
// role.
func PolicyHasMember(p *iam.Policy, role, member string) bool {
	for _, b := range p.Bindings {
		if b.Role == role && b.Condition == nil {
			for _, m := range b.Members {
				if SameMember(m, member) {
					return true
				}
			}
		}
	}
	return false
}

// addMember puts member into the unconditional binding of role, creating the
// binding when there is none. It reports whether the policy changed.
func addMember(p *iam.Policy, role, member string) bool {
	if PolicyHasMember(p, role, member) {
		return false
	}
	for _, b := range p.Bindings {
		if b.Role == role && b.Condition == nil {
			b.Members = append(b.Members, member)
			return true
		}
	}
	p.Bindings = append(p.Bindings, &iam.Binding{Role: role, Members: []string{member}})
	return true
}

// removeMember takes member out of the unconditional binding of role and
// drops the binding if it becomes empty. It reports whether the policy
// changed.
func removeMember(p *iam.Policy, role, member string) bool {
	changed := false
	kept := p.Bindings[:0:0]
	for _, b := range p.Bindings {
		if b.Role == role && b.Condition == nil {
			members := b.Members[:0:0]
			for _, m := range b.Members {
				if SameMember(m, member) {
					changed = true
					continue
				}
				members = append(members, m)
			}
			if len(members) == 0 {
				continue
			}
			b.Members = members
		}
		kept = append(kept, b)
	}
	if changed {
		p.Bindings = kept
	}
	return changed
}

// SameMember compares two IAM members. The email of user:, group:,
// serviceAccount: and domain: members is case-insensitive, as in Google
// IAM; every other kind compares exactly.
func SameMember(a, b string) bool {
	if a == b {
		return true
	}
	ka, va, okA := strings.Cut(a, ":")
	kb, vb, okB := strings.Cut(b, ":")
	if !okA || !okB || ka != kb {
		return false
	}
	switch ka {
	case "user", "group", "serviceAccount", "domain":
		return strings.EqualFold(va, vb)
	}
	return false
}
