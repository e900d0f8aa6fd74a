package gcpiam

import (
	"context"

	cloudresourcemanager "google.golang.org/api/cloudresourcemanager/v1"
)

// What the other Google packages (gcpsecrets) take from this one: the retry
// of a policy read-modify-write and the read of a project's policy.

// Do runs op, a whole read-modify-write, until it succeeds, fails for good,
// or the attempts run out, as the service-account policy edits do: the loop
// starts again after a conflict (409 ABORTED, 412), and the requests op makes
// with the ctx it is given share one retry budget.
func (r Retry) Do(ctx context.Context, op func(ctx context.Context) error) error {
	return r.withDefaults().do(ctx, op)
}

// ProjectPolicy reads a project's IAM policy (version 3) with the
// provider's identity, through Cloud Resource Manager.
func (c *Client) ProjectPolicy(ctx context.Context, project string) (*cloudresourcemanager.Policy, error) {
	return c.crm.Projects.GetIamPolicy(project, &cloudresourcemanager.GetIamPolicyRequest{
		Options: &cloudresourcemanager.GetPolicyOptions{RequestedPolicyVersion: policyVersion},
	}).Context(ctx).Do()
}

// OneLine is err's message on one line, to quote inside a sentence.
func OneLine(err error) string { return oneLine(err) }
