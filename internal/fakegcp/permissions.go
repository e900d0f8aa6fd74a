package fakegcp

import (
	"slices"
	"strings"
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
// service-account permissions each grants. It is the part of Google's
// predefined roles that applies to service accounts. Like Google, neither
// roles/owner nor roles/iam.serviceAccountAdmin grants any token
// permission: minting tokens always needs an explicit Token Creator (or
// Workload Identity User) grant. roles/editor includes getIamPolicy because
// in Google it holds every permission of roles/viewer.
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
	"roles/iam.workloadIdentityUser":             {permGetAccessToken, permGetOpenIDToken},
	"roles/iam.serviceAccountUser":               {permActAs, permGet, permList},
}

// Roles lists the roles the fake knows, sorted.
func Roles() []string {
	out := make([]string, 0, len(rolePermissions))
	for r := range rolePermissions {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// RolePermissions returns the service-account permissions a known role
// grants, or nil.
func RolePermissions(role string) []string {
	return slices.Clone(rolePermissions[role])
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
// through a's own policy or its project's, counting only grants older than
// the propagation delay. Conditional bindings grant nothing.
func (s *Server) holdsLocked(caller string, a *account, perm string) bool {
	return s.grantsLocked(caller, &a.policy, perm) || s.grantsLocked(caller, &a.project.policy, perm)
}

// holdsOnProjectLocked is holdsLocked for project-level permissions.
func (s *Server) holdsOnProjectLocked(caller string, p *project, perm string) bool {
	return s.grantsLocked(caller, &p.policy, perm)
}

func (s *Server) grantsLocked(caller string, ps *policyState, perm string) bool {
	now := s.now()
	for _, b := range ps.bindings {
		if b.Condition != nil || !slices.Contains(rolePermissions[b.Role], perm) {
			continue
		}
		for _, m := range b.Members {
			if !memberMatches(m, caller) {
				continue
			}
			if granted := ps.grants[grantKey{b.Role, m}]; !now.Before(granted.Add(s.propagation)) {
				return true
			}
		}
	}
	return false
}
