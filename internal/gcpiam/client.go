// Package gcpiam reads Google service accounts and edits their IAM policies
// one member at a time, safely under concurrency, and mints tokens through
// impersonation chains. It knows nothing of Terraform.
package gcpiam

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	cloudresourcemanager "google.golang.org/api/cloudresourcemanager/v1"
	iam "google.golang.org/api/iam/v1"
	iamcredentials "google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/option"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/retry"
)

// DefaultOAuth2Endpoint serves Google's tokeninfo and ID-token signing keys.
const DefaultOAuth2Endpoint = "https://www.googleapis.com/"

// CloudPlatformScope is the OAuth scope the provider asks for.
const CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// Environment variables the Google tools read, used when the matching
// setting is empty.
const (
	EnvAccessToken = "GOOGLE_OAUTH_ACCESS_TOKEN"
	// EnvApplicationCredentials is read by Application Default Credentials
	// itself; it is named here for documentation and error messages.
	EnvApplicationCredentials = "GOOGLE_APPLICATION_CREDENTIALS"
)

// Config selects the provider's own Google identity and endpoints. With
// nothing set, Application Default Credentials are used.
type Config struct {
	// Credentials is a path to a credentials JSON file, or the JSON itself.
	Credentials string
	// AccessToken is a ready OAuth 2.0 access token; it wins over Credentials.
	AccessToken string
	// ImpersonateServiceAccount, when set, is the identity the provider acts
	// as, reached from the base credentials through Delegates.
	ImpersonateServiceAccount string
	Delegates                 []string
	// Endpoint overrides (base URLs such as "http://127.0.0.1:8080/"), for
	// tests and sandboxes.
	IAMEndpoint            string
	IAMCredentialsEndpoint string
	// ResourceManagerEndpoint serves Cloud Resource Manager v1, read only
	// by the check, for grants a service account inherits from its project.
	ResourceManagerEndpoint string
	// OAuth2Endpoint serves oauth2/v3/tokeninfo and oauth2/v3/certs (the
	// keys that sign Google ID tokens). Default https://www.googleapis.com/.
	OAuth2Endpoint string
	UserAgent      string
	// HTTPClient is the transport under the OAuth layer; nil means the
	// default one.
	HTTPClient *http.Client
	// Retry bounds the read-modify-write retries; zero fields take defaults.
	Retry Retry
	// Requests is the retry policy of every single request (internal/retry);
	// zero fields take defaults, and Idempotent is always IdempotentRequest.
	Requests retry.Policy
}

// Client talks to IAM and IAM Credentials with one identity.
type Client struct {
	iam   *iam.Service
	creds *iamcredentials.Service
	// baseCreds calls IAM Credentials as the base credentials, before
	// impersonate_service_account: the provider's own ID tokens are minted
	// by the base identity on the impersonated account, as a worker's are.
	baseCreds *iamcredentials.Service
	crm       *cloudresourcemanager.Service
	retry     Retry

	// What the provider's own identity is, for ID tokens of its own and for
	// tokeninfo.
	tokens      oauth2.TokenSource
	impersonate string
	delegates   []string
	credsJSON   []byte
	oauth2      string
	http        *http.Client // the transport without OAuth

	mu       sync.Mutex
	accounts map[string]*ServiceAccount // by lower-cased email and by unique ID
	// keys are Google's ID-token signing keys by kid, fetched at keysFetched.
	keys        map[string]*rsa.PublicKey
	keysFetched time.Time
	locks       map[string]*sync.Mutex // by lower-cased email
	// planned is the policy PlanPolicy read last, by resource name, for
	// the next write to that account (policy.go).
	planned map[string]plannedPolicy
}

// NewClient checks the configuration and builds the service clients. It
// makes no network call: credentials are resolved on first use, so an
// unused google block costs nothing.
func NewClient(ctx context.Context, cfg Config) (*Client, error) {
	// Tokens are fetched long after the caller's request has ended.
	ctx = context.WithoutCancel(ctx)
	if cfg.AccessToken == "" && cfg.Credentials == "" {
		cfg.AccessToken = os.Getenv(EnvAccessToken)
	}
	if len(cfg.Delegates) > 0 && cfg.ImpersonateServiceAccount == "" {
		return nil, errors.New("impersonate_service_account_delegates needs impersonate_service_account")
	}
	var credsJSON []byte
	if cfg.AccessToken == "" && cfg.Credentials != "" {
		var err error
		if credsJSON, err = readCredentials(cfg.Credentials); err != nil {
			return nil, err
		}
	}
	base := &lazyTokenSource{resolve: func() (oauth2.TokenSource, error) {
		return baseTokenSource(ctx, cfg.AccessToken, credsJSON, cfg.HTTPClient)
	}}

	transport := http.RoundTripper(http.DefaultTransport)
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		transport = cfg.HTTPClient.Transport
	}
	// Every Google request, token exchanges included, goes through the one
	// retry policy.
	requests := cfg.Requests
	requests.Idempotent = IdempotentRequest
	transport = retry.NewTransport(transport, requests)
	cfg.HTTPClient = &http.Client{Transport: transport}
	var ts oauth2.TokenSource = base
	var baseCreds *iamcredentials.Service
	if cfg.ImpersonateServiceAccount != "" {
		// The provider's own impersonation goes through the configured IAM
		// Credentials endpoint; google.golang.org/api/impersonate would
		// ignore an endpoint override.
		baseSvc, err := newServices(ctx, cfg, transport, base)
		if err != nil {
			return nil, err
		}
		baseCreds = baseSvc.creds
		ts = oauth2.ReuseTokenSource(nil, &chainTokenSource{
			ctx: ctx, creds: baseCreds, target: cfg.ImpersonateServiceAccount,
			delegates: cfg.Delegates, scopes: []string{CloudPlatformScope},
		})
	}
	svc, err := newServices(ctx, cfg, transport, ts)
	if err != nil {
		return nil, err
	}
	oauth2URL := cfg.OAuth2Endpoint
	if oauth2URL == "" {
		oauth2URL = DefaultOAuth2Endpoint
	}
	return &Client{
		iam:         svc.iam,
		creds:       svc.creds,
		baseCreds:   baseCreds,
		crm:         svc.crm,
		tokens:      ts,
		impersonate: cfg.ImpersonateServiceAccount,
		delegates:   cfg.Delegates,
		credsJSON:   credsJSON,
		oauth2:      strings.TrimSuffix(oauth2URL, "/") + "/",
		http:        &http.Client{Transport: transport},
		retry:       cfg.Retry.withDefaults(),
		accounts:    map[string]*ServiceAccount{},
		locks:       map[string]*sync.Mutex{},
		planned:     map[string]plannedPolicy{},
	}, nil
}

// services are the API clients of one identity.
type services struct {
	iam   *iam.Service
	creds *iamcredentials.Service
	crm   *cloudresourcemanager.Service
}

// newServices builds the API clients that authenticate with ts, at the
// configured endpoints.
func newServices(ctx context.Context, cfg Config, transport http.RoundTripper, ts oauth2.TokenSource) (*services, error) {
	hc := &http.Client{Transport: &oauth2.Transport{Source: ts, Base: transport}}
	opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if cfg.UserAgent != "" {
		opts = append(opts, option.WithUserAgent(cfg.UserAgent))
	}
	var svc services
	var err error
	if svc.iam, err = iam.NewService(ctx, withEndpoint(opts, cfg.IAMEndpoint)...); err != nil {
		return nil, fmt.Errorf("building the IAM client: %w", err)
	}
	if svc.creds, err = iamcredentials.NewService(ctx, withEndpoint(opts, cfg.IAMCredentialsEndpoint)...); err != nil {
		return nil, fmt.Errorf("building the IAM Credentials client: %w", err)
	}
	if svc.crm, err = cloudresourcemanager.NewService(ctx, withEndpoint(opts, cfg.ResourceManagerEndpoint)...); err != nil {
		return nil, fmt.Errorf("building the Cloud Resource Manager client: %w", err)
	}
	return &svc, nil
}

// AuthorizedHTTPClient is an HTTP client that authenticates as the
// provider's own Google identity, for other Google APIs.
func (c *Client) AuthorizedHTTPClient() *http.Client {
	return &http.Client{Transport: &oauth2.Transport{Source: c.tokens, Base: c.http.Transport}}
}

func withEndpoint(opts []option.ClientOption, endpoint string) []option.ClientOption {
	if endpoint == "" {
		return opts
	}
	if !strings.HasSuffix(endpoint, "/") {
		endpoint += "/"
	}
	return append(append([]option.ClientOption{}, opts...), option.WithEndpoint(endpoint))
}

// readCredentials returns the JSON itself, or the contents of the file it
// names.
func readCredentials(v string) ([]byte, error) {
	if strings.HasPrefix(strings.TrimSpace(v), "{") {
		return []byte(v), nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return nil, fmt.Errorf("credentials is neither JSON nor a readable file: %w", err)
	}
	return b, nil
}

// credentialTypes are the credential files the provider accepts.
var credentialTypes = []google.CredentialsType{
	google.ServiceAccount, google.AuthorizedUser, google.ExternalAccount,
	google.ExternalAccountAuthorizedUser, google.ImpersonatedServiceAccount,
}

func baseTokenSource(ctx context.Context, accessToken string, credsJSON []byte, hc *http.Client) (oauth2.TokenSource, error) {
	if accessToken != "" {
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"}), nil
	}
	if hc != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	}
	if credsJSON != nil {
		var f struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(credsJSON, &f); err != nil {
			return nil, fmt.Errorf("credentials is not valid JSON: %w", err)
		}
		for _, t := range credentialTypes {
			if google.CredentialsType(f.Type) == t {
				creds, err := google.CredentialsFromJSONWithType(ctx, credsJSON, t, CloudPlatformScope)
				if err != nil {
					return nil, fmt.Errorf("reading credentials: %w", err)
				}
				return creds.TokenSource, nil
			}
		}
		return nil, fmt.Errorf("credentials has type %q; expected one of service_account, authorized_user, external_account, external_account_authorized_user, impersonated_service_account", f.Type)
	}
	creds, err := google.FindDefaultCredentials(ctx, CloudPlatformScope)
	if err != nil {
		return nil, fmt.Errorf("no Google credentials: set credentials or access_token in the provider's google block, "+
			"%s, or %s, or run `gcloud auth application-default login` (%w)", EnvAccessToken, EnvApplicationCredentials, err)
	}
	return creds.TokenSource, nil
}

// lazyTokenSource resolves its credentials on first use and remembers the
// outcome, error included.
type lazyTokenSource struct {
	resolve func() (oauth2.TokenSource, error)
	once    sync.Once
	ts      oauth2.TokenSource
	err     error
}

func (l *lazyTokenSource) Token() (*oauth2.Token, error) {
	l.once.Do(func() {
		ts, err := l.resolve()
		if err == nil {
			ts = oauth2.ReuseTokenSource(nil, ts)
		}
		l.ts, l.err = ts, err
	})
	if l.err != nil {
		return nil, l.err
	}
	return l.ts.Token()
}

// chainTokenSource mints access tokens for target through delegates.
type chainTokenSource struct {
	ctx       context.Context
	creds     *iamcredentials.Service
	target    string
	delegates []string
	scopes    []string
}

func (c *chainTokenSource) Token() (*oauth2.Token, error) {
	tok, err := generateAccessToken(c.ctx, c.creds, c.target, c.delegates, c.scopes)
	if err != nil {
		return nil, fmt.Errorf("impersonating %s: %w", c.target, err)
	}
	return tok, nil
}
