package acctest

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Moto is a running moto server (AWS IAM, STS, Secrets Manager, KMS mock).
//
// All services answer at URL, as AWS endpoints with any SigV4-looking
// signature: configure an AWS SDK or the AWS provider with URL as the
// endpoint of each service, Region, and the static credentials below.
type Moto struct {
	URL    string // "http://127.0.0.1:PORT"
	Region string // "us-east-1"
	// Dummy static credentials moto accepts ("testing"/"testing").
	AccessKeyID, SecretAccessKey string
	AccountID                    string // moto's default account, "123456789012"
}

const (
	motoName       = "moto"
	motoVersion    = "5.2.5"      // pip version of moto[server], must match scripts/testenv.sh
	motoHealthPath = "/moto-api/" // moto's dashboard; answers 200 once the server is up
	motoURLEnv     = "AIRFLOWIAM_TEST_MOTO_URL"
	motoRegion     = "us-east-1"
	motoCredential = "testing"      // access key id and secret access key
	motoAccountID  = "123456789012" // moto's DEFAULT_ACCOUNT_ID, used for any access key but a 12-digit one
)

func newMoto(url string) *Moto {
	return &Moto{
		URL:             url,
		Region:          motoRegion,
		AccessKeyID:     motoCredential,
		SecretAccessKey: motoCredential,
		AccountID:       motoAccountID,
	}
}

// MotoServer returns the running moto server. When TF_ACC is unset it skips
// the test; when TF_ACC is set but the server failed to start, it fails the test.
func MotoServer(t testing.TB) *Moto {
	t.Helper()
	r := running(t)
	if r == nil {
		return nil
	}
	m, err := r.motoResult()
	if err != nil {
		t.Fatalf("acctest: %s did not start: %v", motoName, err)
		return nil
	}
	c := *m
	return &c
}

// AWSConfig is an AWS SDK configuration for moto: its region and static
// credentials. Every service's endpoint is URL, which the service packages
// take as their endpoint overrides.
func (m *Moto) AWSConfig() aws.Config {
	return aws.Config{
		Region:      m.Region,
		Credentials: credentials.NewStaticCredentialsProvider(m.AccessKeyID, m.SecretAccessKey, ""),
	}
}

// Reset wipes all moto state (POST /moto-api/reset): every service, account
// and region. Tests that run in parallel must not call it; they use unique
// names instead.
func (m *Moto) Reset() error {
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Post(m.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		return fmt.Errorf("acctest: resetting moto: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("acctest: resetting moto: POST %s/moto-api/reset: status %d: %s", m.URL, resp.StatusCode, body)
	}
	return nil
}

// obtainMoto starts moto, or takes the server named by AIRFLOWIAM_TEST_MOTO_URL
// (which is neither checked nor reset: it may be shared).
func (r *runner) obtainMoto() (*Moto, error) {
	if url := os.Getenv(motoURLEnv); url != "" {
		return newMoto(strings.TrimRight(url, "/")), nil
	}
	return tracked(r, r.startMoto)
}

// startMoto starts moto_server in a fresh temporary directory (its working
// directory, holding its log) and resets it.
func (r *runner) startMoto() (*Moto, error) {
	began := time.Now()
	venv, err := r.venv(motoName)
	if err != nil {
		return nil, err
	}
	home, err := r.newHome(motoName)
	if err != nil {
		return nil, err
	}
	url, err := r.serve(motoName, home, motoEnviron(venv), motoHealthPath, func(port int) []string {
		return []string{filepath.Join(venv, "bin", "moto_server"), "-H", "127.0.0.1", "-p", fmt.Sprint(port)}
	})
	if err != nil {
		return nil, err
	}
	m := newMoto(url)
	// A new server has no state yet, but this checks that the API works,
	// and the run starts clean whatever moto does at startup.
	if err := m.Reset(); err != nil {
		if r.ctx.Err() != nil {
			return nil, errStopped
		}
		return nil, err
	}
	r.logf("%s %s up at %s in %.1fs", motoName, motoVersion, url, time.Since(began).Seconds())
	return m, nil
}

// motoEnviron is moto_server's environment: the inherited one without any
// AWS or moto settings (a MOTO_ACCOUNT_ID or INITIAL_NO_AUTH_ACTION_COUNT
// would change what the tests see), plus ours.
func motoEnviron(venv string) []string {
	env := venvEnviron(venv, func(key string) bool {
		return strings.HasPrefix(key, "AWS_") || strings.HasPrefix(key, "MOTO_") ||
			key == "TEST_SERVER_MODE" || key == "TEST_PROXY_MODE" || key == "INITIAL_NO_AUTH_ACTION_COUNT"
	})
	return append(env,
		// AWS-managed policies (arn:aws:iam::aws:policy/...) exist, so they can be attached.
		"MOTO_IAM_LOAD_MANAGED_POLICIES=true",
		// Anything in moto that reaches for AWS configuration finds only dummies,
		// never the user's ~/.aws.
		"AWS_ACCESS_KEY_ID="+motoCredential,
		"AWS_SECRET_ACCESS_KEY="+motoCredential,
		"AWS_DEFAULT_REGION="+motoRegion,
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	)
}
