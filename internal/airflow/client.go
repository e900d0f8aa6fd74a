// Package airflow holds what the provider knows of Apache Airflow
// connections. It knows nothing about Terraform.
//
//   - Client: a small typed client for the connection endpoints of the REST
//     API, /api/v1 on Airflow 2 and /api/v2 on Airflow 3, with
//     authentication (basic auth, Airflow 3 JWT login or a static bearer
//     token), API version detection (the probe and the login done once per
//     Client, a failure shared: flight.go), one retry policy with a
//     per-attempt timeout (retry.go), creates that survive a lost answer
//     (adopt.go), decoding of Airflow's error bodies, and a listing
//     snapshot that keeps refreshes of many connections cheap
//     (ReadConnection).
//   - Connection, the model, and its textual forms as Airflow itself
//     renders and parses them: the URI and JSON forms of AIRFLOW_CONN_<ID>
//     (codec.go), and the value of a secret that holds one connection in a
//     secrets backend (secretvalue.go).
//   - UnmaskExtra: puts back the values Airflow masks as "***" in what it
//     returns.
package airflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/clock"
)

// API versions accepted in Config.APIVersion.
const (
	// VersionAuto detects the API version with one probe of the server.
	VersionAuto = "auto"
	// VersionV1 is the Airflow 2 REST API, served under /api/v1.
	VersionV1 = "v1"
	// VersionV2 is the Airflow 3 REST API, served under /api/v2.
	VersionV2 = "v2"
)

// Versions lists every value accepted in Config.APIVersion (besides "",
// which means VersionAuto).
var Versions = []string{VersionAuto, VersionV1, VersionV2}

const (
	// DefaultRequestTimeout bounds each attempt of a request (Config.RequestTimeout).
	DefaultRequestTimeout = 60 * time.Second
	// With these defaults a request is sent at most 5 times and waits at
	// most 0.75s + 1.5s + 3s + 4s = 9.25s in all between attempts, so
	// against a server that answers 503 at once it gives up in about 10s
	// (measured: 8.4s); Retry-After waits may use up to 4 x 4s = 16s
	// (waitBudget).
	defaultMaxRetries   = 4
	defaultRetryWaitMin = 500 * time.Millisecond
	defaultRetryWaitMax = 4 * time.Second
	defaultUserAgent    = "airflowiam-go-client"

	// healthPath is public on Airflow 3 and missing (404) on Airflow 2.
	healthPath = "/api/v2/monitor/health"
	// tokenPath is the Airflow 3 login endpoint, relative to the endpoint.
	tokenPath = "/auth/token"
)

// Config configures a Client.
type Config struct {
	// Endpoint is the base URL of the Airflow API server, for example
	// "https://airflow.example.com". A trailing slash and a trailing
	// "/api/v1" or "/api/v2" are stripped.
	Endpoint string
	// Username and Password are used for basic auth (Airflow 2) or to
	// obtain a JWT from POST /auth/token (Airflow 3).
	Username string
	Password string
	// Token is a static bearer token. When set, Username and Password are
	// not used.
	Token string
	// TransportAuth, when set, says that HTTPClient's transport
	// authenticates every request itself (a managed Airflow such as Amazon
	// MWAA, reached through its cloud's API): the client then sends no
	// Authorization header and never logs in, Username, Password and Token
	// must be empty, and TransportAuth describes the authentication in error
	// messages (APIError.AuthMethod), for example "MWAA InvokeRestApi".
	TransportAuth string
	// APIVersion is "", "auto", "v1" or "v2"; "" means "auto".
	APIVersion string
	// HTTPClient is the HTTP client to use; nil means a default client.
	HTTPClient *http.Client
	// RequestTimeout bounds each attempt of a request, from sending it to
	// reading the whole answer; an attempt that runs out is retried like a
	// lost answer. 0 means DefaultRequestTimeout; a negative value means no
	// limit but the caller's context.
	RequestTimeout time.Duration
	// UserAgent is sent in the User-Agent header.
	UserAgent string
	// MaxRetries bounds the retries of one request: 0 means the default
	// (4), a negative value disables retries.
	MaxRetries int
	// RetryWaitMin and RetryWaitMax bound the wait between retries; 0
	// means the defaults (500ms and 4s).
	RetryWaitMin, RetryWaitMax time.Duration
	// BulkWrites gathers concurrent writes on Airflow 3 into bulk requests
	// (see bulk.go).
	BulkWrites bool
	// Logger, when set, receives debug messages. It is never given
	// passwords, tokens, Authorization headers or request/response bodies.
	Logger func(ctx context.Context, msg string, fields map[string]any)
}

// Client talks to the connection endpoints of one Airflow API server. It is
// safe for concurrent use.
type Client struct {
	endpoint          string
	username          string
	password          string
	token             string
	transportAuth     string
	configuredVersion string
	httpClient        *http.Client
	requestTimeout    time.Duration
	userAgent         string
	maxRetries        int
	retryWaitMin      time.Duration
	retryWaitMax      time.Duration
	logger            func(ctx context.Context, msg string, fields map[string]any)

	// sleep waits between retries; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error

	// version is the probed API version, jwt the Airflow 3 access token:
	// each obtained once for all callers, a failure shared (see shared).
	version shared[string]
	jwt     shared[string]

	// snap is the connections listed for refreshes (see ReadConnection).
	snap snapshot

	// bulkWrites and bulk gather writes on Airflow 3 (bulk.go).
	bulkWrites bool
	bulk       bulker
}

// NewClient validates cfg and returns a Client. It does no network I/O.
func NewClient(cfg Config) (*Client, error) {
	endpoint, err := normalizeEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}

	version, err := apiVersion(cfg.APIVersion)
	if err != nil {
		return nil, err
	}
	if err := checkCredentials(cfg); err != nil {
		return nil, err
	}

	c := &Client{
		endpoint:          endpoint,
		token:             cfg.Token,
		transportAuth:     cfg.TransportAuth,
		configuredVersion: version,
		httpClient:        cfg.HTTPClient,
		requestTimeout:    cfg.RequestTimeout,
		bulkWrites:        cfg.BulkWrites,
		userAgent:         cfg.UserAgent,
		maxRetries:        cfg.MaxRetries,
		retryWaitMin:      cfg.RetryWaitMin,
		retryWaitMax:      cfg.RetryWaitMax,
		logger:            cfg.Logger,
		sleep:             clock.Sleep,
	}
	if cfg.Token == "" && cfg.TransportAuth == "" {
		c.username, c.password = cfg.Username, cfg.Password
	}
	c.applyDefaults()
	return c, nil
}

// apiVersion is the configured API version, lower-cased, VersionAuto when
// empty; it must be one of Versions.
func apiVersion(configured string) (string, error) {
	version := strings.ToLower(strings.TrimSpace(configured))
	if version == "" {
		version = VersionAuto
	}
	if !slices.Contains(Versions, version) {
		return "", fmt.Errorf("invalid API version %q: must be one of %s", configured, strings.Join(Versions, ", "))
	}
	return version, nil
}

// checkCredentials requires a token, or a username and a password, or a
// transport that authenticates (and then none of the others).
func checkCredentials(cfg Config) error {
	if cfg.TransportAuth != "" {
		if cfg.Token != "" || cfg.Username != "" || cfg.Password != "" {
			return fmt.Errorf("%s authenticates every request: set no token, username or password with it", cfg.TransportAuth)
		}
		return nil
	}
	if cfg.Token != "" {
		return nil
	}
	switch {
	case cfg.Username == "" && cfg.Password == "":
		return errors.New("no Airflow credentials: set a token, or a username and password")
	case cfg.Username == "":
		return errors.New("a username is required when a password is set")
	case cfg.Password == "":
		return errors.New("a password is required when a username is set")
	}
	return nil
}

// applyDefaults fills in what the configuration left unset: the HTTP
// client, the per-request timeout, the user agent and the retry policy (a
// negative MaxRetries means no retries; a maximum wait below the minimum is
// raised to it).
func (c *Client) applyDefaults() {
	if c.httpClient == nil {
		c.httpClient = &http.Client{}
	}
	switch {
	case c.requestTimeout == 0:
		c.requestTimeout = DefaultRequestTimeout
	case c.requestTimeout < 0:
		c.requestTimeout = 0
	}
	if c.userAgent == "" {
		c.userAgent = defaultUserAgent
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = defaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.retryWaitMin <= 0 {
		c.retryWaitMin = defaultRetryWaitMin
	}
	if c.retryWaitMax <= 0 {
		c.retryWaitMax = defaultRetryWaitMax
	}
	if c.retryWaitMax < c.retryWaitMin {
		c.retryWaitMax = c.retryWaitMin
	}
}

// normalizeEndpoint checks that raw is an absolute http(s) URL without
// credentials, query or fragment, and strips a trailing slash and a trailing
// /api/v1 or /api/v2.
func normalizeEndpoint(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errors.New("an endpoint is required")
	}
	u, err := url.Parse(s)
	if err != nil {
		// The *url.Error repeats the whole input, which could hold
		// credentials; keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("invalid endpoint: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("invalid endpoint %q: must be an absolute http:// or https:// URL", u.Redacted())
	}
	if u.User != nil {
		return "", fmt.Errorf("invalid endpoint %q: must not contain credentials; set the username and password instead", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("invalid endpoint %q: must not contain a query or fragment", u.Redacted())
	}

	p := strings.TrimRight(u.EscapedPath(), "/")
	for _, suffix := range []string{"/api/v1", "/api/v2"} {
		if strings.HasSuffix(p, suffix) {
			p = strings.TrimRight(strings.TrimSuffix(p, suffix), "/")
			break
		}
	}
	return u.Scheme + "://" + u.Host + p, nil
}

// Endpoint returns the normalised base URL, without a trailing slash or API
// prefix.
func (c *Client) Endpoint() string {
	return c.endpoint
}

// APIVersion returns VersionV1 or VersionV2. When the client was configured
// with VersionAuto it probes GET /api/v2/monitor/health once (2xx means v2,
// 404 means v1) and remembers the answer; concurrent callers share one
// probe, and a failed probe (after its retries) is remembered too: every
// caller gets its error at once (see shared).
func (c *Client) APIVersion(ctx context.Context) (string, error) {
	if c.configuredVersion != VersionAuto {
		return c.configuredVersion, nil
	}
	return c.version.get(ctx, c.probeVersion)
}

func (c *Client) probeVersion(ctx context.Context) (string, error) {
	u := c.endpoint + healthPath
	resp, err := c.send(ctx, outgoing{method: http.MethodGet, url: u, retry: true})
	if err != nil {
		return "", fmt.Errorf("detecting the Airflow API version: %w", err)
	}
	switch {
	case resp.status >= 200 && resp.status < 300:
		if err := checkJSON(http.MethodGet, u, resp); err != nil {
			return "", fmt.Errorf("detecting the Airflow API version: %w; is %s an Airflow API server?", err, c.endpoint)
		}
		c.log(ctx, "detected Airflow API version", map[string]any{"url": u, "api_version": VersionV2})
		return VersionV2, nil
	case resp.status == http.StatusNotFound:
		c.log(ctx, "detected Airflow API version", map[string]any{"url": u, "api_version": VersionV1})
		return VersionV1, nil
	default:
		return "", fmt.Errorf("detecting the Airflow API version (configure the API version as v1 or v2 to skip detection): %w",
			newAPIError(http.MethodGet, u, resp, ""))
	}
}

// log passes msg and fields to the configured logger, if any. Callers must
// never put secrets or bodies in fields.
func (c *Client) log(ctx context.Context, msg string, fields map[string]any) {
	if c.logger != nil {
		c.logger(ctx, msg, fields)
	}
}
