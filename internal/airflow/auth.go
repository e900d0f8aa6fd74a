package airflow

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
)

const authStaticToken = "static bearer token"

// AuthMethod describes how the client authenticates, for error messages:
// "static bearer token", "Airflow 2 basic auth as \"admin\"" or
// "Airflow 3 JWT (POST /auth/token as \"admin\")". With username and
// password it needs the API version, so it may probe the server.
func (c *Client) AuthMethod(ctx context.Context) (string, error) {
	switch {
	case c.transportAuth != "":
		return c.transportAuth, nil
	case c.token != "":
		return authStaticToken, nil
	}
	version, err := c.APIVersion(ctx)
	if err != nil {
		return "", err
	}
	return c.authMethod(version), nil
}

func (c *Client) authMethod(version string) string {
	switch {
	case c.transportAuth != "":
		return c.transportAuth
	case c.token != "":
		return authStaticToken
	case version == VersionV1:
		return fmt.Sprintf("Airflow 2 basic auth as %q", c.username)
	default:
		return fmt.Sprintf("Airflow 3 JWT (POST %s as %q)", tokenPath, c.username)
	}
}

// usesLogin reports whether requests to the given API version carry a JWT
// obtained from POST /auth/token, which can be renewed when Airflow refuses
// it (see tokenRefused).
func (c *Client) usesLogin(version string) bool {
	return c.transportAuth == "" && c.token == "" && version == VersionV2
}

// authorization returns the Authorization header for a request to the given
// API version and, when it is a JWT from a login, that JWT (so that a
// refusal can invalidate exactly the token that was refused).
func (c *Client) authorization(ctx context.Context, version string) (header, jwt string, err error) {
	switch {
	case c.transportAuth != "":
		return "", "", nil
	case c.token != "":
		return "Bearer " + c.token, "", nil
	case version == VersionV1:
		creds := base64.StdEncoding.EncodeToString([]byte(c.username + ":" + c.password))
		return "Basic " + creds, "", nil
	default:
		jwt, err := c.accessToken(ctx)
		if err != nil {
			return "", "", err
		}
		return "Bearer " + jwt, jwt, nil
	}
}

// accessToken returns the cached Airflow 3 JWT, logging in first when there
// is none. Concurrent callers wait for one shared login; a failed login
// (after its retries) is remembered and returned to every caller (see
// shared).
func (c *Client) accessToken(ctx context.Context) (string, error) {
	return c.jwt.get(ctx, c.login)
}

// invalidateToken forgets the cached JWT if it is still the refused one; if
// another caller already replaced it, the new token is kept.
func (c *Client) invalidateToken(refused string) {
	c.jwt.forget(refused)
}

// login obtains a JWT from POST {endpoint}/auth/token. The POST is retried
// like an idempotent request: a repeated login only issues another token.
func (c *Client) login(ctx context.Context) (string, error) {
	u := c.endpoint + tokenPath
	body, err := json.Marshal(struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}{c.username, c.password})
	if err != nil {
		return "", fmt.Errorf("encoding the Airflow login request: %w", err)
	}

	c.log(ctx, "requesting an Airflow access token", map[string]any{"url": u, "username": c.username})
	resp, err := c.send(ctx, outgoing{method: http.MethodPost, url: u, body: body, retry: true})
	if err != nil {
		return "", fmt.Errorf("obtaining an Airflow access token as %q: %w", c.username, err)
	}
	if resp.status < 200 || resp.status >= 300 {
		apiErr := newAPIError(http.MethodPost, u, resp, c.authMethod(VersionV2))
		apiErr.AuthMethod = c.authMethod(VersionV2)
		return "", fmt.Errorf("obtaining an Airflow access token: %w", apiErr)
	}

	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := decodeBody(http.MethodPost, u, resp, &tr); err != nil {
		return "", fmt.Errorf("obtaining an Airflow access token: %w", err)
	}
	if tr.AccessToken == "" {
		return "", fmt.Errorf("obtaining an Airflow access token: POST %s: response has no access_token", u)
	}
	return tr.AccessToken, nil
}
