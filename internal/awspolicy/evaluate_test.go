package awspolicy

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	testUID      = "104876543210987654321"
	testEmail    = "airflow-worker@data-platform-prod.iam.gserviceaccount.com"
	testAudience = "airflow-prod-aws"
	testOtherUID = "109999999999999999999"
)

// testRequests: a token from the metadata server or the IAM Credentials
// API (azp is the numeric unique ID), and one minted from a key file (azp is
// the email).
var (
	numericReq = GoogleRequest(testAudience, testUID, testUID, testEmail)
	keyFileReq = GoogleRequest(testAudience, testEmail, testUID, testEmail)
)

func policyFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "policies", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type evaluateCase struct {
	name      string
	policy    string // JSON, or "file:<name>" for a fixture under testdata/policies
	req       WebIdentityRequest
	allowed   bool
	statement int
	// unknown: the verdict must be VerdictUnknown (statement -1); contains
	// then applies to the explanation too.
	unknown bool
	// For denies: a key some Mismatch must name, and substrings the
	// explanation (reason, notes and fix) must contain.
	key      string
	contains []string
}

func evaluateCases() []evaluateCase {
	providerPolicy := GoogleTrust(testUID, testEmail, testAudience).JSON()
	return []evaluateCase{
		{
			name:    "provider policy, numeric azp (metadata server token)",
			policy:  providerPolicy,
			req:     numericReq,
			allowed: true, statement: 0,
			contains: []string{"principal, action and 3 conditions match"},
		},
		{
			name:    "provider policy, email azp (key-file token)",
			policy:  providerPolicy,
			req:     keyFileReq,
			allowed: true, statement: 0,
		},
		{
			name: "email in aud, numeric azp",
			policy: `{"Version":"2012-10-17","Statement":[{"Sid":"GoogleFederation","Effect":"Allow",
				"Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"accounts.google.com:aud":"` + testEmail + `","accounts.google.com:oaud":"` + testAudience + `"}}}]}`,
			req:     numericReq,
			allowed: false, statement: -1,
			key: KeyGoogleAud,
			contains: []string{
				"numeric unique ID " + testUID,
				"put the service account's unique ID " + testUID + " (the token's azp) in accounts.google.com:aud",
				"trusts both the unique ID and the email",
			},
		},
		{
			name: "numeric aud only, key-file token with email azp",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},
				"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"accounts.google.com:aud":"` + testUID + `"}}}]}`,
			req:     keyFileReq,
			allowed: false, statement: -1,
			key:      KeyGoogleAud,
			contains: []string{"key file", "put the service account's email " + testEmail},
		},
		{
			name:    "wrong oaud",
			policy:  GoogleTrust(testUID, testEmail, "airflow-staging-aws").JSON(),
			req:     numericReq,
			allowed: false, statement: -1,
			key: KeyGoogleOaud,
			contains: []string{
				`differs from the audience the role expects (["airflow-staging-aws"])`,
				`request the ID token for the audience the role expects (["airflow-staging-aws"]), or change the role's audience`,
			},
		},
		{
			name:    "wrong sub: a different service account",
			policy:  GoogleTrust(testOtherUID, "etl@data-platform-prod.iam.gserviceaccount.com", testAudience).JSON(),
			req:     numericReq,
			allowed: false, statement: -1,
			key:      KeyGoogleSub,
			contains: []string{"different service account", "make the role trust this service account"},
		},
		{
			name: "Deny overrides Allow",
			policy: `{"Version":"2012-10-17","Statement":[
				{"Sid":"GoogleFederation","Effect":"Allow","Principal":{"Federated":"accounts.google.com"},
				 "Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"accounts.google.com:oaud":"airflow-prod-aws"}}},
				{"Sid":"DenyCompromisedAccount","Effect":"Deny","Principal":"*","Action":"sts:*",
				 "Condition":{"StringEquals":{"accounts.google.com:sub":"` + testUID + `"}}}]}`,
			req:     numericReq,
			allowed: false, statement: 1,
			contains: []string{`statement 1 (Sid "DenyCompromisedAccount") denies`, "explicit Deny overrides every Allow"},
		},
		{
			name: "Deny with StringNotEquals on a missing key applies",
			policy: `{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity"},
				{"Sid":"RequireHostedDomain","Effect":"Deny","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				 "Condition":{"StringNotEquals":{"accounts.google.com:hd":"example.com"}}}]}`,
			req:     numericReq,
			allowed: false, statement: 1,
			contains: []string{`Sid "RequireHostedDomain"`},
		},
		{
			name:    "Cognito identity pool role",
			policy:  "file:cognito-identity-pool.json",
			req:     numericReq,
			allowed: false, statement: -1,
			key:      "Principal",
			contains: []string{"the role does not trust accounts.google.com", "Federated:cognito-identity.amazonaws.com", roleResourceName},
		},
		{
			name:    "GitHub Actions OIDC provider role",
			policy:  "file:github-actions-oidc.json",
			req:     keyFileReq,
			allowed: false, statement: -1,
			key:      "Principal",
			contains: []string{"the role does not trust accounts.google.com", "oidc-provider/token.actions.githubusercontent.com"},
		},
		{
			name:    "EC2 service role, Statement as a single object",
			policy:  "file:ec2-service.json",
			req:     numericReq,
			allowed: false, statement: -1,
			key:      "Principal",
			contains: []string{"does not trust accounts.google.com", "Service:ec2.amazonaws.com"},
		},
		{
			name: "Statement as a single object",
			policy: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},
				"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"accounts.google.com:aud":"` + testUID + `"}}}}`,
			req:     numericReq,
			allowed: true, statement: 0,
		},
		{
			name: "Principal star",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"accounts.google.com:sub":"` + testUID + `"}}}]}`,
			req:     numericReq,
			allowed: true, statement: 0,
		},
		{
			name: "Action as a list",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":["accounts.google.com","cognito-identity.amazonaws.com"]},
				"Action":["sts:TagSession","sts:AssumeRoleWithWebIdentity"],"Condition":{"StringEquals":{"accounts.google.com:oaud":"` + testAudience + `"}}}]}`,
			req:     numericReq,
			allowed: true, statement: 0,
		},
		{
			name: "Action wildcard sts:*",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:*",
				"Condition":{"StringEquals":{"accounts.google.com:aud":"` + testUID + `"}}}]}`,
			req:     numericReq,
			allowed: true, statement: 0,
		},
		{
			name:    "wrong action: sts:AssumeRole only",
			policy:  `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRole"}]}`,
			req:     numericReq,
			allowed: false, statement: -1,
			key:      "Action",
			contains: []string{"do not allow sts:AssumeRoleWithWebIdentity", "add sts:AssumeRoleWithWebIdentity to the Action"},
		},
		{
			name: "StringLike wildcard matches",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringLike":{"accounts.google.com:oaud":"airflow-*-aws","accounts.google.com:sub":"1048765432109876543??"}}}]}`,
			req:     numericReq,
			allowed: true, statement: 0,
		},
		{
			name: "StringLike wildcard does not match",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringLike":{"accounts.google.com:oaud":["airflow-staging-*","https://*.example.com"]}}}]}`,
			req:     numericReq,
			allowed: false, statement: -1,
			key:      KeyGoogleOaud,
			contains: []string{"request the ID token for the audience the role expects"},
		},
		{
			name: "StringNotEquals allows other accounts",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringNotEquals":{"accounts.google.com:sub":["` + testOtherUID + `","100000000000000000000"]},"StringEquals":{"accounts.google.com:oaud":"` + testAudience + `"}}}]}`,
			req:     numericReq,
			allowed: true, statement: 0,
		},
		{
			name: "StringNotEquals excludes this account",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringNotEquals":{"accounts.google.com:sub":"` + testUID + `"}}}]}`,
			req:     numericReq,
			allowed: false, statement: -1,
			key:      KeyGoogleSub,
			contains: []string{"one the policy excludes with StringNotEquals"},
		},
		{
			name:   "ForAnyValue:StringLike on Cognito amr",
			policy: "file:cognito-identity-pool.json",
			req: WebIdentityRequest{Provider: "cognito-identity.amazonaws.com", Action: ActionAssumeRoleWithWebIdentity, Context: map[string][]string{
				"cognito-identity.amazonaws.com:aud": {"us-east-1:12345678-abcd-abcd-abcd-123456789012"},
				"cognito-identity.amazonaws.com:amr": {"authenticated", "graph.facebook.com", "graph.facebook.com:123456789012:user"},
			}},
			allowed: true, statement: 0,
		},
		{
			name:   "ForAnyValue:StringLike on Cognito amr, unauthenticated",
			policy: "file:cognito-identity-pool.json",
			req: WebIdentityRequest{Provider: "cognito-identity.amazonaws.com", Action: ActionAssumeRoleWithWebIdentity, Context: map[string][]string{
				"cognito-identity.amazonaws.com:aud": {"us-east-1:12345678-abcd-abcd-abcd-123456789012"},
				"cognito-identity.amazonaws.com:amr": {"unauthenticated"},
			}},
			allowed: false, statement: -1,
			key:      "cognito-identity.amazonaws.com:amr",
			contains: []string{"no request value satisfies StringLike"},
		},
		{
			name: "ForAllValues: every value allowed",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"ForAllValues:StringEquals":{"accounts.google.com:groups":["etl","reporting","admins"]}}}]}`,
			req: WebIdentityRequest{Provider: GoogleFederatedPrincipal, Context: map[string][]string{
				"accounts.google.com:groups": {"etl", "reporting"},
			}},
			allowed: true, statement: 0,
		},
		{
			name: "ForAllValues: absent key is true",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"ForAllValues:StringEquals":{"accounts.google.com:groups":["etl","reporting"]}}}]}`,
			req:     numericReq,
			allowed: true, statement: 0,
		},
		{
			name: "ForAllValues: one value not allowed",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"ForAllValues:StringEquals":{"accounts.google.com:groups":["etl","reporting"]}}}]}`,
			req: WebIdentityRequest{Provider: GoogleFederatedPrincipal, Action: ActionAssumeRoleWithWebIdentity, Context: map[string][]string{
				"accounts.google.com:groups": {"etl", "admins"},
			}},
			allowed: false, statement: -1,
			key:      "accounts.google.com:groups",
			contains: []string{`"admins" does not`},
		},
		{
			name: "ForAnyValue: absent key is false",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"ForAnyValue:StringEquals":{"accounts.google.com:groups":"etl"}}}]}`,
			req:     numericReq,
			allowed: false, statement: -1,
			key:      "accounts.google.com:groups",
			contains: []string{"the request has no value for accounts.google.com:groups"},
		},
		{
			name: "IfExists with the key absent",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEqualsIfExists":{"accounts.google.com:hd":"example.com"},"StringEquals":{"accounts.google.com:sub":"` + testUID + `"}}}]}`,
			req:     numericReq,
			allowed: true, statement: 0,
		},
		{
			name: "IfExists with the key present and different",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEqualsIfExists":{"accounts.google.com:oaud":"airflow-staging-aws"}}}]}`,
			req:     numericReq,
			allowed: false, statement: -1,
			key:      KeyGoogleOaud,
			contains: []string{"change the role's audience"},
		},
		{
			name: "plain StringEquals on a key the request lacks",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"accounts.google.com:hd":"example.com"}}}]}`,
			req:     numericReq,
			allowed: false, statement: -1,
			key:      "accounts.google.com:hd",
			contains: []string{"the request has no value for accounts.google.com:hd"},
		},
		{
			name: "condition keys are case-insensitive",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"Accounts.Google.Com:AUD":"` + testUID + `","ACCOUNTS.GOOGLE.COM:oaud":"` + testAudience + `"}}}]}`,
			req:     numericReq,
			allowed: true, statement: 0,
		},
		{
			name: "request context keys are case-insensitive too",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"accounts.google.com:aud":"` + testUID + `"}}}]}`,
			req: WebIdentityRequest{Provider: GoogleFederatedPrincipal, Context: map[string][]string{
				"ACCOUNTS.GOOGLE.COM:Aud": {testUID},
			}},
			allowed: true, statement: 0,
		},
		{
			name: "StringEqualsIgnoreCase",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEqualsIgnoreCase":{"accounts.google.com:oaud":"AIRFLOW-PROD-AWS"}}}]}`,
			req:     numericReq,
			allowed: true, statement: 0,
		},
		{
			name:    "multiple statements, the second allows",
			policy:  "file:github-then-google.json",
			req:     numericReq,
			allowed: true, statement: 1,
			contains: []string{`statement 1 (Sid "AirflowWorkers") allows`},
		},
		{
			name:    "multiple statements, the Google one fails on aud",
			policy:  "file:github-then-google.json",
			req:     keyFileReq,
			allowed: false, statement: -1,
			key:      KeyGoogleAud,
			contains: []string{"key file"},
		},
		{
			name:    "URL-encoded document as GetRole returns it",
			policy:  "file:google-getrole-encoded.txt",
			req:     numericReq,
			allowed: true, statement: 0,
			contains: []string{`Sid "GoogleFederation"`},
		},
		{
			name: "token without azp: no oaud in the request",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"accounts.google.com:oaud":"` + testAudience + `"}}}]}`,
			req:     GoogleRequest(testAudience, "", testUID, ""),
			allowed: false, statement: -1,
			key:      KeyGoogleOaud,
			contains: []string{"only for tokens with an azp claim"},
		},
		{
			// This case used to assert a deny ("DateLessThan is not supported
			// by the evaluator"); Date operators are supported now, but
			// aws:CurrentTime is known only to AWS, so the verdict is unknown.
			name: "condition on aws:CurrentTime without the time",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"accounts.google.com:sub":"` + testUID + `"},"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}]}`,
			req:       numericReq,
			unknown:   true,
			statement: -1,
			contains:  []string{"cannot judge DateLessThan aws:CurrentTime", "STS decides"},
		},
		{
			name: "condition on aws:CurrentTime with the time supplied",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"accounts.google.com:sub":"` + testUID + `"},"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}]}`,
			req:     numericReq.WithTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)),
			allowed: true, statement: 0,
		},
		{
			name: "condition on aws:CurrentTime after the deadline",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}}]}`,
			req:     numericReq.WithTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)),
			allowed: false, statement: -1,
			key:      "aws:CurrentTime",
			contains: []string{"no request value satisfies DateLessThan"},
		},
		{
			// This case used to assert a deny ("stringequals is not supported
			// by the evaluator"); an operator the evaluator does not know is
			// now not judged.
			name: "operator names are case-sensitive",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"stringequals":{"accounts.google.com:sub":"` + testUID + `"}}}]}`,
			req:       numericReq,
			unknown:   true,
			statement: -1,
			contains:  []string{"cannot judge the condition operator stringequals, which the evaluator does not know; STS decides"},
		},
		{
			name: "an unknown operator that cannot change the outcome is decided",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"accounts.google.com:sub":"` + testOtherUID + `"},"StringEqualsFuzzy":{"accounts.google.com:aud":"x"}}}]}`,
			req:     numericReq,
			allowed: false, statement: -1,
			key:      KeyGoogleSub,
			contains: []string{"different service account"},
		},
		{
			name: "Null: the token has no hd, and has a sub",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"Null":{"accounts.google.com:hd":"true","accounts.google.com:sub":"false"},"StringEquals":{"accounts.google.com:oaud":"` + testAudience + `"}}}]}`,
			req:     numericReq,
			allowed: true, statement: 0,
		},
		{
			name: "Null false on a key the token lacks",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"Null":{"accounts.google.com:oaud":"false"}}}]}`,
			req:     GoogleRequest(testAudience, "", testUID, ""),
			allowed: false, statement: -1,
			key:      KeyGoogleOaud,
			contains: []string{"Null requires accounts.google.com:oaud to be present"},
		},
		{
			name: "policy variable: sub must equal aud",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"accounts.google.com:sub":"${accounts.google.com:aud}"}}}]}`,
			req:     numericReq,
			allowed: true, statement: 0,
		},
		{
			name: "no accounts.google.com:email key at AWS",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"accounts.google.com:email":"` + testEmail + `"}}}]}`,
			req:     numericReq,
			allowed: false, statement: -1,
			key:      "accounts.google.com:email",
			contains: []string{"AWS provides no accounts.google.com:email condition key"},
		},
		{
			name: "aws:SourceIp is not guessed",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`,
			req:       numericReq,
			unknown:   true,
			statement: -1,
			contains:  []string{"cannot judge IpAddress aws:SourceIp", "STS decides"},
		},
		{
			name: "NotAction",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"NotAction":"sts:AssumeRole",
				"Condition":{"StringEquals":{"accounts.google.com:aud":"` + testUID + `"}}}]}`,
			req:     numericReq,
			allowed: true, statement: 0,
		},
		{
			name:    "only Deny statements",
			policy:  `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}`,
			req:     numericReq,
			allowed: false, statement: -1,
			key:      "Effect",
			contains: []string{"no Allow statement"},
		},
	}
}

func TestEvaluate(t *testing.T) {
	cases := evaluateCases()
	if len(cases) < 20 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := tc.policy
			if name, ok := strings.CutPrefix(doc, "file:"); ok {
				doc = policyFixture(t, name)
			}
			p, err := Parse(doc)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			d := Evaluate(p, tc.req)
			explain := d.Explain()
			if tc.unknown {
				if d.Verdict != VerdictUnknown || d.Allowed || d.Statement != -1 || len(d.Unjudged) == 0 ||
					!strings.HasPrefix(explain, "UNKNOWN: ") || strings.Contains(d.Reason, "\n") {
					t.Fatalf("want an unknown verdict with reasons, got %+v\n%s", d, explain)
				}
				for _, s := range tc.contains {
					if !strings.Contains(explain, s) {
						t.Errorf("explanation lacks %q:\n%s", s, explain)
					}
				}
				return
			}
			wantVerdict := VerdictDenied
			if tc.allowed {
				wantVerdict = VerdictAllowed
			}
			if d.Verdict != wantVerdict {
				t.Fatalf("Verdict = %s, want %s\n%s", d.Verdict, wantVerdict, explain)
			}
			if d.Allowed != tc.allowed || d.Statement != tc.statement {
				t.Fatalf("Allowed=%v Statement=%d, want %v %d\n%s", d.Allowed, d.Statement, tc.allowed, tc.statement, explain)
			}
			if d.Reason == "" || strings.Contains(d.Reason, "\n") {
				t.Errorf("Reason must be one non-empty line: %q", d.Reason)
			}
			if d.Allowed {
				if len(d.Mismatches) != 0 || d.Fix != "" {
					t.Errorf("an Allow has mismatches or a fix:\n%s", explain)
				}
				if !strings.HasPrefix(explain, "ALLOWED: ") {
					t.Errorf("explanation does not start with ALLOWED:\n%s", explain)
				}
			} else if !strings.HasPrefix(explain, "DENIED: ") {
				t.Errorf("explanation does not start with DENIED:\n%s", explain)
			}
			if d.Statement >= 0 && d.Sid != p.Statements[d.Statement].Sid {
				t.Errorf("Sid = %q, want %q", d.Sid, p.Statements[d.Statement].Sid)
			}
			if !d.Allowed && d.Statement == -1 && len(d.Mismatches) == 0 {
				t.Errorf("implicit deny without mismatches:\n%s", explain)
			}
			if tc.key != "" {
				found := false
				for _, m := range d.Mismatches {
					if m.Key == tc.key {
						found = true
					}
				}
				if !found {
					t.Errorf("no mismatch for key %q:\n%s", tc.key, explain)
				}
			}
			for _, s := range tc.contains {
				if !strings.Contains(explain, s) {
					t.Errorf("explanation lacks %q:\n%s", s, explain)
				}
			}
		})
	}
}

// TestEvaluateEmailAudMismatchDetail pins the whole mismatch and the
// explanation line for the most common mistake.
func TestEvaluateEmailAudMismatchDetail(t *testing.T) {
	p, err := Parse(`{"Version":"2012-10-17","Statement":[{"Sid":"GoogleFederation","Effect":"Allow",
		"Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
		"Condition":{"StringEquals":{"accounts.google.com:aud":"a@p.iam.gserviceaccount.com","accounts.google.com:oaud":"aud1"}}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	d := Evaluate(p, GoogleRequest("aud1", "1234567890", "1234567890", "a@p.iam.gserviceaccount.com"))
	if d.Allowed || d.Statement != -1 || len(d.Mismatches) != 1 {
		t.Fatalf("decision:\n%s", d.Explain())
	}
	m := d.Mismatches[0]
	want := Mismatch{Statement: 0, Operator: "StringEquals", Key: KeyGoogleAud,
		Expected: []string{"a@p.iam.gserviceaccount.com"}, Actual: []string{"1234567890"}, Note: m.Note}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("mismatch = %#v, want %#v", m, want)
	}
	if !strings.Contains(m.Note, "the token's azp claim is the numeric unique ID 1234567890") ||
		!strings.Contains(m.Note, "add the unique ID to accounts.google.com:aud") {
		t.Errorf("note = %q", m.Note)
	}
	if !strings.Contains(d.Fix, "1234567890") || !strings.Contains(d.Fix, "accounts.google.com:aud") {
		t.Errorf("fix = %q", d.Fix)
	}
	line := `statement 0: StringEquals accounts.google.com:aud: expected ["a@p.iam.gserviceaccount.com"], token has ["1234567890"]`
	if !strings.Contains(d.Explain(), line) {
		t.Errorf("explanation lacks %q:\n%s", line, d.Explain())
	}
	wantReason := `implicit deny: statement 0 (Sid "GoogleFederation") trusts accounts.google.com for sts:AssumeRoleWithWebIdentity, but 1 of its 2 conditions fails`
	if d.Reason != wantReason {
		t.Errorf("Reason = %q, want %q", d.Reason, wantReason)
	}
}

func TestEvaluateAllowReason(t *testing.T) {
	p := GoogleTrust(testUID, testEmail, testAudience)
	p.Statements[0].Sid = "GoogleFederation"
	d := Evaluate(p, numericReq)
	want := `statement 0 (Sid "GoogleFederation") allows: principal, action and 3 conditions match`
	if !d.Allowed || d.Reason != want || d.Sid != "GoogleFederation" {
		t.Errorf("got %+v, want reason %q", d, want)
	}
	if !strings.Contains(d.Explain(), `deciding statement: statement 0 (Sid "GoogleFederation")`) {
		t.Errorf("explanation:\n%s", d.Explain())
	}
}

func TestEvaluateDenyDecision(t *testing.T) {
	p, err := Parse(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity"},
		{"Sid":"NoKeyFileTokens","Effect":"Deny","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity",
		 "Condition":{"StringLike":{"accounts.google.com:aud":"*@*"}}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if d := Evaluate(p, numericReq); !d.Allowed || d.Statement != 0 {
		t.Errorf("numeric azp:\n%s", d.Explain())
	}
	d := Evaluate(p, keyFileReq)
	if d.Allowed || d.Statement != 1 || d.Sid != "NoKeyFileTokens" || len(d.Mismatches) != 0 {
		t.Fatalf("email azp:\n%s", d.Explain())
	}
	if !strings.Contains(d.Reason, `statement 1 (Sid "NoKeyFileTokens") denies`) || !strings.Contains(d.Fix, "NoKeyFileTokens") {
		t.Errorf("reason %q fix %q", d.Reason, d.Fix)
	}
}

// This test used to assert an Allow with a caution that the Deny's
// DateGreaterThan was not supported. Date operators are supported now, but
// aws:CurrentTime is known only to AWS: the Deny may apply, so the verdict
// is unknown; with the time supplied it is decided.
func TestEvaluateUnsupportedDenyIsFlagged(t *testing.T) {
	p, err := Parse(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity"},
		{"Sid":"BusinessHours","Effect":"Deny","Principal":"*","Action":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	d := Evaluate(p, numericReq)
	if d.Verdict != VerdictUnknown || d.Allowed ||
		!strings.Contains(d.Reason, `cannot judge whether Deny statement 1 (Sid "BusinessHours") applies: statement 0 allows`) ||
		len(d.Unjudged) != 1 || !strings.Contains(d.Unjudged[0], "cannot judge DateGreaterThan aws:CurrentTime") {
		t.Errorf("decision:\n%s", d.Explain())
	}
	before := Evaluate(p, numericReq.WithTime(time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC)))
	after := Evaluate(p, numericReq.WithTime(time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC)))
	if before.Verdict != VerdictAllowed || after.Verdict != VerdictDenied || after.Statement != 1 {
		t.Errorf("with the time:\n%s\n%s", before.Explain(), after.Explain())
	}
}

// A Deny that cannot be judged does not matter when nothing allows.
func TestEvaluateUnjudgedDenyWithoutAllowIsDenied(t *testing.T) {
	p, err := Parse(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"accounts.google.com:oaud":"other"}}},
		{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	d := Evaluate(p, numericReq)
	if d.Verdict != VerdictDenied || d.Statement != -1 || len(d.Mismatches) == 0 {
		t.Errorf("decision:\n%s", d.Explain())
	}
}

func TestEvaluateNilAndEmpty(t *testing.T) {
	for _, p := range []*Document{nil, {Version: "2012-10-17"}} {
		d := Evaluate(p, numericReq)
		if d.Allowed || d.Statement != -1 || len(d.Mismatches) != 1 || d.Fix == "" {
			t.Errorf("%v:\n%s", p, d.Explain())
		}
	}
}

func TestGoogleRequest(t *testing.T) {
	got := GoogleRequest("aud1", "123", "123", "a@b.iam.gserviceaccount.com")
	want := WebIdentityRequest{Provider: GoogleFederatedPrincipal, Action: ActionAssumeRoleWithWebIdentity, Context: map[string][]string{
		KeyGoogleAud: {"123"}, KeyGoogleOaud: {"aud1"}, KeyGoogleSub: {"123"}, "accounts.google.com:email": {"a@b.iam.gserviceaccount.com"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GoogleRequest = %#v, want %#v", got, want)
	}
	// Without azp, AWS compares aud with accounts.google.com:aud and has no oaud.
	got = GoogleRequest("aud1", "", "123", "")
	want.Context = map[string][]string{KeyGoogleAud: {"aud1"}, KeyGoogleSub: {"123"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GoogleRequest without azp = %#v, want %#v", got, want)
	}
}

func TestEvalCondition(t *testing.T) {
	tests := []struct {
		op       string
		expected []string
		actual   []string
		want     bool
	}{
		{"StringEquals", []string{"a", "b"}, []string{"b"}, true},
		{"StringEquals", []string{"a"}, []string{"A"}, false},
		{"StringEquals", []string{"a"}, nil, false},
		{"StringEqualsIfExists", []string{"a"}, nil, true},
		{"StringEqualsIfExists", []string{"a"}, []string{"b"}, false},
		{"StringNotEquals", []string{"a"}, nil, true},
		{"StringNotEquals", []string{"a", "b"}, []string{"b"}, false},
		{"StringNotEquals", []string{"a", "b"}, []string{"c"}, true},
		{"StringEqualsIgnoreCase", []string{"abc"}, []string{"ABC"}, true},
		{"StringNotEqualsIgnoreCase", []string{"abc"}, []string{"ABC"}, false},
		{"StringLike", []string{"a*c"}, []string{"abbbc"}, true},
		{"StringLike", []string{"a?c"}, []string{"abbc"}, false},
		{"StringLike", []string{"a?c"}, []string{"abc"}, true},
		{"StringLike", []string{"*"}, []string{""}, true},
		{"StringLike", []string{"A*"}, []string{"abc"}, false},
		{"StringNotLike", []string{"repo:org/*"}, []string{"repo:other/x"}, true},
		{"StringNotLike", []string{"repo:org/*"}, []string{"repo:org/x"}, false},
		{"ForAnyValue:StringEquals", []string{"x"}, []string{"a", "x"}, true},
		{"ForAnyValue:StringEquals", []string{"x"}, nil, false},
		{"ForAnyValue:StringEqualsIfExists", []string{"x"}, nil, true},
		{"ForAnyValue:StringNotEquals", []string{"x"}, []string{"x", "y"}, true},
		{"ForAnyValue:StringNotEquals", []string{"x"}, []string{"x"}, false},
		{"ForAllValues:StringEquals", []string{"x", "y"}, []string{"x", "y"}, true},
		{"ForAllValues:StringEquals", []string{"x", "y"}, []string{"x", "z"}, false},
		{"ForAllValues:StringEquals", []string{"x"}, nil, true},
		{"ForAllValues:StringNotLike", []string{"adm*"}, []string{"etl", "admins"}, false},
		{"ForAllValues:StringNotLike", []string{"adm*"}, []string{"etl", "ops"}, true},
	}
	for _, tc := range tests {
		set, base, ifExists, ok := operatorParts(tc.op)
		if !ok {
			t.Fatalf("%s not supported", tc.op)
		}
		if got := conditionHolds(set, base, ifExists, tc.expected, tc.actual); got != tc.want {
			t.Errorf("%s %v against %v = %v, want %v", tc.op, tc.expected, tc.actual, got, tc.want)
		}
	}
	// Bool, NumericLessThan, ArnLike, Null and ForAnyValue:Bool used to be
	// listed here as unsupported; every documented operator is supported now.
	for _, op := range []string{"stringEquals", "NullIfExists", "StringEqualsFuzzy", "ForSomeValues:StringEquals", "ForAnyValue:stringlike"} {
		if _, _, _, ok := operatorParts(op); ok {
			t.Errorf("%s reported as supported", op)
		}
	}
	more := []struct {
		op       string
		expected []string
		actual   []string
		want     bool
	}{
		{"Bool", []string{"true"}, []string{"true"}, true},
		{"Bool", []string{"true"}, []string{"false"}, false},
		{"Bool", []string{"yes"}, []string{"true"}, false},
		{"BoolIfExists", []string{"false"}, nil, true},
		{"NumericLessThan", []string{"10"}, []string{"9.5"}, true},
		{"NumericLessThan", []string{"10"}, []string{"10"}, false},
		{"NumericLessThanEquals", []string{"10"}, []string{"10"}, true},
		{"NumericGreaterThan", []string{"abc"}, []string{"10"}, false},
		{"NumericNotEquals", []string{"1", "2"}, []string{"3"}, true},
		{"NumericNotEquals", []string{"1"}, nil, true},
		{"DateGreaterThan", []string{"2020-01-01T00:00:00Z"}, []string{"1600000000"}, true},
		{"DateLessThan", []string{"2020-01-01"}, []string{"2019-12-31T23:59:59Z"}, true},
		{"DateEquals", []string{"not a date"}, []string{"2020-01-01T00:00:00Z"}, false},
		{"BinaryEquals", []string{"QmluYXJ5"}, []string{"QmluYXJ5"}, true},
		{"BinaryEquals", []string{"QmluYXJ5"}, []string{"QmluYXJ6"}, false},
		{"IpAddress", []string{"203.0.113.0/24"}, []string{"203.0.113.9"}, true},
		{"IpAddress", []string{"203.0.113.0/24"}, []string{"198.51.100.1"}, false},
		{"NotIpAddress", []string{"203.0.113.0/24"}, []string{"198.51.100.1"}, true},
		{"IpAddress", []string{"2001:db8::/32"}, []string{"2001:db8::1"}, true},
		{"ArnLike", []string{"arn:aws:iam::*:role/air*"}, []string{"arn:aws:iam::123456789012:role/airflow"}, true},
		{"ArnEquals", []string{"arn:aws:iam::*:role/air*"}, []string{"arn:aws:iam::123456789012:role/airflow"}, true},
		{"ArnLike", []string{"arn:aws:iam::*:role/air*"}, []string{"arn:aws:iam::123456789012:user/airflow"}, false},
		{"ArnNotLike", []string{"arn:aws:iam::*:role/*"}, []string{"arn:aws:s3:::bucket"}, true},
		{"ArnLike", []string{"arn:aws:*"}, []string{"arn:aws:s3:::bucket"}, false},
		{"Null", []string{"true"}, nil, true},
		{"Null", []string{"true"}, []string{"x"}, false},
		{"Null", []string{"false"}, []string{"x"}, true},
		{"ForAnyValue:NumericGreaterThan", []string{"5"}, []string{"1", "7"}, true},
		{"NumericEquals", []string{"1e3"}, []string{"1000"}, false},
		{"NumericEquals", []string{"10.50"}, []string{"10.5"}, true},
		{"DateLessThan", []string{"2027-01"}, []string{"2026-12-01T00:00:00Z"}, true},
		{"DateLessThan", []string{"2027"}, []string{"2026-12-01T00:00:00Z"}, false}, // digits alone are epoch seconds: 1970
		{"DateEquals", []string{"2026-12-01T01:00:00+01:00"}, []string{"2026-12-01T00:00:00Z"}, true},
		{"ForAllValues:NumericGreaterThan", []string{"5"}, []string{"1", "7"}, false},
	}
	for _, tc := range more {
		set, base, ifExists, ok := operatorParts(tc.op)
		if !ok {
			t.Fatalf("%s not supported", tc.op)
		}
		if got := conditionHolds(set, base, ifExists, tc.expected, tc.actual); got != tc.want {
			t.Errorf("%s %v against %v = %v, want %v", tc.op, tc.expected, tc.actual, got, tc.want)
		}
	}
}

// TestEvaluatePolicyVariables covers the variables page: substitution in
// String and ARN values, ${*} ${?} ${$}, defaults, keys that are absent or
// multivalued, Version 2008-10-17, and keys only AWS knows.
func TestEvaluatePolicyVariables(t *testing.T) {
	req := WebIdentityRequest{Provider: GoogleFederatedPrincipal, Context: map[string][]string{
		KeyGoogleAud:  {testUID},
		KeyGoogleSub:  {testUID},
		KeyGoogleOaud: {"aud*?$"},
		"aws:TagKeys": {"a", "b"},
	}}
	tests := []struct {
		name, version, cond string
		want                Verdict
	}{
		{"key substituted", "2012-10-17", `"StringEquals":{"accounts.google.com:sub":"${accounts.google.com:aud}"}`, VerdictAllowed},
		{"key names in variables are case-insensitive", "2012-10-17", `"StringEquals":{"accounts.google.com:sub":"${ACCOUNTS.GOOGLE.COM:AUD}"}`, VerdictAllowed},
		{"substituted into a pattern", "2012-10-17", `"StringLike":{"accounts.google.com:sub":"1048${accounts.google.com:hd, '7654'}*"}`, VerdictAllowed},
		{"literal specials", "2012-10-17", `"StringEquals":{"accounts.google.com:oaud":"aud${*}${?}${$}"}`, VerdictAllowed},
		{"${*} is no wildcard in StringLike", "2012-10-17", `"StringLike":{"accounts.google.com:sub":"10487${*}"}`, VerdictDenied},
		{"${?} is no wildcard in StringLike", "2012-10-17", `"StringLike":{"accounts.google.com:oaud":"aud${?}?$"}`, VerdictDenied},
		{"? is, ${?} is literal", "2012-10-17", `"StringLike":{"accounts.google.com:oaud":"aud?${?}$"}`, VerdictAllowed},
		{"default for an absent key", "2012-10-17", `"StringEquals":{"accounts.google.com:sub":"${accounts.google.com:hd, '` + testUID + `'}"}`, VerdictAllowed},
		{"a default needs a comma and a space", "2012-10-17", `"StringEquals":{"accounts.google.com:sub":"${accounts.google.com:hd,'` + testUID + `'}"}`, VerdictDenied},
		{"absent key without default matches nothing", "2012-10-17", `"StringEquals":{"accounts.google.com:sub":["${accounts.google.com:hd}","other"]}`, VerdictDenied},
		{"absent key without default, other value matches", "2012-10-17", `"StringEquals":{"accounts.google.com:sub":["${accounts.google.com:hd}","` + testUID + `"]}`, VerdictAllowed},
		{"absent key fails a negated operator too", "2012-10-17", `"StringNotEquals":{"accounts.google.com:sub":"${accounts.google.com:hd}"}`, VerdictDenied},
		{"a multivalued key is not substituted", "2012-10-17", `"StringEquals":{"accounts.google.com:sub":"${aws:TagKeys}"}`, VerdictDenied},
		{"no variables in Version 2008-10-17", "2008-10-17", `"StringEquals":{"accounts.google.com:sub":"${accounts.google.com:aud}"}`, VerdictDenied},
		{"no variables in Numeric values", "2012-10-17", `"NumericEquals":{"accounts.google.com:sub":"${accounts.google.com:aud}"}`, VerdictDenied},
		{"a key only AWS knows", "2012-10-17", `"StringEquals":{"accounts.google.com:sub":"${aws:PrincipalTag/team}"}`, VerdictUnknown},
		{"AWS's pages disagree on variables in Bool", "2012-10-17", `"Bool":{"aws:SecureTransport":"${aws:RequestTag/tls}"}`, VerdictUnknown},
		{"ARN values take variables", "2012-10-17", `"ArnLike":{"accounts.google.com:sub":"arn:aws:iam::${accounts.google.com:aud}:role/*"}`, VerdictDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(`{"Version":"` + tc.version + `","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},` +
				`"Action":"sts:AssumeRoleWithWebIdentity","Condition":{` + tc.cond + `}}]}`)
			if err != nil {
				t.Fatal(err)
			}
			if d := Evaluate(p, req); d.Verdict != tc.want {
				t.Errorf("Verdict = %s, want %s\n%s", d.Verdict, tc.want, d.Explain())
			}
		})
	}
}

// TestEvaluateKnownAndUnknownKeys: keys of the token's provider that the
// request lacks are absent; aws:, sts: and other service keys are unknown
// unless supplied; ContextComplete makes every missing key absent.
func TestEvaluateKnownAndUnknownKeys(t *testing.T) {
	tests := []struct {
		cond     string
		complete bool
		want     Verdict
	}{
		{`"Null":{"accounts.google.com:hd":"true"}`, false, VerdictAllowed},
		{`"Null":{"cognito-identity.amazonaws.com:amr":"true"}`, false, VerdictAllowed},
		{`"Null":{"aws:SourceIp":"true"}`, false, VerdictUnknown},
		{`"StringEqualsIfExists":{"sts:RoleSessionName":"x"}`, false, VerdictUnknown},
		{`"StringEquals":{"aws:RequestTag/team":"x"}`, false, VerdictUnknown},
		{`"NumericGreaterThan":{"accounts.google.com:google/organization_number":"1"}`, false, VerdictUnknown},
		{`"StringEquals":{"aws:FederatedProvider":"accounts.google.com"}`, false, VerdictUnknown},
		{`"Null":{"aws:SourceIp":"true"}`, true, VerdictAllowed},
		{`"StringEqualsIfExists":{"sts:RoleSessionName":"x"}`, true, VerdictAllowed},
		{`"StringEquals":{"accounts.google.com:sub":[]}`, true, VerdictUnknown},
		{`"ForAnyValue:Null":{"accounts.google.com:hd":"true"}`, true, VerdictUnknown},
	}
	for _, tc := range tests {
		p, err := Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},` +
			`"Action":"sts:AssumeRoleWithWebIdentity","Condition":{` + tc.cond + `}}]}`)
		if err != nil {
			t.Fatal(err)
		}
		req := numericReq
		req.ContextComplete = tc.complete
		if d := Evaluate(p, req); d.Verdict != tc.want {
			t.Errorf("%s (complete %v): Verdict = %s, want %s\n%s", tc.cond, tc.complete, d.Verdict, tc.want, d.Explain())
		}
	}
}

// A plain operator on a multivalued key is not judged: AWS documents set
// operators for them.
func TestEvaluatePlainOperatorOnMultivaluedKey(t *testing.T) {
	p, err := Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},` +
		`"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"cognito-identity.amazonaws.com:amr":"authenticated"}}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	d := Evaluate(p, WebIdentityRequest{Provider: "cognito-identity.amazonaws.com", Context: map[string][]string{
		"cognito-identity.amazonaws.com:amr": {"authenticated", "graph.facebook.com"},
	}})
	if d.Verdict != VerdictUnknown || !strings.Contains(d.Reason, "multivalued") {
		t.Errorf("decision:\n%s", d.Explain())
	}
}

// operatorParts is parseOperator's result as separate values: the set
// qualifier, the base operator, IfExists, and whether the base is known.
func operatorParts(op string) (set, base string, ifExists, supported bool) {
	o := parseOperator(op)
	return o.set, o.base, o.ifExists, o.known
}
