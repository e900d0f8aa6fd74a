package airflow

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// call sends an authenticated request to path (relative to /api/{version},
// already escaped) and decodes a 2xx JSON answer into out (when out is not
// nil). in, when not nil, is sent as the JSON body. Non-2xx answers become
// an *APIError.
//
// With an Airflow 3 login, a 401 (expired or revoked JWT) makes it log in
// again once and repeat the request once; a second 401 is returned.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any) error {
	version, err := c.APIVersion(ctx)
	if err != nil {
		return err
	}
	u := c.endpoint + "/api/" + version + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}

	var body []byte
	if in != nil {
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("%s %s: encoding request: %w", method, u, err)
		}
	}

	for relogged := false; ; relogged = true {
		authorization, jwt, err := c.authorization(ctx, version)
		if err != nil {
			return err
		}
		resp, err := c.send(ctx, method, u, body, authorization)
		if err != nil {
			return err
		}
		if resp.status == http.StatusUnauthorized && !relogged && c.usesLogin(version) {
			c.log(ctx, "Airflow refused the access token; logging in again", map[string]any{"method": method, "url": u})
			c.invalidateToken(jwt)
			continue
		}
		if resp.status < 200 || resp.status >= 300 {
			return newAPIError(method, u, resp, c.authMethod(version))
		}
		if out == nil {
			return nil
		}
		return decodeBody(method, u, resp, out)
	}
}
