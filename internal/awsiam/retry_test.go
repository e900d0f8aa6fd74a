package awsiam

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// faultyIAM answers GetRole with the fault of each attempt in turn, then
// hands over to fakeIAM.
func faultyIAM(t *testing.T, faults ...func(w http.ResponseWriter, r *http.Request)) (*Client, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	ok := &fakeIAM{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i := int(n.Add(1)) - 1; i < len(faults) {
			faults[i](w, r)
			return
		}
		ok.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := WithRetries(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")}, 300*time.Millisecond)
	return NewClient(cfg, Endpoints{IAM: srv.URL, STS: srv.URL}), &n
}

func answer(code int, errCode string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`<ErrorResponse><Error><Type>Receiver</Type><Code>` + errCode + `</Code><Message>m</Message></Error><RequestId>1</RequestId></ErrorResponse>`))
	}
}

func dropConnection(w http.ResponseWriter, _ *http.Request) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
	}
}

func truncatedAnswer(w http.ResponseWriter, _ *http.Request) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 500\r\n\r\n<GetRoleResponse><GetRoleResult>")
	_ = buf.Flush()
	_ = conn.Close()
}

func slowAnswer(w http.ResponseWriter, r *http.Request) {
	select {
	case <-time.After(5 * time.Second):
	case <-r.Context().Done():
	}
	answer(500, "InternalFailure")(w, r)
}

// The SDK's standard retryer, as WithRetries configures it, tries a call
// again after throttling, a server error, a reset, a truncated answer and
// an attempt that ran out of time: four faults, then the answer on the
// fifth and last attempt.
func TestWithRetries_retriesTransientFaults(t *testing.T) {
	for name, fault := range map[string]func(http.ResponseWriter, *http.Request){
		"throttling": answer(400, "Throttling"), "503": answer(503, "ServiceUnavailable"), "reset": dropConnection,
		"truncated": truncatedAnswer, "slow": slowAnswer,
	} {
		t.Run(name, func(t *testing.T) {
			c, n := faultyIAM(t, fault, fault, answer(500, "InternalFailure"), answer(502, "BadGateway"))
			start := time.Now()
			if _, err := c.IAM.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String("r")}); err != nil {
				t.Fatalf("GetRole after four transient faults: %v", err)
			}
			if n.Load() != RetryAttempts {
				t.Errorf("%d attempts, want %d", n.Load(), RetryAttempts)
			}
			if el := time.Since(start); el > 4*time.Second {
				t.Errorf("took %s: each attempt should be cut at the request timeout", el)
			}
		})
	}
}

// The attempts are bounded, and the last error is what the caller gets.
func TestWithRetries_isBounded(t *testing.T) {
	f := answer(503, "ServiceUnavailable")
	c, n := faultyIAM(t, f, f, f, f, f, f, f, f)
	_, err := c.IAM.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String("r")})
	if err == nil || !strings.Contains(err.Error(), "ServiceUnavailable") || !strings.Contains(err.Error(), "exceeded maximum number of attempts, 5") ||
		!regexp.MustCompile(`\(over [0-9.]+m?s\)$`).MatchString(err.Error()) || ErrorCode(err) != "ServiceUnavailable" {
		t.Fatalf("err = %v, want the SDK's give-up after max attempts with the last 503 and the time it took", err)
	}
	if n.Load() != RetryAttempts {
		t.Errorf("%d attempts, want %d", n.Load(), RetryAttempts)
	}
}
