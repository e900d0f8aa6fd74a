package awsiam

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// RoleNameFromARN is the role name of a role ARN (the part after the last
// slash of arn:aws:iam::ACCOUNT:role/PATH/NAME).
func RoleNameFromARN(roleARN string) (string, error) {
	parsed, err := arn.Parse(roleARN)
	if err != nil || parsed.Service != "iam" || !strings.HasPrefix(parsed.Resource, "role/") {
		return "", fmt.Errorf("%q is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)", roleARN)
	}
	return parsed.Resource[strings.LastIndex(parsed.Resource, "/")+1:], nil
}

// TrustPolicy reads only the trust policy of the role with this ARN.
func (c *Client) TrustPolicy(ctx context.Context, roleARN string) (string, error) {
	name, err := RoleNameFromARN(roleARN)
	if err != nil {
		return "", err
	}
	out, err := c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		return "", err
	}
	return url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument))
}

// TemporaryCredentials are what AssumeRoleWithWebIdentity returns. They are
// secrets: never log or keep them.
type TemporaryCredentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
	AssumedRoleARN                             string
}

// AssumeRoleWithWebIdentity exchanges a web-identity token for temporary
// credentials. It needs no AWS credentials of its own.
func (c *Client) AssumeRoleWithWebIdentity(ctx context.Context, roleARN, sessionName, token string) (*TemporaryCredentials, error) {
	out, err := c.STS.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn:          aws.String(roleARN),
		RoleSessionName:  aws.String(sessionName),
		WebIdentityToken: aws.String(token),
	}, func(o *sts.Options) { o.Credentials = aws.AnonymousCredentials{} })
	if err != nil {
		return nil, err
	}
	if out.Credentials == nil {
		return nil, errors.New("STS returned no credentials")
	}
	creds := &TemporaryCredentials{
		AccessKeyID:     aws.ToString(out.Credentials.AccessKeyId),
		SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken:    aws.ToString(out.Credentials.SessionToken),
		Expiration:      aws.ToTime(out.Credentials.Expiration),
	}
	if out.AssumedRoleUser != nil {
		creds.AssumedRoleARN = aws.ToString(out.AssumedRoleUser.Arn)
	}
	return creds, nil
}

// CallerIdentity calls GetCallerIdentity with the given credentials and
// returns the account and the ARN they belong to.
func (c *Client) CallerIdentity(ctx context.Context, creds *TemporaryCredentials) (account, arn string, err error) {
	out, err := c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	})
	if err != nil {
		return "", "", err
	}
	return aws.ToString(out.Account), aws.ToString(out.Arn), nil
}

// CallerAccount is the account of the provider's own AWS credentials
// (GetCallerIdentity), cached once known. A failure is not cached, so a
// later call tries again.
func (c *Client) CallerAccount(ctx context.Context) (string, error) {
	c.callerMu.Lock()
	defer c.callerMu.Unlock()
	if c.callerAccount != "" {
		return c.callerAccount, nil
	}
	out, err := c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", err
	}
	account := aws.ToString(out.Account)
	if account == "" {
		return "", errors.New("GetCallerIdentity returned no account")
	}
	c.callerAccount = account
	return account, nil
}
