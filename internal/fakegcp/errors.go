package fakegcp

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// APIError is an error in Google's JSON error shape. The out-of-band helpers
// of Server return it too, so tests can check Code and Status with
// errors.As.
type APIError struct {
	Code    int    // HTTP status code
	Status  string // canonical gRPC status name, e.g. "NOT_FOUND"
	Message string
	Details []any // google.rpc detail messages, each with an "@type"
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("fakegcp: %d %s: %s", e.Code, e.Status, e.Message)
}

type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []any  `json:"details,omitempty"`
}

// errorInfo is a google.rpc.ErrorInfo detail.
type errorInfo struct {
	Type     string            `json:"@type"`
	Reason   string            `json:"reason"`
	Domain   string            `json:"domain"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

func newErrorInfo(reason, domain string, metadata map[string]string) errorInfo {
	return errorInfo{Type: "type.googleapis.com/google.rpc.ErrorInfo", Reason: reason, Domain: domain, Metadata: metadata}
}

func apiErr(code int, status, format string, args ...any) *APIError {
	return &APIError{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

func errInvalid(format string, args ...any) *APIError {
	return apiErr(http.StatusBadRequest, "INVALID_ARGUMENT", format, args...)
}

func errNotFound(format string, args ...any) *APIError {
	return apiErr(http.StatusNotFound, "NOT_FOUND", format, args...)
}

func errAlreadyExists(format string, args ...any) *APIError {
	return apiErr(http.StatusConflict, "ALREADY_EXISTS", format, args...)
}

func errFailedPrecondition(format string, args ...any) *APIError {
	return apiErr(http.StatusBadRequest, "FAILED_PRECONDITION", format, args...)
}

// errConcurrentChange is what setIamPolicy answers for a stale etag.
func errConcurrentChange() *APIError {
	return apiErr(http.StatusConflict, "ABORTED",
		"There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.")
}

// errPermissionDenied is IAM's 403. message differs between the IAM Admin
// API and the IAM Credentials API; the detail names only the permission,
// never the hop of a delegation chain that lacked it.
func errPermissionDenied(message, permission string) *APIError {
	e := apiErr(http.StatusForbidden, "PERMISSION_DENIED", "%s", message)
	e.Details = []any{newErrorInfo("IAM_PERMISSION_DENIED", "iam.googleapis.com", map[string]string{"permission": permission})}
	return e
}

// credentialsDenied is the IAM Credentials API's wording.
func credentialsDenied(permission string) *APIError {
	return errPermissionDenied(fmt.Sprintf("Permission '%s' denied on resource (or it may not exist).", permission), permission)
}

// adminDenied is the IAM Admin API's wording for a service-account resource.
func adminDenied(permission, resource string) *APIError {
	return errPermissionDenied(fmt.Sprintf("Permission %s is required to perform this operation on %s.", permission, resource), permission)
}

func errUnauthenticated(missing bool, rt *route) *APIError {
	e := apiErr(http.StatusUnauthorized, "UNAUTHENTICATED",
		"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")
	reason := "ACCESS_TOKEN_TYPE_UNSUPPORTED"
	if missing {
		e.Message = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
		reason = "CREDENTIALS_MISSING"
	}
	e.Details = []any{newErrorInfo(reason, "googleapis.com", map[string]string{"service": rt.service(), "method": rt.rpc})}
	return e
}

func errInsufficientScopes(rt *route) *APIError {
	e := apiErr(http.StatusForbidden, "PERMISSION_DENIED", "Request had insufficient authentication scopes.")
	e.Details = []any{newErrorInfo("ACCESS_TOKEN_SCOPE_INSUFFICIENT", "googleapis.com", map[string]string{"service": rt.service(), "method": rt.rpc})}
	return e
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *APIError) {
	if e.Code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
	}
	writeJSON(w, e.Code, errorBody{Error: errorPayload{Code: e.Code, Message: e.Message, Status: e.Status, Details: e.Details}})
}

// oauthError is the OAuth 2.0 error shape of the token and tokeninfo
// endpoints (RFC 6749 section 5.2).
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeOAuthError(w http.ResponseWriter, code int, errCode, description string) {
	writeJSON(w, code, oauthError{Error: errCode, Description: description})
}

func errInternal(err error) *APIError {
	return apiErr(http.StatusInternalServerError, "INTERNAL", "Internal error: %v", err)
}
