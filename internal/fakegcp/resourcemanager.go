package fakegcp

import "slices"

// Cloud Resource Manager v1: a project's IAM policy, read only. The check
// reads it to see grants a service account inherits from its project
// (https://cloud.google.com/iam/docs/resource-hierarchy-access-control).
// projects.getIamPolicy needs resourcemanager.projects.getIamPolicy, and
// "Permission is denied if the policy or the resource does not exist"
// (https://cloud.google.com/resource-manager/reference/rest/v1/projects/getIamPolicy):
// an unknown project is 403, like a forbidden one.

const permProjectGetIamPolicy = "resourcemanager.projects.getIamPolicy"

// projectPolicyReaders are the roles the fake knows that hold
// resourcemanager.projects.getIamPolicy: the basic roles and Security
// Admin (https://cloud.google.com/iam/docs/roles-overview#basic and
// https://cloud.google.com/iam/docs/roles-permissions/iam).
var projectPolicyReaders = []string{"roles/owner", "roles/editor", "roles/viewer", "roles/iam.securityAdmin"}

func (s *Server) getProjectIamPolicy(c *call) (any, *APIError) {
	var req getIamPolicyRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	version := 0
	if req.Options != nil {
		version = req.Options.RequestedPolicyVersion
	}
	if !validPolicyVersion(version) {
		return nil, errInvalid("Invalid requested policy version %d; valid versions are 0, 1 and 3.", version)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(c.params[0])
	if p == nil || !s.readsProjectPolicyLocked(c.caller.member, p) {
		return nil, errPermissionDenied("The caller does not have permission", permProjectGetIamPolicy)
	}
	return p.policy.render(version), nil
}

// readsProjectPolicyLocked says whether caller holds one of
// projectPolicyReaders through an unconditional binding of the project.
func (s *Server) readsProjectPolicyLocked(caller string, p *project) bool {
	for _, b := range p.policy.bindings {
		if b.Condition == nil && slices.Contains(projectPolicyReaders, b.Role) &&
			slices.ContainsFunc(b.Members, func(m string) bool { return memberMatches(m, caller) }) {
			return true
		}
	}
	return false
}
