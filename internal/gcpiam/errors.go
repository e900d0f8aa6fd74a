package gcpiam

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"google.golang.org/api/googleapi"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/denied"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/retry"
)

// HTTPError is a failed call to an endpoint outside the API clients
// (tokeninfo, the signing keys, a key file's token URI).
type HTTPError struct {
	Method, URL string
	Code        int
	Body        string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.URL, e.Code, e.Body)
}

// StatusCode is the HTTP status of a Google API error or an HTTPError, or 0
// for any other error.
func StatusCode(err error) int {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return gerr.Code
	}
	var herr *HTTPError
	if errors.As(err, &herr) {
		return herr.Code
	}
	var rerr *retry.Error
	if errors.As(err, &rerr) {
		return rerr.Code
	}
	return 0
}

// IsRejectedCredentials reports whether Google refused the credentials
// themselves: a 401, tokeninfo's 400 invalid_token (an expired, revoked or
// malformed access token; https://developers.google.com/identity/sign-in/web/backend-auth
// and https://cloud.google.com/docs/authentication/token-types#access-tokens
// describe tokeninfo), or the token endpoint's invalid_grant
// (https://www.rfc-editor.org/rfc/rfc6749#section-5.2) when the base
// credentials were exchanged for a token.
func IsRejectedCredentials(err error) bool {
	if StatusCode(err) == http.StatusUnauthorized {
		return true
	}
	var herr *HTTPError
	if errors.As(err, &herr) && herr.Code == http.StatusBadRequest && strings.Contains(herr.Body, "invalid_token") {
		return true
	}
	var rerr *oauth2.RetrieveError
	return errors.As(err, &rerr) && (rerr.ErrorCode == "invalid_grant" || rerr.ErrorCode == "invalid_client" ||
		(rerr.Response != nil && rerr.Response.StatusCode == http.StatusUnauthorized))
}

// Status is the canonical status of a Google API error ("ABORTED",
// "PERMISSION_DENIED", ...), or "".
func Status(err error) string {
	var raw string
	var gerr *googleapi.Error
	var rerr *retry.Error
	switch {
	case errors.As(err, &gerr):
		raw = gerr.Body
	case errors.As(err, &rerr):
		raw = rerr.Body
	}
	if raw == "" {
		return ""
	}
	var body struct {
		Error struct {
			Status string `json:"status"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(raw), &body) != nil {
		return ""
	}
	return body.Error.Status
}

// IsNotFound reports whether err is Google's 404.
func IsNotFound(err error) bool {
	return StatusCode(err) == http.StatusNotFound
}

// IsPermissionDenied reports whether err is Google's 403.
func IsPermissionDenied(err error) bool {
	return StatusCode(err) == http.StatusForbidden
}

// DeniedHint says, for a 403, which Google service refused which
// permission on what: from the need the calling package attached
// (denied.Wrap), else from the google.rpc.ErrorInfo detail that IAM puts
// in its refusals (metadata "permission", and "resource" when given), else
// from the message's "Permission 'P' denied" or "Permission P is required
// ... on R" (https://cloud.google.com/iam/docs/troubleshooting-access
// describes these messages). Permission names are the ones in
// https://cloud.google.com/iam/docs/permissions-reference.
func DeniedHint(err error) string {
	n, ok := denied.Of(err)
	if !ok {
		n, ok = deniedFromGoogle(err)
	}
	if !ok {
		return "The Google identity the provider runs as lacks a permission on the resource named above."
	}
	hint := "The Google identity the provider runs as was refused: " + n.String() + "."
	if role := roleFor(n.Permission); role != "" {
		hint += " " + role
	}
	return hint
}

var (
	quotedPermission   = regexp.MustCompile(`Permission '([a-zA-Z0-9_.]+)' denied`)
	requiredPermission = regexp.MustCompile(`Permission ([a-zA-Z0-9_.]+) is required to perform this operation on (?:[a-z ]+ )?(\S+?)\.?$`)
)

// deniedFromGoogle reads the refused permission out of a Google API error.
func deniedFromGoogle(err error) (denied.Need, bool) {
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		return denied.Need{}, false
	}
	n := denied.Need{Resource: "the resource named above"}
	for _, d := range gerr.Details {
		m, _ := d.(map[string]any)
		meta, _ := m["metadata"].(map[string]any)
		if p, _ := meta["permission"].(string); p != "" {
			n.Permission = p
		}
		if r, _ := meta["resource"].(string); r != "" {
			n.Resource = r
		}
	}
	if sub := requiredPermission.FindStringSubmatch(gerr.Message); sub != nil {
		n.Permission, n.Resource = sub[1], sub[2]
	} else if sub := quotedPermission.FindStringSubmatch(gerr.Message); sub != nil && n.Permission == "" {
		n.Permission = sub[1]
	}
	if n.Permission == "" {
		return denied.Need{}, false
	}
	n.Service = serviceOf(n.Permission)
	return n, true
}

// serviceOf names the Google service a permission belongs to. The token
// permissions are checked by the IAM Service Account Credentials API
// (https://cloud.google.com/iam/docs/service-account-permissions).
func serviceOf(permission string) string {
	switch {
	case strings.HasPrefix(permission, "secretmanager."):
		return "Secret Manager"
	case strings.HasPrefix(permission, "cloudkms."):
		return "Cloud KMS"
	case strings.HasPrefix(permission, "resourcemanager."):
		return "Cloud Resource Manager"
	case slices.Contains([]string{"iam.serviceAccounts.getAccessToken", "iam.serviceAccounts.getOpenIdToken",
		"iam.serviceAccounts.implicitDelegation", "iam.serviceAccounts.signBlob", "iam.serviceAccounts.signJwt"}, permission):
		return "IAM Service Account Credentials"
	case strings.HasPrefix(permission, "iam."):
		return "IAM"
	}
	return "Google Cloud"
}

// roleFor suggests a predefined role that grants permission
// (https://cloud.google.com/iam/docs/roles-permissions), or "".
func roleFor(permission string) string {
	switch {
	case permission == "iam.serviceAccounts.getIamPolicy" || permission == "iam.serviceAccounts.setIamPolicy":
		return "roles/iam.serviceAccountAdmin or roles/iam.securityAdmin grant it."
	case serviceOf(permission) == "IAM Service Account Credentials":
		return "roles/iam.serviceAccountTokenCreator on that service account grants it."
	case strings.HasPrefix(permission, "secretmanager."):
		return "roles/secretmanager.admin on the project grants it."
	case permission == "iam.serviceAccounts.get":
		return "roles/iam.serviceAccountViewer grants it."
	}
	return ""
}
