package fakegcp

import (
	"net/http"
	"slices"
)

// Secret Manager's per-secret IAM policies.
//
// Rules, each from Google's pages:
//
//   - A secret has its own IAM policy, read with projects.secrets.getIamPolicy
//     (GET v1/{resource=projects/*/secrets/*}:getIamPolicy; "Returns empty
//     policy if the secret exists and does not have a policy set") and written
//     with projects.secrets.setIamPolicy (POST ...:setIamPolicy, "Replaces any
//     existing policy"):
//     https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/getIamPolicy
//     https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/setIamPolicy
//     Etags, versions and conditions follow the same rules as the fake's other
//     policies (policy.go); a stale etag is 409 ABORTED.
//   - Roles granted on a secret apply to that secret and its versions, in
//     addition to the roles inherited from the project
//     (https://cloud.google.com/secret-manager/docs/access-control: grant
//     roles/secretmanager.secretAccessor "on a secret" to let a principal read
//     only that secret). The lowest level the Secret Manager roles can be
//     granted at is the secret
//     (https://cloud.google.com/iam/docs/roles-permissions/secretmanager), so a
//     secret's policy accepts only those roles and the basic roles.
//   - The get and set methods need secretmanager.secrets.getIamPolicy and
//     secretmanager.secrets.setIamPolicy: held by roles/owner and
//     roles/secretmanager.admin; roles/editor holds getIamPolicy only, as the
//     basic Editor role holds no setIamPolicy
//     (https://cloud.google.com/iam/docs/roles-overview#basic).
//   - As for project grants, a conditional binding on a secret grants nothing
//     here: the fake does not model the resource attributes of Secret
//     Manager requests (stricter than Google).

const (
	permSecretsGetIamPolicy = "secretmanager.secrets.getIamPolicy"
	permSecretsSetIamPolicy = "secretmanager.secrets.setIamPolicy"
)

func init() {
	for role, perms := range map[string][]string{
		"roles/owner":               {permSecretsGetIamPolicy, permSecretsSetIamPolicy},
		"roles/secretmanager.admin": {permSecretsGetIamPolicy, permSecretsSetIamPolicy},
		"roles/editor":              {permSecretsGetIamPolicy},
	} {
		rolePermissions[role] = append(rolePermissions[role], perms...)
	}
}

// secretPolicyRoles are the roles a secret's own policy accepts.
func secretPolicyRole(role string) bool {
	_, ok := secretRolePermissions[role]
	return ok
}

// secretAuthLocked checks perm for a call on one secret (or its versions):
// the caller holds it through the project's policy or the secret's own.
// Like Google, a denial does not tell a missing secret from a forbidden
// one.
func (s *Server) secretAuthLocked(c *call, perm string) (*secretState, *APIError) {
	p := s.projectLocked(c.params[0])
	var sec *secretState
	if p != nil {
		sec = p.secrets[c.params[1]]
	}
	if p != nil && s.holdsOnProjectLocked(c.caller.member, p, perm) {
		if sec == nil {
			return nil, errNotFound("Secret [%s] not found or has no versions.", "projects/"+p.number+"/secrets/"+c.params[1])
		}
		return sec, nil
	}
	if sec != nil && s.grantsLocked(c.caller.member, &sec.policy, perm, nil) {
		return sec, nil
	}
	e := apiErr(http.StatusForbidden, "PERMISSION_DENIED", "Permission '%s' denied for resource '%s' (or it may not exist).", perm, secretPath(c))
	e.Details = []any{newErrorInfo("IAM_PERMISSION_DENIED", serviceSecretManager, map[string]string{"permission": perm})}
	return nil, e
}

func (s *Server) getSecretIamPolicy(c *call) (any, *APIError) {
	version, e := requestedVersion(c)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, e := s.secretAuthLocked(c, permSecretsGetIamPolicy)
	if e != nil {
		return nil, e
	}
	return sec.policy.render(version), nil
}

func (s *Server) setSecretIamPolicy(c *call) (any, *APIError) {
	req, e := decodeSetIamPolicy(c)
	if e != nil {
		return nil, e
	}
	for _, b := range req.bindings {
		if !secretPolicyRole(b.Role) {
			return nil, errInvalid("Role %s is not supported for this resource.", b.Role)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, e := s.secretAuthLocked(c, permSecretsSetIamPolicy)
	if e != nil {
		return nil, e
	}
	if e := s.applySetIamPolicyLocked(&sec.policy, req); e != nil {
		return nil, e
	}
	return sec.policy.render(3), nil
}

// Out-of-band helpers, for tests.

// SecretPolicy returns a copy of a secret's IAM policy, conditions included.
func (s *Server) SecretPolicy(project, secretID string) (Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.secretByIDLocked(project, secretID)
	if err != nil {
		return Policy{}, err
	}
	return sec.policy.render(3), nil
}

// SetSecretPolicy replaces a secret's IAM policy without an etag check, as
// someone outside Terraform would. It validates like setIamPolicy.
func (s *Server) SetSecretPolicy(project, secretID string, p Policy) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.secretByIDLocked(project, secretID)
	if err != nil {
		return err
	}
	for _, b := range p.Bindings {
		if !secretPolicyRole(b.Role) {
			return errInvalid("Role %s is not supported for this resource.", b.Role)
		}
	}
	bs, aerr := s.normaliseLocked(p.Bindings, p.Version)
	if aerr != nil {
		return aerr
	}
	s.writeLocked(&sec.policy, bs, s.now())
	return nil
}

// EditSecretMember adds member to (or removes it from) the unconditional
// binding of role in a secret's policy, as someone outside Terraform would.
func (s *Server) EditSecretMember(project, secretID, role, member string, add bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.secretByIDLocked(project, secretID)
	if err != nil {
		return err
	}
	if !secretPolicyRole(role) {
		return errInvalid("Role %s is not supported for this resource.", role)
	}
	m, aerr := s.validateMemberLocked(member, role)
	if aerr != nil {
		return aerr
	}
	bs := copyBindings(sec.policy.bindings)
	found := false
	for i := range bs {
		if bs[i].Role == role && bs[i].Condition == nil {
			found = true
			bs[i].Members = slices.DeleteFunc(bs[i].Members, func(x string) bool { return x == m })
			if add {
				bs[i].Members = append(bs[i].Members, m)
			}
		}
	}
	if !found && add {
		bs = append(bs, Binding{Role: role, Members: []string{m}})
	}
	s.writeLocked(&sec.policy, mergeBindings(bs), s.now())
	return nil
}
