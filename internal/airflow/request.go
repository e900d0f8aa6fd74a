package airflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// call sends an authenticated request to path (relative to /api/{version},
// already escaped) and decodes a 2xx JSON answer into out (when out is not
// nil). in, when not nil, is sent as the JSON body. Non-2xx answers become
// an *APIError. Idempotent methods are retried (see send); a POST is not.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any) error {
	_, err := c.do(ctx, method, path, query, in, out, idempotentMethod(method))
	return err
}

// do is call with the retry decision made by the caller: a POST is retried
// only by a caller that resolves a repeat whose earlier attempt may have
// acted. uncertain reports that an attempt of this request before the last
// may have reached Airflow (never about the version probe or the login it
// may have needed first).
//
// A DELETE answered 404 after such an attempt has succeeded: the earlier
// attempt deleted it.
//
// With an Airflow 3 login, a refused token (401, or 403 saying the JWT is
// invalid, see tokenRefused) makes it log in again once and repeat the
// request once; a second refusal is returned.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any, retry bool) (uncertain bool, err error) {
	version, u, body, err := c.prepare(ctx, method, path, query, in)
	if err != nil {
		return false, err
	}
	// uncertain carries over a re-login: the attempts before it count.
	for relogged := false; ; relogged = true {
		authorization, jwt, err := c.authorization(ctx, version)
		if err != nil {
			return uncertain, err
		}
		resp, err := c.send(ctx, outgoing{method: method, url: u, body: body, authorization: authorization, retry: retry})
		if err != nil {
			var retryErr *RetryError
			if errors.As(err, &retryErr) {
				uncertain = uncertain || retryErr.uncertain
			}
			return uncertain, err
		}
		resp.uncertain = resp.uncertain || uncertain
		uncertain = resp.uncertain
		if !relogged && c.usesLogin(version) && tokenRefused(resp) {
			c.log(ctx, "Airflow refused the access token; logging in again",
				map[string]any{"method": method, "url": u, "status": resp.status})
			c.invalidateToken(jwt)
			continue
		}
		return uncertain, c.answer(ctx, method, u, version, resp, out)
	}
}

// prepare returns the API version, the full URL and the encoded body of a
// request.
func (c *Client) prepare(ctx context.Context, method, path string, query url.Values, in any) (version, u string, body []byte, err error) {
	if version, err = c.APIVersion(ctx); err != nil {
		return "", "", nil, err
	}
	u = c.endpoint + "/api/" + version + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	if in != nil {
		if body, err = json.Marshal(in); err != nil {
			return "", "", nil, fmt.Errorf("%s %s: encoding request: %w", method, u, err)
		}
	}
	return version, u, body, nil
}

// answer turns the final response into do's result.
func (c *Client) answer(ctx context.Context, method, u, version string, resp *response, out any) error {
	if method == http.MethodDelete && resp.status == http.StatusNotFound && resp.uncertain {
		c.log(ctx, "Airflow HTTP request: 404 to a repeated DELETE; an earlier attempt deleted it",
			map[string]any{"method": method, "url": u})
		return nil
	}
	if resp.status < 200 || resp.status >= 300 {
		return newAPIError(method, u, resp, c.authMethod(version))
	}
	if out == nil {
		return nil
	}
	return decodeBody(method, u, resp, out)
}

// tokenRefused reports whether Airflow refused the bearer token itself (as
// opposed to the user's permissions): any 401, or a 403 whose detail says
// the JWT is invalid. Airflow 3 answers 401 "Token Expired" to an expired
// JWT and 403 "Invalid JWT token" to one it cannot validate (a bad
// signature, for example after the API server's JWT secret changed, or a
// revoked token): airflow/api_fastapi/core_api/security.py,
// resolve_user_from_token, and
// airflow/api_fastapi/auth/managers/base_auth_manager.py,
// get_user_from_token. A missing permission is 403 "Forbidden" and is not
// a refused token.
func tokenRefused(resp *response) bool {
	switch resp.status {
	case http.StatusUnauthorized:
		return true
	case http.StatusForbidden:
		detail := strings.ToLower(errorDetail(resp.body))
		if !strings.Contains(detail, "token") && !strings.Contains(detail, "jwt") {
			return false
		}
		for _, word := range []string{"invalid", "expired", "revoked"} {
			if strings.Contains(detail, word) {
				return true
			}
		}
	}
	return false
}
