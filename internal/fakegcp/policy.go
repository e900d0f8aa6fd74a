package fakegcp

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// Expr is an IAM condition, a CEL expression.
type Expr struct {
	Expression  string `json:"expression"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
}

// Binding grants a role to members, optionally under a condition.
type Binding struct {
	Role      string   `json:"role"`
	Members   []string `json:"members"`
	Condition *Expr    `json:"condition,omitempty"`
}

// Policy is an IAM policy as getIamPolicy returns it.
type Policy struct {
	Version  int       `json:"version,omitempty"`
	Etag     string    `json:"etag"`
	Bindings []Binding `json:"bindings,omitempty"`
}

// emptyPolicyEtag is the etag Google gives a policy that was never written.
const emptyPolicyEtag = "ACAB"

// grantKey is one member of one binding: a role, the binding's condition
// (condKey, empty for an unconditional binding) and the member.
type grantKey struct{ role, cond, member string }

func grantKeyOf(b Binding, member string) grantKey {
	return grantKey{role: b.Role, cond: condKey(b.Condition), member: member}
}

// policyState is a stored policy: a service account's, or a project's
// bindings.
type policyState struct {
	written  bool
	etag     string
	bindings []Binding // normalised
	// grants records when each member of each binding, conditional or
	// not, was added, for the propagation delay. Seeded members have the
	// zero time. A binding whose condition changes is a new binding, so
	// its members wait again.
	grants map[grantKey]time.Time
}

func (ps *policyState) currentEtag() string {
	if ps.etag == "" {
		return emptyPolicyEtag
	}
	return ps.etag
}

// render formats the stored policy for a reader asking for version
// requested. Conditional bindings need version 3; for lower versions they
// come back with the role renamed ROLE_withcond_HASH and no condition,
// as Google does for legacy clients.
func (ps *policyState) render(requested int) Policy {
	p := Policy{Etag: ps.currentEtag()}
	if !ps.written && len(ps.bindings) == 0 {
		return p
	}
	p.Version = 1
	conditional := hasConditions(ps.bindings)
	if conditional && requested >= 3 {
		p.Version = 3
	}
	p.Bindings = copyBindings(ps.bindings)
	if conditional && requested < 3 {
		for i := range p.Bindings {
			if c := p.Bindings[i].Condition; c != nil {
				p.Bindings[i].Role += "_withcond_" + conditionHash(c)
				p.Bindings[i].Condition = nil
			}
		}
	}
	return p
}

func conditionHash(c *Expr) string {
	sum := sha256.Sum256([]byte(c.Expression + "\x00" + c.Title + "\x00" + c.Description))
	return hex.EncodeToString(sum[:10])
}

func hasConditions(bs []Binding) bool {
	return slices.ContainsFunc(bs, func(b Binding) bool { return b.Condition != nil })
}

func copyBindings(bs []Binding) []Binding {
	if len(bs) == 0 {
		return nil
	}
	out := make([]Binding, len(bs))
	for i, b := range bs {
		out[i] = Binding{Role: b.Role, Members: slices.Clone(b.Members)}
		if b.Condition != nil {
			c := *b.Condition
			out[i].Condition = &c
		}
	}
	return out
}

// writeLocked stores normalised bindings with a new etag. Members that were
// not in the policy before are recorded as granted at grantedAt.
func (s *Server) writeLocked(ps *policyState, bindings []Binding, grantedAt time.Time) {
	grants := map[grantKey]time.Time{}
	for _, b := range bindings {
		for _, m := range b.Members {
			k := grantKeyOf(b, m)
			if t, ok := ps.grants[k]; ok {
				grants[k] = t
			} else {
				grants[k] = grantedAt
			}
		}
	}
	ps.bindings = bindings
	ps.grants = grants
	ps.written = true
	ps.etag = s.nextEtagLocked()
}

// renameMemberLocked replaces a member everywhere in a policy, as after a
// service account is deleted. The etag changes when anything did.
func (s *Server) renameMemberLocked(ps *policyState, from, to string) {
	changed := false
	bs := copyBindings(ps.bindings)
	for i := range bs {
		for j, m := range bs[i].Members {
			if m == from {
				bs[i].Members[j] = to
				changed = true
			}
		}
	}
	if changed {
		// Members that stay keep their grant times.
		s.writeLocked(ps, mergeBindings(bs), time.Time{})
	}
}

// normaliseLocked validates bindings for a policy of the given version and
// returns them normalised: members lower-cased where Google does, each
// role-and-condition pair merged into one binding, members deduplicated and
// sorted, empty bindings dropped, bindings sorted by role.
func (s *Server) normaliseLocked(bindings []Binding, version int) ([]Binding, *APIError) {
	if version != 0 && version != 1 && version != 3 {
		return nil, errInvalid("Invalid policy version %d; valid versions are 0, 1 and 3.", version)
	}
	out := make([]Binding, 0, len(bindings))
	for _, b := range bindings {
		if e := validateRole(b.Role); e != nil {
			return nil, e
		}
		if b.Condition != nil {
			if version < 3 {
				return nil, errInvalid("Policy version %d does not support conditional role bindings: set the policy version to 3 for the binding of %s with condition %q.", version, b.Role, b.Condition.Title)
			}
			if strings.TrimSpace(b.Condition.Expression) == "" {
				return nil, errInvalid("The condition of the binding for %s has an empty expression.", b.Role)
			}
			if strings.TrimSpace(b.Condition.Title) == "" {
				return nil, errInvalid("The condition of the binding for %s has no title; a condition title is required.", b.Role)
			}
		}
		nb := Binding{Role: b.Role, Members: make([]string, 0, len(b.Members))}
		if b.Condition != nil {
			c := *b.Condition
			nb.Condition = &c
		}
		for _, m := range b.Members {
			nm, e := s.validateMemberLocked(m, b.Role)
			if e != nil {
				return nil, e
			}
			nb.Members = append(nb.Members, nm)
		}
		out = append(out, nb)
	}
	return mergeBindings(out), nil
}

func mergeBindings(bs []Binding) []Binding {
	type key struct {
		role string
		cond Expr
		has  bool
	}
	index := map[key]int{}
	var out []Binding
	for _, b := range bs {
		k := key{role: b.Role}
		if b.Condition != nil {
			k.cond, k.has = *b.Condition, true
		}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, Binding{Role: b.Role, Condition: b.Condition})
		}
		out[i].Members = append(out[i].Members, b.Members...)
	}
	kept := out[:0]
	for _, b := range out {
		slices.Sort(b.Members)
		b.Members = slices.Compact(b.Members)
		if len(b.Members) > 0 {
			kept = append(kept, b)
		}
	}
	slices.SortStableFunc(kept, func(x, y Binding) int {
		if c := strings.Compare(x.Role, y.Role); c != 0 {
			return c
		}
		return cmp.Compare(condKey(x.Condition), condKey(y.Condition))
	})
	return kept
}

func condKey(c *Expr) string {
	if c == nil {
		return ""
	}
	return "\x01" + c.Title + "\x00" + c.Expression + "\x00" + c.Description
}

// validateMemberLocked checks one member of a binding and returns it
// normalised. Accepted: allUsers, allAuthenticatedUsers, user:, group:,
// serviceAccount: and domain: (lower-cased), principal:// and
// principalSet://, and deleted: forms. A serviceAccount: member in the
// user-managed form NAME@PROJECT.iam.gserviceaccount.com must exist;
// Workload Identity members (PROJECT.svc.id.goog[NAMESPACE/KSA]) and
// Google-managed service agents (@gcp-sa-*.iam.gserviceaccount.com) are
// taken as they are.
func (s *Server) validateMemberLocked(m, role string) (string, *APIError) {
	if m == "allUsers" || m == "allAuthenticatedUsers" {
		return m, nil
	}
	kind, rest, ok := strings.Cut(m, ":")
	if ok && kind == "serviceAccount" {
		return s.serviceAccountMemberLocked(m, rest, role)
	}
	var norm string
	if normalise := memberKinds[kind]; ok && rest != "" && normalise != nil {
		norm = normalise(kind, rest)
	}
	if norm == "" {
		return "", invalidMember(m, role)
	}
	return norm, nil
}

// memberKinds normalise the rest of a KIND:REST member other than
// serviceAccount:, or give "" when it is malformed.
var memberKinds = map[string]func(kind, rest string) string{
	"user":  emailMember,
	"group": emailMember,
	"domain": func(kind, rest string) string {
		if strings.ContainsAny(rest, "@/ ") || !strings.Contains(rest, ".") {
			return ""
		}
		return kind + ":" + strings.ToLower(rest)
	},
	"principal":    principalMember,
	"principalSet": principalMember,
	"deleted":      func(_, rest string) string { return deletedMember(rest) },
}

func principalMember(kind, rest string) string {
	if !strings.HasPrefix(rest, "//") || len(rest) < 3 {
		return ""
	}
	return kind + ":" + rest
}

func invalidMember(m, role string) *APIError {
	return errInvalid("Invalid principal %q in the binding for %s: a principal is allUsers, allAuthenticatedUsers, or starts with user:, group:, serviceAccount:, domain:, principal://, principalSet:// or deleted:.", m, role)
}

// emailMember is KIND:EMAIL lower-cased, or "" when email is not one.
func emailMember(kind, email string) string {
	if !isEmail(email) {
		return ""
	}
	return kind + ":" + strings.ToLower(email)
}

// serviceAccountMemberLocked checks a serviceAccount: member: a Workload
// Identity member as it is, or an email, which must exist when it is a
// user-managed account of a project (not a Google-managed service agent).
func (s *Server) serviceAccountMemberLocked(m, rest, role string) (string, *APIError) {
	rest = strings.ToLower(rest)
	if isWorkloadIdentityMember(rest) {
		return "serviceAccount:" + rest, nil
	}
	if !isEmail(rest) {
		return "", invalidMember(m, role)
	}
	if local, ok := strings.CutSuffix(rest, emailDomain); ok {
		_, projectID, _ := strings.Cut(local, "@")
		if !strings.HasPrefix(projectID, "gcp-sa-") && s.accounts[rest] == nil {
			return "", errInvalid("Service account %s does not exist.", rest)
		}
	}
	return "serviceAccount:" + rest, nil
}

// deletedMember normalises deleted:KIND:EMAIL?uid=ID, or is "".
func deletedMember(rest string) string {
	inner, uid, ok := strings.Cut(rest, "?uid=")
	innerKind, email, _ := strings.Cut(inner, ":")
	if !ok || !digits.MatchString(uid) || !isEmail(email) || (innerKind != "user" && innerKind != "group" && innerKind != "serviceAccount") {
		return ""
	}
	return "deleted:" + innerKind + ":" + strings.ToLower(email) + "?uid=" + uid
}

func isEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && strings.Contains(domain, ".") && !strings.ContainsAny(s, " /:[]") && !strings.Contains(domain, "@")
}

// isWorkloadIdentityMember matches PROJECT.svc.id.goog[NAMESPACE/KSA].
func isWorkloadIdentityMember(s string) bool {
	pool, rest, ok := strings.Cut(s, ".svc.id.goog[")
	if !ok || pool == "" || !strings.HasSuffix(rest, "]") {
		return false
	}
	ns, ksa, ok := strings.Cut(strings.TrimSuffix(rest, "]"), "/")
	return ok && ns != "" && ksa != "" && !strings.Contains(ksa, "/")
}

// policyOf finds the policy of an account for the out-of-band helpers.
func (s *Server) policyOf(emailOrUniqueID string) (*policyState, error) {
	a, err := s.mustAccountLocked(emailOrUniqueID)
	if err != nil {
		return nil, err
	}
	return &a.policy, nil
}

// Policy returns a copy of an account's IAM policy, conditions included
// (as getIamPolicy with requestedPolicyVersion 3).
func (s *Server) Policy(emailOrUniqueID string) (Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps, err := s.policyOf(emailOrUniqueID)
	if err != nil {
		return Policy{}, err
	}
	return ps.render(3), nil
}

// SetPolicy replaces an account's policy without an etag check. It
// validates like setIamPolicy (roles, members, version 3 for conditions)
// and changes the etag.
func (s *Server) SetPolicy(emailOrUniqueID string, p Policy) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps, err := s.policyOf(emailOrUniqueID)
	if err != nil {
		return err
	}
	bs, aerr := s.normaliseLocked(p.Bindings, p.Version)
	if aerr != nil {
		return aerr
	}
	s.writeLocked(ps, bs, s.now())
	return nil
}

// AddMember adds member to the unconditional binding of role in an
// account's policy, creating the binding when needed.
func (s *Server) AddMember(emailOrUniqueID, role, member string) error {
	return s.editMember(emailOrUniqueID, role, member, true)
}

// RemoveMember removes member from the unconditional binding of role in an
// account's policy; removing an absent member is not an error.
func (s *Server) RemoveMember(emailOrUniqueID, role, member string) error {
	return s.editMember(emailOrUniqueID, role, member, false)
}

func (s *Server) editMember(emailOrUniqueID, role, member string, add bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps, err := s.policyOf(emailOrUniqueID)
	if err != nil {
		return err
	}
	if e := validateRole(role); e != nil {
		return e
	}
	var m string
	if add {
		var e *APIError
		if m, e = s.validateMemberLocked(member, role); e != nil {
			return e
		}
	} else {
		m = member
		if nm, e := s.validateMemberLocked(member, role); e == nil {
			m = nm
		}
	}
	bs := copyBindings(ps.bindings)
	found := false
	for i := range bs {
		if bs[i].Role != role || bs[i].Condition != nil {
			continue
		}
		found = true
		if add {
			bs[i].Members = append(bs[i].Members, m)
		} else {
			bs[i].Members = slices.DeleteFunc(bs[i].Members, func(x string) bool { return x == m })
		}
	}
	if !found && add {
		bs = append(bs, Binding{Role: role, Members: []string{m}})
	}
	s.writeLocked(ps, mergeBindings(bs), s.now())
	return nil
}

// SetProjectBindings replaces a project's own policy, which every account in
// the project inherits for permission checks. The project is created when
// it does not exist.
func (s *Server) SetProjectBindings(project string, bindings []Binding) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.ensureProjectLocked(project, "")
	if err != nil {
		return err
	}
	bs, aerr := s.normaliseLocked(bindings, 3)
	if aerr != nil {
		return aerr
	}
	s.writeLocked(&p.policy, bs, s.now())
	return nil
}

// ProjectBindings returns a copy of a project's own bindings.
func (s *Server) ProjectBindings(project string) ([]Binding, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[project]
	if p == nil {
		return nil, false
	}
	return copyBindings(p.policy.bindings), true
}
