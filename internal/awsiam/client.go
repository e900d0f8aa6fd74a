// Package awsiam manages the AWS IAM roles that trust Google service
// accounts through web-identity federation (create, read, update, delete,
// with IAM's eventual consistency allowed for) and talks to STS for them:
// AssumeRoleWithWebIdentity, GetCallerIdentity and the caller's own
// account. Client holds the IAM and STS clients, built from an aws.Config
// the caller loads once. Trust-policy documents themselves (parsing,
// building, comparing, evaluating) live in package awspolicy. It knows
// nothing of Terraform.
package awsiam

import (
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Endpoints override the IAM and STS endpoints, for tests and sandboxes.
// Empty means the SDK's endpoint for the configuration's region.
type Endpoints struct {
	IAM string
	STS string
}

// Client holds the IAM and STS clients.
type Client struct {
	IAM    *iam.Client
	STS    *sts.Client
	Region string

	callerMu      sync.Mutex
	callerAccount string // cached by CallerAccount once known
}

// NewClient builds the IAM and STS clients from cfg, which is shared with
// the other AWS service packages; it calls no AWS API.
func NewClient(cfg aws.Config, endpoints Endpoints) *Client {
	return &Client{
		IAM: iam.NewFromConfig(cfg, func(o *iam.Options) {
			if endpoints.IAM != "" {
				o.BaseEndpoint = aws.String(endpoints.IAM)
			}
		}),
		STS: sts.NewFromConfig(cfg, func(o *sts.Options) {
			if endpoints.STS != "" {
				o.BaseEndpoint = aws.String(endpoints.STS)
			}
		}),
		Region: cfg.Region,
	}
}
