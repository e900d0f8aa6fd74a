package gcpiam

import (
	"encoding/json"
	"errors"
	"net/http"

	"google.golang.org/api/googleapi"
)

// StatusCode is the HTTP status of a Google API error, or 0 for any other
// error.
func StatusCode(err error) int {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return gerr.Code
	}
	return 0
}

// Status is the canonical status of a Google API error ("ABORTED",
// "PERMISSION_DENIED", ...), or "".
func Status(err error) string {
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Body == "" {
		return ""
	}
	var body struct {
		Error struct {
			Status string `json:"status"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(gerr.Body), &body) != nil {
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
