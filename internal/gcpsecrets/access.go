package gcpsecrets

import (
	"slices"
	"strings"

	cloudresourcemanager "google.golang.org/api/cloudresourcemanager/v1"
	secretmanager "google.golang.org/api/secretmanager/v1"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
)

// Which bindings let an identity read a secret, for the access proof's
// messages.

// AccessRoles are the predefined and basic roles that hold
// secretmanager.versions.access: Secret Manager Admin and Secret Accessor
// (https://cloud.google.com/iam/docs/roles-permissions/secretmanager) and the
// basic Owner and Editor roles, which hold every Secret Manager permission
// but IAM policy changes
// (https://cloud.google.com/iam/docs/roles-overview#basic). Custom roles are
// not judged.
var AccessRoles = []string{RoleSecretAccessor, "roles/secretmanager.admin", "roles/owner", "roles/editor"}

// Grant is one binding that names an identity (or everyone) with a role
// that reads secrets.
type Grant struct {
	Role string
	// Project is set for a grant inherited from the project; empty for one
	// on the secret itself.
	Project string
	// Member is the binding's member that covers the identity: the
	// identity itself, allUsers or allAuthenticatedUsers.
	Member string
	// Condition is the condition's title (or expression); empty for an
	// unconditional binding.
	Condition string
}

// Unconditional says whether the grant holds whatever the request.
func (g Grant) Unconditional() bool { return g.Condition == "" }

// AccessGrants lists the bindings of the secret's policy and of its
// project's (either may be nil) that give member one of AccessRoles.
func AccessGrants(member string, secret *secretmanager.Policy, project string, projectPolicy *cloudresourcemanager.Policy) []Grant {
	var out []Grant
	add := func(role, proj string, members []string, condTitle, condExpr string) {
		if !slices.Contains(AccessRoles, role) {
			return
		}
		for _, m := range members {
			if covers(m, member) {
				cond := condTitle
				if cond == "" {
					cond = condExpr
				}
				out = append(out, Grant{Role: role, Project: proj, Member: m, Condition: cond})
				return
			}
		}
	}
	if secret != nil {
		for _, b := range secret.Bindings {
			title, expr := "", ""
			if b.Condition != nil {
				title, expr = b.Condition.Title, b.Condition.Expression
			}
			add(b.Role, "", b.Members, title, expr)
		}
	}
	if projectPolicy != nil {
		for _, b := range projectPolicy.Bindings {
			title, expr := "", ""
			if b.Condition != nil {
				title, expr = b.Condition.Title, b.Condition.Expression
			}
			add(b.Role, project, b.Members, title, expr)
		}
	}
	return out
}

// covers says whether a binding's member names member.
func covers(bindingMember, member string) bool {
	return bindingMember == "allUsers" || bindingMember == "allAuthenticatedUsers" || gcpiam.SameMember(bindingMember, member)
}

// ProjectOf is the project (ID or number) of a secret's resource name.
func ProjectOf(secretName string) string {
	rest, ok := strings.CutPrefix(secretName, "projects/")
	if !ok {
		return ""
	}
	project, _, _ := strings.Cut(rest, "/")
	return project
}

// SecretIDOf is the secret ID of a secret's resource name.
func SecretIDOf(secretName string) string {
	_, id, ok := strings.Cut(secretName, "/secrets/")
	if !ok {
		return ""
	}
	id, _, _ = strings.Cut(id, "/")
	return id
}
