package gcpiam

import (
	"context"
	"slices"
	"strings"
	"time"

	cloudresourcemanager "google.golang.org/api/cloudresourcemanager/v1"
	iam "google.golang.org/api/iam/v1"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/iamcond"
)

// PermissionImplicitDelegation is what a hop needs on a delegate (any
// account of a chain but its target). Google's IAM Credentials reference,
// the delegates field of generateAccessToken and generateIdToken:
// https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken
// and https://cloud.google.com/iam/docs/create-short-lived-credentials-delegated.
const PermissionImplicitDelegation = "iam.serviceAccounts.implicitDelegation"

// tokenPermissions are the token permissions of the predefined roles that
// have any, as Google's roles reference lists them
// (https://cloud.google.com/iam/docs/roles-permissions/iam). The other
// predefined roles a chain meets grant none of them: roles/owner,
// roles/editor and roles/iam.serviceAccountUser, for one, create no
// credentials (https://cloud.google.com/iam/docs/service-account-permissions).
var tokenPermissions = map[string][]string{
	RoleTokenCreator:         {PermissionGetAccessToken, PermissionGetOpenIDToken, PermissionImplicitDelegation, "iam.serviceAccounts.signBlob", "iam.serviceAccounts.signJwt"},
	RoleOpenIDTokenCreator:   {PermissionGetOpenIDToken},
	RoleWorkloadIdentityUser: {PermissionGetAccessToken, PermissionGetOpenIDToken},
}

// RoleGrants reports whether a predefined role grants permission on a
// service account. ok is false for a custom role, whose permissions are not
// known here.
func RoleGrants(role, permission string) (grants, ok bool) {
	// Custom roles, and the service agents' roles (which Google manages
	// and documents one by one), are not known here.
	if !strings.HasPrefix(role, "roles/") || strings.HasSuffix(role, "serviceAgent") {
		return false, false
	}
	return slices.Contains(tokenPermissions[role], permission), true
}

// NeededAt is the permission the grant at position i of a chain of n hops
// needs: implicitDelegation on a delegate, the token's own permission on
// the target (the last hop).
func NeededAt(i, n int, permission string) string {
	if i < n-1 {
		return PermissionImplicitDelegation
	}
	return permission
}

// WorkingRole is the least privileged predefined role that gives grantee
// the permission needed: Workload Identity User for a Kubernetes service
// account (https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity),
// OpenID Token Creator for an ID token on the target, Token Creator for an
// access token and for every delegate.
func WorkingRole(grantee, needed string) string {
	switch {
	case strings.Contains(grantee, ".svc.id.goog[") && needed != PermissionImplicitDelegation:
		return RoleWorkloadIdentityUser
	case needed == PermissionGetOpenIDToken:
		return RoleOpenIDTokenCreator
	}
	return RoleTokenCreator
}

// Grant is one binding that names a hop's grantee on its account, whatever
// its role.
type Grant struct {
	Role string
	// Project is set when the grant is inherited from the account's
	// project rather than on the account's own policy.
	Project string
	// Condition is the binding's condition, nil when unconditional.
	Condition *iam.Expr
	// ConditionNow is the condition evaluated now (True when there is
	// none); ConditionWhy says why it is Unknown.
	ConditionNow iamcond.Result
	ConditionWhy string
	// Permits says whether the role grants the permission needed, Known
	// whether that is known (false for custom roles).
	Permits, Known bool
	// Member is the binding's member that names the grantee; Direct is
	// false when it is a group, whose membership is not read here.
	Member string
	Direct bool
}

// Effective says whether the grant gives the permission now.
func (g Grant) Effective() bool { return g.Permits && g.Direct && g.ConditionNow == iamcond.True }

// Maybe says whether the grant may give the permission now, without the
// diagnosis being able to tell: a custom role, a condition it cannot
// evaluate, or a member (a group) whose membership it cannot read.
func (g Grant) Maybe() bool {
	if g.ConditionNow == iamcond.False || (g.Known && !g.Permits) {
		return false
	}
	return !g.Known || g.ConditionNow == iamcond.Unknown || !g.Direct
}

// HopReport is what the diagnosis found at one hop.
type HopReport struct {
	Hop    Hop    // Role is the role that works at this position
	Needed string // the permission needed
	// Note says why Hop.Role is more than Needed asks, when a caller
	// widened it.
	Note string
	// Missing and Disabled describe the account; Account is nil when it
	// could not be read.
	Missing, Disabled bool
	Account           *ServiceAccount
	Grants            []Grant
	// ProjectUnread is why the project's policy could not be read, when it
	// could not: inherited grants are then unknown. PolicyUnread is the same
	// for the account's own policy.
	ProjectUnread, PolicyUnread string
}

// Holds says whether a grant gives the needed permission now.
func (h HopReport) Holds() bool {
	return slices.ContainsFunc(h.Grants, Grant.Effective)
}

// Unsure says whether the hop may hold the permission without the
// diagnosis being able to tell: a grant whose role or condition cannot be
// judged, or a project policy it could not read.
func (h HopReport) Unsure() bool {
	if h.Holds() || h.Missing || h.Disabled {
		return false
	}
	if h.ProjectUnread != "" || h.PolicyUnread != "" {
		return true
	}
	return slices.ContainsFunc(h.Grants, Grant.Maybe)
}

// Broken says whether the hop certainly lacks what it needs.
func (h HopReport) Broken() bool {
	return h.Missing || h.Disabled || (!h.Holds() && !h.Unsure())
}

// ChainReport is the diagnosis of a whole chain.
type ChainReport struct {
	Hops []HopReport
	// Broken is the index of the first hop that certainly lacks its
	// permission (or whose account is missing or disabled), -1 when none.
	Broken int
	// Unsure is the index of the first hop that may lack it, -1 when none.
	Unsure int
	// Order, when set, is an order of the chain's delegates in which every
	// grant is present: the grants exist, in another order than asked.
	Order []string
}

// maxReorder bounds the delegates whose orders are tried.
const maxReorder = 6

// DiagnoseChain reads each hop's account and IAM policy (version 3) and,
// where it may, the account project's policy, and reports per hop what the
// grantee holds and what it needs for a token of permission at the end of
// the chain. Conditions are evaluated now. A policy it cannot read makes
// its hop unsure, never broken.
func (c *Client) DiagnoseChain(ctx context.Context, hops []Hop, permission string) *ChainReport {
	now := time.Now()
	projects := map[string]*projectPolicy{}
	rep := &ChainReport{Broken: -1, Unsure: -1}
	policies := make([]*iam.Policy, len(hops))
	for i, h := range hops {
		hr := HopReport{Hop: h, Needed: NeededAt(i, len(hops), permission)}
		hr.Hop.Role = WorkingRole(h.Grantee, hr.Needed)
		sa, err := c.ServiceAccount(ctx, h.ServiceAccount)
		switch {
		case IsNotFound(err):
			hr.Missing = true
		case err == nil:
			hr.Account, hr.Disabled = sa, sa.Disabled
		}
		if !hr.Missing {
			pp := c.projectPolicy(ctx, projects, projectOf(hr.Account, h.ServiceAccount))
			hr.ProjectUnread = pp.unread
			p, err := c.Policy(ctx, h.ServiceAccount)
			if err != nil {
				hr.PolicyUnread = oneLine(err)
				p = &iam.Policy{}
			} else {
				policies[i] = p
			}
			hr.Grants = grantsOf(h.Grantee, hr.Needed, p, pp, now)
		}
		if rep.Broken < 0 && hr.Broken() {
			rep.Broken = i
		}
		if rep.Unsure < 0 && hr.Unsure() {
			rep.Unsure = i
		}
		rep.Hops = append(rep.Hops, hr)
	}
	if rep.Broken >= 0 && !rep.Hops[rep.Broken].Missing && !rep.Hops[rep.Broken].Disabled {
		rep.Order = c.workingOrder(hops, policies, projects, permission, now)
	}
	return rep
}

// projectPolicy is a project's policy, or why it could not be read.
type projectPolicy struct {
	id       string
	bindings []*cloudresourcemanager.Binding
	unread   string
}

// projectOf is the account's project ID: as read, or from a user-managed
// account's email (NAME@PROJECT.iam.gserviceaccount.com).
func projectOf(sa *ServiceAccount, email string) string {
	if sa != nil && sa.ProjectID != "" {
		return sa.ProjectID
	}
	_, domain, _ := strings.Cut(email, "@")
	project, _ := strings.CutSuffix(domain, ".iam.gserviceaccount.com")
	if project == domain {
		return ""
	}
	return project
}

func (c *Client) projectPolicy(ctx context.Context, cache map[string]*projectPolicy, project string) *projectPolicy {
	if project == "" {
		return &projectPolicy{unread: "the account's project is not known"}
	}
	if pp, ok := cache[project]; ok {
		return pp
	}
	pp := &projectPolicy{id: project}
	p, err := c.crm.Projects.GetIamPolicy(project, &cloudresourcemanager.GetIamPolicyRequest{
		Options: &cloudresourcemanager.GetPolicyOptions{RequestedPolicyVersion: policyVersion},
	}).Context(ctx).Do()
	if err != nil {
		pp.unread = oneLine(err)
	} else {
		pp.bindings = p.Bindings
	}
	cache[project] = pp
	return pp
}

// grantsOf lists the bindings of the account's policy and of its project's
// that name grantee.
func grantsOf(grantee, needed string, p *iam.Policy, pp *projectPolicy, now time.Time) []Grant {
	attrs := iamcond.ServiceAccount(now)
	var out []Grant
	add := func(role, fromProject string, members []string, cond *iam.Expr) {
		member, direct := coveringMember(members, grantee)
		if member == "" {
			return
		}
		g := Grant{Role: role, Project: fromProject, Condition: cond, ConditionNow: iamcond.True, Member: member, Direct: direct}
		g.Permits, g.Known = RoleGrants(role, needed)
		if cond != nil {
			var err error
			if g.ConditionNow, err = iamcond.Eval(cond.Expression, attrs); err != nil {
				g.ConditionWhy = err.Error()
			}
		}
		out = append(out, g)
	}
	for _, b := range p.Bindings {
		add(b.Role, "", b.Members, b.Condition)
	}
	if pp != nil {
		for _, b := range pp.bindings {
			var cond *iam.Expr
			if b.Condition != nil {
				cond = &iam.Expr{Title: b.Condition.Title, Expression: b.Condition.Expression, Description: b.Condition.Description}
			}
			add(b.Role, pp.id, b.Members, cond)
		}
	}
	return out
}

// oneLine is err's message on one line, to quote inside a sentence.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// coveringMember is the member of a binding that names grantee, and
// whether it names it for sure: the grantee itself, allUsers,
// allAuthenticatedUsers, or domain:D for a user of D; a group: member may
// (its membership is not read here). Members are listed in
// https://cloud.google.com/iam/docs/principals-overview.
func coveringMember(members []string, grantee string) (member string, direct bool) {
	for _, m := range members {
		if SameMember(m, grantee) || m == "allUsers" || m == "allAuthenticatedUsers" {
			return m, true
		}
		if d, ok := strings.CutPrefix(m, "domain:"); ok {
			if email, isUser := strings.CutPrefix(grantee, "user:"); isUser && strings.EqualFold(email[strings.LastIndex(email, "@")+1:], d) {
				return m, true
			}
		}
	}
	for _, m := range members {
		if strings.HasPrefix(m, "group:") {
			return m, false
		}
	}
	return "", false
}

// workingOrder looks for an order of the chain's delegates (every account
// but the target) in which each grant is present, when it is not the
// order asked. It returns nil when there is none, or too many delegates to
// try.
func (c *Client) workingOrder(hops []Hop, policies []*iam.Policy, projects map[string]*projectPolicy, permission string, now time.Time) []string {
	n := len(hops)
	if n < 3 || n-1 > maxReorder || slices.Contains(policies, nil) {
		return nil
	}
	source := hops[0].Grantee
	accounts := make([]string, n)
	byAccount := map[string]int{}
	for i, h := range hops {
		accounts[i] = h.ServiceAccount
		byAccount[h.ServiceAccount] = i
	}
	holds := func(grantee string, account, pos int) bool {
		sa, _ := c.cached(accounts[account])
		pp := projects[projectOf(sa, accounts[account])]
		needed := NeededAt(pos, n, permission)
		return slices.ContainsFunc(grantsOf(grantee, needed, policies[account], pp, now), Grant.Effective)
	}
	delegates := slices.Clone(accounts[:n-1])
	var found []string
	permute(delegates, 0, func(order []string) bool {
		if slices.Equal(order, accounts[:n-1]) {
			return false
		}
		grantee := source
		for pos, a := range order {
			if !holds(grantee, byAccount[a], pos) {
				return false
			}
			grantee = "serviceAccount:" + a
		}
		if !holds(grantee, n-1, n-1) {
			return false
		}
		found = slices.Clone(order)
		return true
	})
	return found
}

// cached is an account read earlier by this client.
func (c *Client) cached(ref string) (*ServiceAccount, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sa, ok := c.accounts[strings.ToLower(ref)]
	return sa, ok
}

// permute calls visit with each order of s (in place) until visit returns
// true.
func permute(s []string, k int, visit func([]string) bool) bool {
	if k == len(s) {
		return visit(s)
	}
	for i := k; i < len(s); i++ {
		s[k], s[i] = s[i], s[k]
		if permute(s, k+1, visit) {
			return true
		}
		s[k], s[i] = s[i], s[k]
	}
	return false
}
