package gcpiam

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/oauth2"

	"google.golang.org/api/googleapi"

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
