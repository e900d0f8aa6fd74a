package gcpiam

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/oauth2"
	iamcredentials "google.golang.org/api/iamcredentials/v1"
)

// accountName is the resource name IAM Credentials expects, with "-" for the
// project so that the account alone decides.
func accountName(ref string) string {
	return "projects/-/serviceAccounts/" + ref
}

func delegateNames(delegates []string) []string {
	if len(delegates) == 0 {
		return nil
	}
	names := make([]string, len(delegates))
	for i, d := range delegates {
		names[i] = accountName(d)
	}
	return names
}

func generateAccessToken(ctx context.Context, svc *iamcredentials.Service, target string, delegates, scopes []string) (*oauth2.Token, error) {
	resp, err := svc.Projects.ServiceAccounts.GenerateAccessToken(accountName(target), &iamcredentials.GenerateAccessTokenRequest{
		Delegates: delegateNames(delegates),
		Scope:     scopes,
	}).Context(ctx).Do()
	if err != nil {
		return nil, err
	}
	expiry, err := time.Parse(time.RFC3339, resp.ExpireTime)
	if err != nil {
		return nil, fmt.Errorf("IAM Credentials returned an unreadable expireTime %q: %w", resp.ExpireTime, err)
	}
	return &oauth2.Token{AccessToken: resp.AccessToken, TokenType: "Bearer", Expiry: expiry}, nil
}

// GenerateAccessToken mints an access token for target through delegates
// (Airflow's impersonation_chain without its last element). The token is a
// secret: never log it or keep it.
func (c *Client) GenerateAccessToken(ctx context.Context, target string, delegates, scopes []string) (*oauth2.Token, error) {
	if len(scopes) == 0 {
		scopes = []string{CloudPlatformScope}
	}
	return generateAccessToken(ctx, c.creds, target, delegates, scopes)
}

// GenerateIDToken mints a Google-signed ID token for target through
// delegates, with aud = audience and the email claim when includeEmail is
// set. The token is a secret: never log it or keep it.
func (c *Client) GenerateIDToken(ctx context.Context, target string, delegates []string, audience string, includeEmail bool) (string, error) {
	return generateIDToken(ctx, c.creds, target, delegates, audience, includeEmail)
}

func generateIDToken(ctx context.Context, svc *iamcredentials.Service, target string, delegates []string, audience string, includeEmail bool) (string, error) {
	resp, err := svc.Projects.ServiceAccounts.GenerateIdToken(accountName(target), &iamcredentials.GenerateIdTokenRequest{
		Delegates:    delegateNames(delegates),
		Audience:     audience,
		IncludeEmail: includeEmail,
	}).Context(ctx).Do()
	if err != nil {
		return "", err
	}
	return resp.Token, nil
}
