package awsiam

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// fakeIAM answers the IAM query API calls GetRole makes. GetRole fails with
// NoSuchEntity for the first missing calls, as IAM can right after a write.
type fakeIAM struct {
	mu       sync.Mutex
	missing  int
	getRoles int
}

func (f *fakeIAM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	action := r.Form.Get("Action")
	w.Header().Set("Content-Type", "text/xml")
	switch action {
	case "GetRole":
		f.mu.Lock()
		f.getRoles++
		missing := f.getRoles <= f.missing
		f.mu.Unlock()
		if missing {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The role with name r cannot be found.</Message></Error><RequestId>1</RequestId></ErrorResponse>`)
			return
		}
		doc := url.QueryEscape(`{"Version":"2012-10-17","Statement":[]}`)
		fmt.Fprintf(w, `<GetRoleResponse><GetRoleResult><Role><RoleName>r</RoleName><Path>/</Path><Arn>arn:aws:iam::123456789012:role/r</Arn><RoleId>AROAEXAMPLE</RoleId><AssumeRolePolicyDocument>%s</AssumeRolePolicyDocument><MaxSessionDuration>3600</MaxSessionDuration><CreateDate>2026-01-01T00:00:00Z</CreateDate></Role></GetRoleResult></GetRoleResponse>`, doc)
	case "ListAttachedRolePolicies":
		fmt.Fprint(w, `<ListAttachedRolePoliciesResponse><ListAttachedRolePoliciesResult><AttachedPolicies/><IsTruncated>false</IsTruncated></ListAttachedRolePoliciesResult></ListAttachedRolePoliciesResponse>`)
	case "ListRolePolicies":
		fmt.Fprint(w, `<ListRolePoliciesResponse><ListRolePoliciesResult><PolicyNames/><IsTruncated>false</IsTruncated></ListRolePoliciesResult></ListRolePoliciesResponse>`)
	case "ListRoleTags":
		fmt.Fprint(w, `<ListRoleTagsResponse><ListRoleTagsResult><Tags/><IsTruncated>false</IsTruncated></ListRoleTagsResult></ListRoleTagsResponse>`)
	default:
		http.Error(w, "unexpected action "+action, http.StatusBadRequest)
	}
}

func newFakeIAMClient(t *testing.T, f *fakeIAM) *Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")}
	return NewClient(cfg, Endpoints{IAM: srv.URL, STS: srv.URL})
}

func fastConsistencyRetries(t *testing.T) {
	t.Helper()
	wait := consistencyWait
	consistencyWait = time.Millisecond
	t.Cleanup(func() { consistencyWait = wait })
}

func TestReadAfterWriteWaitsForAFreshRole(t *testing.T) {
	fastConsistencyRetries(t)
	f := &fakeIAM{missing: 3}
	role, err := newFakeIAMClient(t, f).readAfterWrite(context.Background(), "r")
	if err != nil {
		t.Fatalf("readAfterWrite: %v", err)
	}
	if role.ARN != "arn:aws:iam::123456789012:role/r" || role.TrustPolicy != `{"Version":"2012-10-17","Statement":[]}` {
		t.Errorf("role = %+v", role)
	}
	if f.getRoles != 4 {
		t.Errorf("GetRole called %d times, want 4 (3 misses, then the role)", f.getRoles)
	}
}

func TestReadAfterWriteGivesUpAtItsBound(t *testing.T) {
	fastConsistencyRetries(t)
	f := &fakeIAM{missing: 1000}
	_, err := newFakeIAMClient(t, f).readAfterWrite(context.Background(), "r")
	if !IsNotFound(err) {
		t.Fatalf("err = %v, want NoSuchEntity", err)
	}
	if f.getRoles != consistencyAttempts {
		t.Errorf("GetRole called %d times, want the bound %d", f.getRoles, consistencyAttempts)
	}
}
