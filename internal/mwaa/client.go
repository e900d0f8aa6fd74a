package mwaa

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/mwaa"
	"github.com/aws/aws-sdk-go-v2/service/mwaa/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// NamePattern is what MWAA accepts as an environment name (1 to 80
// characters; API_InvokeRestApi.html, the Name URI parameter).
var NamePattern = regexp.MustCompile(`^[a-zA-Z][0-9a-zA-Z\-_]{0,79}$`)

// MaxPathLength bounds InvokeRestApi's Path.
const MaxPathLength = 64

// Config configures a Client.
type Config struct {
	// AWS is the provider's one AWS configuration (credentials, region).
	AWS aws.Config
	// Endpoint overrides MWAA's endpoint (a test double); "" means AWS's.
	Endpoint string
	// Environment is the MWAA environment's name.
	Environment string
	// Identity names the caller's AWS identity for error messages (its
	// GetCallerIdentity ARN); nil, or a failure, leaves it unnamed.
	Identity func(ctx context.Context) (string, error)
}

// Client reaches one MWAA environment. It is safe for concurrent use.
type Client struct {
	api      *mwaa.Client
	name     string
	region   string
	identity func(ctx context.Context) (string, error)

	identityOnce sync.Once
	identityARN  string
}

// New builds the MWAA client. It calls no AWS API.
func New(cfg Config) (*Client, error) {
	if !NamePattern.MatchString(cfg.Environment) {
		return nil, fmt.Errorf("invalid MWAA environment name %q: it starts with a letter and has only letters, digits, "+
			"hyphens and underscores, at most 80 characters", cfg.Environment)
	}
	api := mwaa.NewFromConfig(cfg.AWS, func(o *mwaa.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			// The SDK would send GetEnvironment to api.HOST and
			// InvokeRestApi to env.HOST; an override names the host.
			o.APIOptions = append(o.APIOptions, disableHostPrefix)
		}
	})
	return &Client{api: api, name: cfg.Environment, region: cfg.AWS.Region, identity: cfg.Identity}, nil
}

func disableHostPrefix(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("airflowiamDisableHostPrefix",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
		}), middleware.Before)
}

// Environment is what the provider needs of an MWAA environment.
type Environment struct {
	Name           string
	ARN            string
	Region         string
	Account        string
	AirflowVersion string
	Status         string
	// WebserverURL is the environment's webserver (a host name), used
	// only to name requests in messages.
	WebserverURL string
	// APIVersion is the airflow package's API version for AirflowVersion:
	// "v1" on Airflow 2, "v2" on Airflow 3.
	APIVersion string
}

// RoleARN is the resource an airflow:InvokeRestApi grant names to map its
// caller to the Airflow role.
func (e *Environment) RoleARN(role string) string {
	return fmt.Sprintf("arn:aws:airflow:%s:%s:role/%s/%s", e.Region, e.Account, e.Name, role)
}

// readyStatuses are the statuses in which the environment serves requests.
var readyStatuses = []types.EnvironmentStatus{types.EnvironmentStatusAvailable, types.EnvironmentStatusUpdateFailed}

// Environment reads the environment (GetEnvironment) and checks that its
// Airflow REST API can be used through InvokeRestApi; every failure is one
// error that says what to do.
func (c *Client) Environment(ctx context.Context) (*Environment, error) {
	out, err := c.api.GetEnvironment(ctx, &mwaa.GetEnvironmentInput{Name: aws.String(c.name)})
	if err != nil {
		return nil, c.environmentError(ctx, err)
	}
	if out.Environment == nil {
		return nil, fmt.Errorf("MWAA GetEnvironment for %q returned no environment", c.name)
	}
	e := out.Environment
	env := &Environment{
		Name:           c.name,
		ARN:            aws.ToString(e.Arn),
		Region:         c.region,
		AirflowVersion: aws.ToString(e.AirflowVersion),
		Status:         string(e.Status),
		WebserverURL:   aws.ToString(e.WebserverUrl),
	}
	if parsed, err := arn.Parse(env.ARN); err == nil {
		env.Region, env.Account = parsed.Region, parsed.AccountID
	}
	ready := false
	for _, s := range readyStatuses {
		ready = ready || e.Status == s
	}
	if !ready {
		return nil, fmt.Errorf("MWAA environment %s is %s, not AVAILABLE: its Airflow REST API cannot be reached until it is; "+
			"see its status in the MWAA console (aws mwaa get-environment --name %s) and plan again once it is available",
			c.name, statusText(env.Status), c.name)
	}
	if env.APIVersion, err = apiVersion(env.AirflowVersion); err != nil {
		return nil, fmt.Errorf("MWAA environment %s: %w", c.name, err)
	}
	return env, nil
}

func statusText(s string) string {
	if s == "" {
		return "in no status"
	}
	return s
}

// apiVersion maps an Airflow version to the REST API the provider speaks;
// InvokeRestApi needs Airflow 2.4.3 or later.
func apiVersion(version string) (string, error) {
	parts := strings.SplitN(version, ".", 4)
	nums := make([]int, 3)
	for i := range nums {
		if i >= len(parts) {
			break
		}
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return "", fmt.Errorf("unrecognised Airflow version %q", version)
		}
		nums[i] = n
	}
	switch {
	case version == "" || len(parts) < 2:
		return "", fmt.Errorf("unrecognised Airflow version %q", version)
	case nums[0] == 3:
		return "v2", nil
	case nums[0] == 2 && (nums[1] > 4 || (nums[1] == 4 && nums[2] >= 3)):
		return "v1", nil
	case nums[0] == 2:
		return "", fmt.Errorf("it runs Airflow %s, and MWAA's InvokeRestApi serves Airflow 2.4.3 and later: upgrade the environment", version)
	default:
		return "", fmt.Errorf("it runs Airflow %s; the provider speaks the REST API of Airflow 2 (/api/v1) and 3 (/api/v2) only", version)
	}
}

// environmentError explains a failed GetEnvironment.
func (c *Client) environmentError(ctx context.Context, err error) error {
	var notFound *types.ResourceNotFoundException
	var denied *types.AccessDeniedException
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("MWAA environment %q was not found in region %s (GetEnvironment: %s): check airflow.mwaa_environment "+
			"and the aws block's region", c.name, c.region, notFound.ErrorMessage())
	case errors.As(err, &denied):
		return fmt.Errorf("MWAA refused GetEnvironment on environment %q to %s: %s. Grant it airflow:GetEnvironment on "+
			"arn:aws:airflow:%s:ACCOUNT:environment/%s", c.name, c.who(ctx), denied.ErrorMessage(), c.region, c.name)
	}
	return fmt.Errorf("reading MWAA environment %q: %w", c.name, err)
}

// who names the caller's AWS identity, once looked up.
func (c *Client) who(ctx context.Context) string {
	c.identityOnce.Do(func() {
		if c.identity == nil {
			return
		}
		if id, err := c.identity(ctx); err == nil {
			c.identityARN = id
		}
	})
	if c.identityARN == "" {
		return "the provider's AWS identity"
	}
	return c.identityARN
}
