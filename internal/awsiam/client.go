// Package awsiam talks to AWS for the provider: it builds the IAM, STS,
// Secrets Manager and KMS clients, creates, reads, updates and deletes IAM
// roles with their attached and inline policies, reads a role's trust
// policy, and exchanges web-identity tokens with STS. Trust-policy
// documents themselves (parsing, building, comparing, evaluating) live in
// package awspolicy. It knows nothing of Terraform.
package awsiam

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Config selects credentials, region and endpoints. Empty fields fall back
// to the AWS SDK's default chain (environment, shared config and profile,
// web identity, instance metadata).
type Config struct {
	Region    string
	Profile   string
	AccessKey string // static credentials; both or neither with SecretKey
	SecretKey string
	// Endpoint overrides, for tests and sandboxes.
	IAMEndpoint            string
	STSEndpoint            string
	SecretsManagerEndpoint string
	KMSEndpoint            string
	UserAgent              string
}

// Client holds the AWS service clients the provider uses.
type Client struct {
	IAM            *iam.Client
	STS            *sts.Client
	SecretsManager *secretsmanager.Client
	KMS            *kms.Client
	Region         string

	callerMu      sync.Mutex
	callerAccount string // cached by CallerAccount once known
}

// NewClient resolves the configuration (reading shared config files, but
// calling no AWS API) and builds the service clients.
func NewClient(ctx context.Context, cfg Config) (*Client, error) {
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("access_key and secret_key must be set together")
	}
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	if cfg.UserAgent != "" {
		opts = append(opts, config.WithAppID(cfg.UserAgent))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("no AWS region: set region in the provider's aws block, or AWS_REGION")
	}
	return &Client{
		IAM: iam.NewFromConfig(awsCfg, func(o *iam.Options) {
			if cfg.IAMEndpoint != "" {
				o.BaseEndpoint = aws.String(cfg.IAMEndpoint)
			}
		}),
		STS: sts.NewFromConfig(awsCfg, func(o *sts.Options) {
			if cfg.STSEndpoint != "" {
				o.BaseEndpoint = aws.String(cfg.STSEndpoint)
			}
		}),
		SecretsManager: secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) {
			if cfg.SecretsManagerEndpoint != "" {
				o.BaseEndpoint = aws.String(cfg.SecretsManagerEndpoint)
			}
		}),
		KMS: kms.NewFromConfig(awsCfg, func(o *kms.Options) {
			if cfg.KMSEndpoint != "" {
				o.BaseEndpoint = aws.String(cfg.KMSEndpoint)
			}
		}),
		Region: awsCfg.Region,
	}, nil
}
