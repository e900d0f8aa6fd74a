package gcpiam

import (
	"strings"
)

// Roles a hop of an impersonation chain can grant.
const (
	// RoleTokenCreator allows every token kind: access tokens, ID tokens,
	// signed JWTs and blobs.
	RoleTokenCreator = "roles/iam.serviceAccountTokenCreator"
	// RoleOpenIDTokenCreator allows ID tokens only: enough for AWS
	// web-identity federation.
	RoleOpenIDTokenCreator = "roles/iam.serviceAccountOpenIdTokenCreator"
	// RoleWorkloadIdentityUser lets a Kubernetes service account act as a
	// Google service account.
	RoleWorkloadIdentityUser = "roles/iam.workloadIdentityUser"
)

// ChainRoles are the roles an impersonation chain may grant, the default
// first.
var ChainRoles = []string{RoleTokenCreator, RoleOpenIDTokenCreator}

// MemberPrefixes are the IAM member kinds accepted as a chain's source.
var MemberPrefixes = []string{"serviceAccount:", "user:", "group:", "principal://", "principalSet://"}

// Hop is one grant of a chain: Grantee holds Role on ServiceAccount.
type Hop struct {
	Grantee        string // an IAM member
	ServiceAccount string // an email
	Role           string
}

// SameHop compares hops as IAM does: member emails and account emails
// case-insensitively.
func SameHop(a, b Hop) bool {
	return a.Role == b.Role && SameMember(a.Grantee, b.Grantee) && strings.EqualFold(a.ServiceAccount, b.ServiceAccount)
}

// SourceMember is the IAM member of a chain's source: a member as given, or
// serviceAccount:EMAIL for a bare email.
func SourceMember(source string) string {
	for _, p := range MemberPrefixes {
		if strings.HasPrefix(source, p) {
			return source
		}
	}
	return "serviceAccount:" + source
}

// ChainHops lists the grants that let source impersonate the last account
// of chain through the others: source on chain[0], chain[0] on chain[1],
// and so on.
//
// Every hop but the last is a delegation: Google's IAM Credentials reference
// (the delegates field of generateAccessToken and generateIdToken,
// https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateIdToken)
// requires each account of a delegation chain to hold
// RoleTokenCreator (permission iam.serviceAccounts.implicitDelegation) on
// the next one. Only the grant on the target may be the narrower
// RoleOpenIDTokenCreator, which is enough for ID tokens. So with
// RoleOpenIDTokenCreator the last hop gets that role and every earlier hop
// gets RoleTokenCreator; any other role is granted on every hop.
func ChainHops(source string, chain []string, role string) []Hop {
	hops := make([]Hop, len(chain))
	grantee := SourceMember(source)
	for i, sa := range chain {
		r := role
		if role == RoleOpenIDTokenCreator && i < len(chain)-1 {
			r = RoleTokenCreator
		}
		hops[i] = Hop{Grantee: grantee, ServiceAccount: sa, Role: r}
		grantee = "serviceAccount:" + sa
	}
	return hops
}

// WorkloadIdentityMember is the IAM member of a Kubernetes service account
// under GKE Workload Identity.
func WorkloadIdentityMember(poolProject, namespace, ksa string) string {
	return "serviceAccount:" + poolProject + ".svc.id.goog[" + namespace + "/" + ksa + "]"
}

// Permissions a hop of a chain needs on the next account.
const (
	PermissionGetAccessToken = "iam.serviceAccounts.getAccessToken"
	PermissionGetOpenIDToken = "iam.serviceAccounts.getOpenIdToken"
)
