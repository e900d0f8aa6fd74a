package awsiam

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go/middleware"
)

// Retry settings of every AWS client the provider builds.
const (
	// RetryAttempts bounds the tries of one AWS call, the first included
	// (the SDK's default is 3).
	RetryAttempts = 5
	// RetryMaxBackoff caps one wait between tries (the SDK's default 20 s).
	RetryMaxBackoff = 10 * time.Second
	// DefaultRequestTimeout bounds each attempt when none is configured.
	DefaultRequestTimeout = 60 * time.Second
)

// WithRetries returns cfg with the one retry policy of the provider's AWS
// clients: the SDK's standard retryer, bounded to RetryAttempts tries, and
// an HTTP client whose timeout bounds each attempt (the retry middleware
// sends each attempt as its own HTTP request, so http.Client.Timeout, which
// covers reading the body too, is a per-attempt limit). A call whose
// attempts run out fails with the SDK's error (the number of attempts and
// the last answer) and how long it took (ElapsedError).
//
// What the standard retryer retries, from aws-sdk-go-v2 aws/retry
// (standard.go DefaultRetryables, retryable_error.go; documented at
// https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
// and https://pkg.go.dev/github.com/aws/aws-sdk-go-v2/aws/retry):
// HTTP 500, 502, 503 and 504; 429 and the throttling error codes
// (Throttling, ThrottlingException, RequestLimitExceeded, ...); the
// RequestTimeout codes; connection errors (reset, refused, "use of closed
// network connection", dial and temporary network errors) and timeouts,
// client timeouts included. Back-off is exponential with full jitter, and
// the x-amz-retry-after header is honoured (middleware.go). It does not by
// itself retry a body cut short (io.ErrUnexpectedEOF while decoding), which
// is added here. Note that the SDK retries every operation, CreateRole and
// CreateSecret included: CreateRole resolves a repeat by its create token,
// CreateSecret and PutSecretValue carry a ClientRequestToken that makes the
// repeat the same request.
func WithRetries(cfg aws.Config, requestTimeout time.Duration) aws.Config {
	if requestTimeout <= 0 {
		requestTimeout = DefaultRequestTimeout
	}
	cfg.HTTPClient = awshttp.NewBuildableClient().WithTimeout(requestTimeout)
	cfg.APIOptions = append(append([]func(*middleware.Stack) error{}, cfg.APIOptions...), addElapsed)
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = RetryAttempts
			o.MaxBackoff = RetryMaxBackoff
			o.Retryables = append(o.Retryables, retry.IsErrorRetryableFunc(truncated))
		})
	}
	return cfg
}

// ElapsedError is an AWS call given up on after its retries: the SDK's
// error, which names the attempts and the last answer, and how long they
// took.
type ElapsedError struct {
	Elapsed time.Duration
	Err     error
}

func (e *ElapsedError) Error() string {
	return fmt.Sprintf("%v (over %s)", e.Err, e.Elapsed.Round(time.Millisecond))
}

func (e *ElapsedError) Unwrap() error { return e.Err }

// addElapsed times each call from before its first attempt, and adds the
// time to the error of a call whose attempts ran out.
func addElapsed(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("airflowiamElapsed",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			start := time.Now()
			out, md, err := next.HandleInitialize(ctx, in)
			var maxErr *retry.MaxAttemptsError
			if err != nil && errors.As(err, &maxErr) {
				err = &ElapsedError{Elapsed: time.Since(start), Err: err}
			}
			return out, md, err
		}), middleware.Before)
}

// truncated reports an answer cut short as retryable.
func truncated(err error) aws.Ternary {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return aws.TrueTernary
	}
	return aws.UnknownTernary
}
