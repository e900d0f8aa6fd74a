package fakegcp

import (
	"slices"
	"strings"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/iamcond"
)

// Permissions on service accounts.
const (
	permGet                = "iam.serviceAccounts.get"
	permList               = "iam.serviceAccounts.list"
	permCreate             = "iam.serviceAccounts.create"
	permDelete             = "iam.serviceAccounts.delete"
	permUpdate             = "iam.serviceAccounts.update"
	permDisable            = "iam.serviceAccounts.disable"
	permEnable             = "iam.serviceAccounts.enable"
	permGetIamPolicy       = "iam.serviceAccounts.getIamPolicy"
	permSetIamPolicy       = "iam.serviceAccounts.setIamPolicy"
	permActAs              = "iam.serviceAccounts.actAs"
	permGetAccessToken     = "iam.serviceAccounts.getAccessToken"
	permGetOpenIDToken     = "iam.serviceAccounts.getOpenIdToken"
	permImplicitDelegation = "iam.serviceAccounts.implicitDelegation"
	permSignBlob           = "iam.serviceAccounts.signBlob"
	permSignJWT            = "iam.serviceAccounts.signJwt"
	permUndelete           = "iam.serviceAccounts.undelete"
)

// rolePermissions is the one table of roles the fake knows and the
// service-account permissions each grants: the iam.serviceAccounts.*
// part of each role as Google's roles reference lists it,
// https://cloud.google.com/iam/docs/roles-permissions/iam (predefined IAM
// roles) and https://cloud.google.com/iam/docs/roles-overview#basic (the
// basic roles). Permissions on other services (resourcemanager.projects.*
// and the like) are left out: the fake serves no such resource.
//
// What each entry rests on:
//
//   - roles/iam.serviceAccountTokenCreator: getAccessToken, getOpenIdToken,
//     implicitDelegation, signBlob and signJwt, as
//     https://cloud.google.com/iam/docs/service-account-permissions lists
//     them, plus get and list from the roles reference.
//   - roles/iam.serviceAccountOpenIdTokenCreator: getOpenIdToken only
//     (service-account-permissions: "if you only need to create OIDC ID
//     tokens"). It has no implicitDelegation, so it never carries a
//     delegation hop.
//   - roles/iam.workloadIdentityUser: getAccessToken, getOpenIdToken, get and
//     list (roles reference). No implicitDelegation and no signing.
//   - roles/iam.serviceAccountUser: actAs, get and list; it does not mint
//     tokens (service-account-permissions: the role "does not allow
//     principals to create short-lived credentials").
//   - roles/owner, roles/editor, roles/viewer, roles/iam.serviceAccountAdmin,
//     roles/iam.securityAdmin: management and policy permissions only.
//     Like Google, none of them grants a token permission: minting tokens
//     always needs an explicit Token Creator (or Workload Identity User or
//     OpenID Token Creator) grant. roles/editor holds every permission of
//     roles/viewer, hence getIamPolicy, but not setIamPolicy.
var rolePermissions = map[string][]string{
	"roles/owner": {permGet, permList, permCreate, permDelete, permUpdate, permDisable, permEnable, permUndelete,
		permGetIamPolicy, permSetIamPolicy, permActAs},
	"roles/iam.serviceAccountAdmin": {permGet, permList, permCreate, permDelete, permUpdate, permDisable, permEnable, permUndelete,
		permGetIamPolicy, permSetIamPolicy},
	"roles/editor": {permGet, permList, permCreate, permDelete, permUpdate, permDisable, permEnable, permUndelete,
		permGetIamPolicy, permActAs},
	"roles/viewer":                               {permGet, permList, permGetIamPolicy},
	"roles/iam.securityAdmin":                    {permGet, permList, permGetIamPolicy, permSetIamPolicy},
	"roles/iam.serviceAccountTokenCreator":       {permGetAccessToken, permGetOpenIDToken, permImplicitDelegation, permSignBlob, permSignJWT, permGet, permList},
	"roles/iam.serviceAccountOpenIdTokenCreator": {permGetOpenIDToken},
	"roles/iam.workloadIdentityUser":             {permGetAccessToken, permGetOpenIDToken, permGet, permList},
	"roles/iam.serviceAccountUser":               {permActAs, permGet, permList},
}

func validateRole(role string) *APIError {
	if _, ok := rolePermissions[role]; ok {
		return nil
	}
	if strings.HasPrefix(role, "projects/") || strings.HasPrefix(role, "organizations/") {
		return errInvalid("Role (%s) does not exist in the resource's hierarchy.", role)
	}
	return errInvalid("Role %s is not supported for this resource.", role)
}

// validPermission says whether testIamPermissions may ask about p.
func validPermission(p string) bool {
	for _, perms := range rolePermissions {
		if slices.Contains(perms, p) {
			return true
		}
	}
	return false
}

// memberMatches says whether a binding's member covers the caller.
// Callers are always authenticated here. group: members match nobody:
// the fake knows no group membership.
func memberMatches(bindingMember, caller string) bool {
	switch {
	case bindingMember == caller, bindingMember == "allUsers", bindingMember == "allAuthenticatedUsers":
		return true
	case strings.HasPrefix(bindingMember, "domain:"):
		email, ok := strings.CutPrefix(caller, "user:")
		_, domain, _ := strings.Cut(email, "@")
		return ok && domain == strings.TrimPrefix(bindingMember, "domain:")
	}
	return false
}

// holdsLocked says whether caller (a member string) holds perm on account a
// through a's own policy or the one it inherits from its project, counting
// only grants older than the propagation delay. A conditional binding
// grants when its condition is true now, evaluated with the attributes of
// the request (https://cloud.google.com/iam/docs/conditions-attribute-reference):
// request.time is the fake's clock. IAM's own resources do not recognise
// resource attributes ("Other services and resource types do not recognize
// resource attributes", and iam.googleapis.com is not listed:
// https://cloud.google.com/iam/docs/conditions-resource-attributes), so a
// condition that reads resource.* is Unknown here. False and Unknown (an
// attribute or function iamcond does not evaluate) grant nothing.
func (s *Server) holdsLocked(caller string, a *account, perm string) bool {
	attrs := iamcond.ServiceAccount(s.now())
	return s.grantsLocked(caller, &a.policy, perm, &attrs) || s.grantsLocked(caller, &a.project.policy, perm, &attrs)
}

// holdsOnProjectLocked is holdsLocked for project-level permissions
// (listing and creating service accounts, Secret Manager). The fake does not
// model the resource attributes of those requests, so a conditional binding
// on the project grants none of them.
func (s *Server) holdsOnProjectLocked(caller string, p *project, perm string) bool {
	return s.grantsLocked(caller, &p.policy, perm, nil)
}

// grantsLocked says whether a binding of ps gives caller perm. attrs are the
// request's attributes for conditions; nil means conditional bindings do
// not count.
func (s *Server) grantsLocked(caller string, ps *policyState, perm string, attrs *iamcond.Attributes) bool {
	now := s.now()
	for _, b := range ps.bindings {
		if !slices.Contains(rolePermissions[b.Role], perm) {
			continue
		}
		if b.Condition != nil && attrs == nil {
			continue
		}
		for _, m := range b.Members {
			if !memberMatches(m, caller) {
				continue
			}
			if granted := ps.grants[grantKeyOf(b, m)]; now.Before(granted.Add(s.propagation)) {
				continue
			}
			if b.Condition == nil {
				return true
			}
			// The condition does not depend on the member: judge it once.
			if r, _ := iamcond.Eval(b.Condition.Expression, *attrs); r == iamcond.True {
				return true
			}
			break
		}
	}
	return false
}
