package awsiam

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/awspolicy"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/clock"
)

// RoleSpec is what a role should look like.
type RoleSpec struct {
	Name                string
	Path                string // "/" when empty
	Description         string
	TrustPolicy         string // JSON
	MaxSessionDuration  int32  // seconds; 0 leaves AWS's default (3600)
	PermissionsBoundary string // policy ARN, or "" for none
	ManagedPolicyARNs   []string
	InlinePolicies      map[string]string // name -> JSON
	Tags                map[string]string
}

// Role is a role as IAM reports it, with its attachments, inline policies
// and tags.
type Role struct {
	Name                string
	Path                string
	ARN                 string
	RoleID              string
	Description         string
	TrustPolicy         string // decoded JSON, as IAM stores it
	MaxSessionDuration  int32
	PermissionsBoundary string
	ManagedPolicyARNs   []string // sorted
	InlinePolicies      map[string]string
	// Tags are the role's tags without CreateTokenTag.
	Tags map[string]string
	// CreateToken is the value of CreateTokenTag, when the role still has
	// it: a create by this provider did not finish.
	CreateToken string
}

// CreateTokenTag is the tag CreateRole puts on a role while it creates it,
// with a random value of that one create. It proves that a role found
// already existing after a CreateRole whose answer was lost (the SDK sent
// it again and IAM said EntityAlreadyExists) is the one this create made.
// It is removed when the create finishes, and never part of Role.Tags.
const CreateTokenTag = "airflowiam:create-token"

// maxRoleTags is IAM's limit of tags per role
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html);
// a role that asks for all of them is created without the token.
const maxRoleTags = 50

// Eventual consistency: a role that was just created can be missing from
// reads for a few seconds, and AWS documents retrying.
var (
	consistencyAttempts = 6
	consistencyWait     = 500 * time.Millisecond
)

// IsNotFound reports whether err is IAM's NoSuchEntity.
func IsNotFound(err error) bool {
	var nse *types.NoSuchEntityException
	return errors.As(err, &nse)
}

// IsAlreadyExists reports whether err is IAM's EntityAlreadyExists.
func IsAlreadyExists(err error) bool {
	var eae *types.EntityAlreadyExistsException
	return errors.As(err, &eae)
}

// ErrorCode is the AWS error code of err, or "".
func ErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// CreateRole creates the role with everything in spec. Nothing is left
// half-written: when a later step fails, the role is deleted again and the
// error says so.
//
// CreateRole is not idempotent, and the SDK's retryer sends it again after
// a reset or a timeout. A repeat answered EntityAlreadyExists is resolved
// by reading the role: it is adopted, and its create finished, when it
// carries this create's CreateTokenTag and the trust policy and path that
// were sent. Any other existing role is the error it was.
func (c *Client) CreateRole(ctx context.Context, spec RoleSpec) (*Role, error) {
	in := &iam.CreateRoleInput{
		RoleName:                 aws.String(spec.Name),
		AssumeRolePolicyDocument: aws.String(spec.TrustPolicy),
		Path:                     aws.String(pathOrRoot(spec.Path)),
	}
	if spec.Description != "" {
		in.Description = aws.String(spec.Description)
	}
	if spec.MaxSessionDuration != 0 {
		in.MaxSessionDuration = aws.Int32(spec.MaxSessionDuration)
	}
	if spec.PermissionsBoundary != "" {
		in.PermissionsBoundary = aws.String(spec.PermissionsBoundary)
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Tags)) {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(spec.Tags[k])})
	}
	token := ""
	if len(in.Tags) < maxRoleTags {
		token = newToken()
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(CreateTokenTag), Value: aws.String(token)})
	}
	if _, err := c.IAM.CreateRole(ctx, in); err != nil {
		if !IsAlreadyExists(err) || !c.isOwnCreate(ctx, spec, token) {
			return nil, fmt.Errorf("creating IAM role %s: %w", spec.Name, err)
		}
	}
	if err := c.setPolicies(ctx, spec.Name, nil, spec.ManagedPolicyARNs, nil, spec.InlinePolicies); err != nil {
		if derr := c.DeleteRole(ctx, spec.Name); derr != nil {
			return nil, fmt.Errorf("%w; deleting the half-created role %s failed too: %v", err, spec.Name, derr)
		}
		return nil, fmt.Errorf("%w (the role was deleted again)", err)
	}
	if token != "" {
		// The create is done: the proof has served. A failure here leaves
		// a tag that reads hide; the next update removes it.
		_, _ = c.IAM.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String(spec.Name), TagKeys: []string{CreateTokenTag}})
	}
	return c.readAfterWrite(ctx, spec.Name)
}

// isOwnCreate reports whether the existing role spec.Name is the one this
// create made: it carries token, spec's path and an equal trust policy.
func (c *Client) isOwnCreate(ctx context.Context, spec RoleSpec, token string) bool {
	if token == "" {
		return false
	}
	role, err := c.readAfterWrite(ctx, spec.Name)
	if err != nil || role.CreateToken != token || role.Path != pathOrRoot(spec.Path) {
		return false
	}
	equal, err := awspolicy.Equal(role.TrustPolicy, spec.TrustPolicy)
	return err == nil && equal
}

// newToken is 128 random bits in hex.
func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// readAfterWrite reads a role that was just written, retrying IAM's
// NoSuchEntity for a bounded time.
func (c *Client) readAfterWrite(ctx context.Context, name string) (*Role, error) {
	wait := consistencyWait
	for attempt := 1; ; attempt++ {
		role, err := c.GetRole(ctx, name)
		if err == nil || !IsNotFound(err) || attempt == consistencyAttempts {
			return role, err
		}
		if err := clock.Sleep(ctx, wait); err != nil {
			return nil, err
		}
		wait *= 2
	}
}

// GetRole reads the role with its managed policies, inline policies and
// tags. A missing role is an error for which IsNotFound is true.
func (c *Client) GetRole(ctx context.Context, name string) (*Role, error) {
	out, err := c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("reading IAM role %s: %w", name, err)
	}
	r := out.Role
	trust, err := url.QueryUnescape(aws.ToString(r.AssumeRolePolicyDocument))
	if err != nil {
		return nil, fmt.Errorf("decoding the trust policy of IAM role %s: %w", name, err)
	}
	role := &Role{
		Name:               aws.ToString(r.RoleName),
		Path:               aws.ToString(r.Path),
		ARN:                aws.ToString(r.Arn),
		RoleID:             aws.ToString(r.RoleId),
		Description:        aws.ToString(r.Description),
		TrustPolicy:        trust,
		MaxSessionDuration: aws.ToInt32(r.MaxSessionDuration),
		InlinePolicies:     map[string]string{},
		Tags:               map[string]string{},
	}
	if r.PermissionsBoundary != nil {
		role.PermissionsBoundary = aws.ToString(r.PermissionsBoundary.PermissionsBoundaryArn)
	}

	attached := iam.NewListAttachedRolePoliciesPaginator(c.IAM, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name)})
	for attached.HasMorePages() {
		page, err := attached.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing managed policies of IAM role %s: %w", name, err)
		}
		for _, p := range page.AttachedPolicies {
			role.ManagedPolicyARNs = append(role.ManagedPolicyARNs, aws.ToString(p.PolicyArn))
		}
	}
	sort.Strings(role.ManagedPolicyARNs)

	inline := iam.NewListRolePoliciesPaginator(c.IAM, &iam.ListRolePoliciesInput{RoleName: aws.String(name)})
	for inline.HasMorePages() {
		page, err := inline.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing inline policies of IAM role %s: %w", name, err)
		}
		for _, policyName := range page.PolicyNames {
			p, err := c.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(policyName)})
			if err != nil {
				return nil, fmt.Errorf("reading inline policy %s of IAM role %s: %w", policyName, name, err)
			}
			doc, err := url.QueryUnescape(aws.ToString(p.PolicyDocument))
			if err != nil {
				return nil, fmt.Errorf("decoding inline policy %s of IAM role %s: %w", policyName, name, err)
			}
			role.InlinePolicies[policyName] = doc
		}
	}

	if err := c.readTags(ctx, role); err != nil {
		return nil, err
	}
	return role, nil
}

// readTags fills the role's Tags, and its CreateToken from CreateTokenTag.
func (c *Client) readTags(ctx context.Context, role *Role) error {
	tags := iam.NewListRoleTagsPaginator(c.IAM, &iam.ListRoleTagsInput{RoleName: aws.String(role.Name)})
	for tags.HasMorePages() {
		page, err := tags.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing tags of IAM role %s: %w", role.Name, err)
		}
		for _, t := range page.Tags {
			if aws.ToString(t.Key) == CreateTokenTag {
				role.CreateToken = aws.ToString(t.Value)
				continue
			}
			role.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return nil
}

// UpdateRole brings the role from current to spec, touching only what
// differs. Name and path cannot change.
func (c *Client) UpdateRole(ctx context.Context, current *Role, spec RoleSpec) (*Role, error) {
	name := current.Name
	if current.Description != spec.Description || (spec.MaxSessionDuration != 0 && current.MaxSessionDuration != spec.MaxSessionDuration) {
		in := &iam.UpdateRoleInput{RoleName: aws.String(name), Description: aws.String(spec.Description)}
		if spec.MaxSessionDuration != 0 {
			in.MaxSessionDuration = aws.Int32(spec.MaxSessionDuration)
		}
		if _, err := c.IAM.UpdateRole(ctx, in); err != nil {
			return nil, fmt.Errorf("updating IAM role %s: %w", name, err)
		}
	}
	if equal, err := awspolicy.Equal(current.TrustPolicy, spec.TrustPolicy); err != nil || !equal {
		if _, err := c.IAM.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
			RoleName: aws.String(name), PolicyDocument: aws.String(spec.TrustPolicy),
		}); err != nil {
			return nil, fmt.Errorf("updating the trust policy of IAM role %s: %w", name, err)
		}
	}
	if current.PermissionsBoundary != spec.PermissionsBoundary {
		var err error
		if spec.PermissionsBoundary == "" {
			_, err = c.IAM.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String(name)})
		} else {
			_, err = c.IAM.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{
				RoleName: aws.String(name), PermissionsBoundary: aws.String(spec.PermissionsBoundary),
			})
		}
		if err != nil {
			return nil, fmt.Errorf("setting the permissions boundary of IAM role %s: %w", name, err)
		}
	}
	if err := c.setPolicies(ctx, name, current.ManagedPolicyARNs, spec.ManagedPolicyARNs, current.InlinePolicies, spec.InlinePolicies); err != nil {
		return nil, err
	}
	if err := c.setTags(ctx, name, current.Tags, spec.Tags, current.CreateToken); err != nil {
		return nil, err
	}
	return c.readAfterWrite(ctx, name)
}

// DeleteRole detaches managed policies, deletes inline policies, then the
// role. A role that is already gone is not an error.
func (c *Client) DeleteRole(ctx context.Context, name string) error {
	role, err := c.GetRole(ctx, name)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.setPolicies(ctx, name, role.ManagedPolicyARNs, nil, role.InlinePolicies, nil); err != nil {
		return err
	}
	if _, err := c.IAM.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(name)}); err != nil && !IsNotFound(err) {
		return fmt.Errorf("deleting IAM role %s: %w", name, err)
	}
	return nil
}

// setPolicies attaches and detaches managed policies and puts and deletes
// inline policies so that the role has exactly the wanted ones.
func (c *Client) setPolicies(ctx context.Context, name string, haveManaged, wantManaged []string, haveInline, wantInline map[string]string) error {
	if err := c.setManagedPolicies(ctx, name, haveManaged, wantManaged); err != nil {
		return err
	}
	return c.setInlinePolicies(ctx, name, haveInline, wantInline)
}

// setManagedPolicies attaches the wanted managed policies the role lacks,
// then detaches those it has but should not.
func (c *Client) setManagedPolicies(ctx context.Context, name string, have, want []string) error {
	for _, arn := range want {
		if slices.Contains(have, arn) {
			continue
		}
		if _, err := c.IAM.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(arn)}); err != nil {
			return fmt.Errorf("attaching policy %s to IAM role %s: %w", arn, name, err)
		}
	}
	for _, arn := range have {
		if slices.Contains(want, arn) {
			continue
		}
		if _, err := c.IAM.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(arn)}); err != nil && !IsNotFound(err) {
			return fmt.Errorf("detaching policy %s from IAM role %s: %w", arn, name, err)
		}
	}
	return nil
}

// setInlinePolicies puts the wanted inline policies that are missing or
// mean something else than the role's, then deletes those the role has but
// should not.
func (c *Client) setInlinePolicies(ctx context.Context, name string, have, want map[string]string) error {
	for _, policyName := range slices.Sorted(maps.Keys(want)) {
		doc := want[policyName]
		if have, ok := have[policyName]; ok {
			if equal, err := awspolicy.Equal(have, doc); err == nil && equal {
				continue
			}
		}
		if _, err := c.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
			RoleName: aws.String(name), PolicyName: aws.String(policyName), PolicyDocument: aws.String(doc),
		}); err != nil {
			return fmt.Errorf("putting inline policy %s on IAM role %s: %w", policyName, name, err)
		}
	}
	for _, policyName := range slices.Sorted(maps.Keys(have)) {
		if _, ok := want[policyName]; ok {
			continue
		}
		if _, err := c.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(policyName)}); err != nil && !IsNotFound(err) {
			return fmt.Errorf("deleting inline policy %s from IAM role %s: %w", policyName, name, err)
		}
	}
	return nil
}

func (c *Client) setTags(ctx context.Context, name string, have, want map[string]string, createToken string) error {
	var remove []string
	if createToken != "" {
		remove = append(remove, CreateTokenTag) // left by a create that did not finish
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			remove = append(remove, k)
		}
	}
	if len(remove) > 0 {
		sort.Strings(remove)
		if _, err := c.IAM.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String(name), TagKeys: remove}); err != nil {
			return fmt.Errorf("removing tags from IAM role %s: %w", name, err)
		}
	}
	var add []types.Tag
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if v, ok := have[k]; !ok || v != want[k] {
			add = append(add, types.Tag{Key: aws.String(k), Value: aws.String(want[k])})
		}
	}
	if len(add) > 0 {
		if _, err := c.IAM.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(name), Tags: add}); err != nil {
			return fmt.Errorf("tagging IAM role %s: %w", name, err)
		}
	}
	return nil
}

func pathOrRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
