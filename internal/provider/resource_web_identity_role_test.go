package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awsiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awspolicy"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/retry/retrytest"
)

const roleAddr = "airflowiam_web_identity_role.test"

const (
	testSAEmail    = "airflow-worker@my-project.iam.gserviceaccount.com"
	testSAUniqueID = "112233445566778899001"
)

// roleArgs are the arguments of one test configuration.
type roleArgs struct {
	name, description, audience, uniqueID, boundary string
	sessionDuration                                 int
	managed                                         []string
	inline                                          map[string]string // name -> HCL expression
	tags                                            map[string]string
}

func (a roleArgs) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "resource \"airflowiam_web_identity_role\" \"test\" {\n  name = %q\n  google_service_account = %q\n  audience = %q\n", a.name, testSAEmail, a.audience)
	uid := a.uniqueID
	if uid == "" {
		uid = testSAUniqueID
	}
	fmt.Fprintf(&b, "  google_service_account_unique_id = %q\n", uid)
	if a.description != "" {
		fmt.Fprintf(&b, "  description = %q\n", a.description)
	}
	if a.boundary != "" {
		fmt.Fprintf(&b, "  permissions_boundary = %q\n", a.boundary)
	}
	if a.sessionDuration != 0 {
		fmt.Fprintf(&b, "  max_session_duration = %d\n", a.sessionDuration)
	}
	if a.managed != nil {
		quoted := make([]string, len(a.managed))
		for i, arn := range a.managed {
			quoted[i] = fmt.Sprintf("%q", arn)
		}
		fmt.Fprintf(&b, "  managed_policy_arns = [%s]\n", strings.Join(quoted, ", "))
	}
	if a.inline != nil {
		b.WriteString("  inline_policies = {\n")
		for _, k := range slices.Sorted(maps.Keys(a.inline)) {
			fmt.Fprintf(&b, "    %s = %s\n", k, a.inline[k])
		}
		b.WriteString("  }\n")
	}
	if a.tags != nil {
		b.WriteString("  tags = {\n")
		for _, k := range slices.Sorted(maps.Keys(a.tags)) {
			fmt.Fprintf(&b, "    %s = %q\n", k, a.tags[k])
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func s3ReadPolicy(bucket string) string {
	return fmt.Sprintf(`jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = ["s3:GetObject"], Resource = "arn:aws:s3:::%s/*" }] })`, bucket)
}

// matchesIAM checks the role as IAM reports it against a.
func (a roleArgs) matchesIAM(t *testing.T, m *acctest.Moto) resource.TestCheckFunc {
	return func(*terraform.State) error {
		role, err := testAWSClient(t, m).GetRole(context.Background(), a.name)
		if err != nil {
			return err
		}
		uid := a.uniqueID
		if uid == "" {
			uid = testSAUniqueID
		}
		var errs []error
		want := awspolicy.GoogleTrust(uid, testSAEmail, a.audience).JSON()
		if equal, err := awspolicy.Equal(role.TrustPolicy, want); err != nil || !equal {
			errs = append(errs, fmt.Errorf("trust policy in IAM is %s, want %s (%v)", role.TrustPolicy, want, err))
		}
		if role.Description != a.description {
			errs = append(errs, fmt.Errorf("description %q, want %q", role.Description, a.description))
		}
		wantDuration := int32(3600)
		if a.sessionDuration != 0 {
			wantDuration = int32(a.sessionDuration)
		}
		if role.MaxSessionDuration != wantDuration {
			errs = append(errs, fmt.Errorf("max session duration %d, want %d", role.MaxSessionDuration, wantDuration))
		}
		if role.PermissionsBoundary != a.boundary {
			errs = append(errs, fmt.Errorf("permissions boundary %q, want %q", role.PermissionsBoundary, a.boundary))
		}
		wantManaged := slices.Clone(a.managed)
		sort.Strings(wantManaged)
		if !slices.Equal(role.ManagedPolicyARNs, wantManaged) && (len(wantManaged) > 0 || len(role.ManagedPolicyARNs) > 0) {
			errs = append(errs, fmt.Errorf("managed policies %v, want %v", role.ManagedPolicyARNs, wantManaged))
		}
		if len(role.InlinePolicies) != len(a.inline) {
			errs = append(errs, fmt.Errorf("inline policies %v, want names %v", role.InlinePolicies, slices.Sorted(maps.Keys(a.inline))))
		}
		for name := range a.inline {
			if _, ok := role.InlinePolicies[name]; !ok {
				errs = append(errs, fmt.Errorf("inline policy %s missing", name))
			}
		}
		if len(role.Tags) != len(a.tags) {
			errs = append(errs, fmt.Errorf("tags %v, want %v", role.Tags, a.tags))
		}
		for k, v := range a.tags {
			if role.Tags[k] != v {
				errs = append(errs, fmt.Errorf("tag %s = %q, want %q", k, role.Tags[k], v))
			}
		}
		return errors.Join(errs...)
	}
}

func checkRoleDestroyed(t *testing.T, m *acctest.Moto, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		_, err := testAWSClient(t, m).GetRole(context.Background(), name)
		if err == nil {
			return fmt.Errorf("IAM role %s still exists", name)
		}
		if !awsiam.IsNotFound(err) {
			return err
		}
		return nil
	}
}

func TestAccWebIdentityRole_basic(t *testing.T) {
	m := acctest.MotoServer(t)
	a := roleArgs{
		name: tfacctest.RandomWithPrefix("tfacc-basic"), description: "Airflow workers, keyless", audience: "airflow-analytics",
		managed: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
		inline:  map[string]string{"read_bucket": s3ReadPolicy("analytics")},
		tags:    map[string]string{"team": "data"},
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkRoleDestroyed(t, m, a.name),
		Steps: []resource.TestStep{{
			Config: awsProviderBlock(m) + a.config(),
			Check:  a.matchesIAM(t, m),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(roleAddr, tfjsonpath.New("arn"), knownvalue.StringExact(fmt.Sprintf("arn:aws:iam::%s:role/%s", m.AccountID, a.name))),
				statecheck.ExpectKnownValue(roleAddr, tfjsonpath.New("unique_id"), knownvalue.StringRegexp(regexp.MustCompile(`^AROA`))),
				statecheck.ExpectKnownValue(roleAddr, tfjsonpath.New("path"), knownvalue.StringExact("/")),
				statecheck.ExpectKnownValue(roleAddr, tfjsonpath.New("max_session_duration"), knownvalue.Int64Exact(3600)),
				statecheck.ExpectKnownValue(roleAddr, tfjsonpath.New("trust_policy"), knownvalue.StringFunc(func(v string) error {
					for _, want := range []string{testSAUniqueID, testSAEmail, "airflow-analytics", "accounts.google.com:oaud", "sts:AssumeRoleWithWebIdentity"} {
						if !strings.Contains(v, want) {
							return fmt.Errorf("trust policy lacks %q: %s", want, v)
						}
					}
					return nil
				})),
				statecheck.ExpectKnownValue(roleAddr, tfjsonpath.New("airflow_connection_extra"), knownvalue.StringFunc(func(v string) error {
					var extra map[string]string
					if err := json.Unmarshal([]byte(v), &extra); err != nil {
						return err
					}
					want := map[string]string{
						"role_arn":           fmt.Sprintf("arn:aws:iam::%s:role/%s", m.AccountID, a.name),
						"region_name":        m.Region,
						"assume_role_method": "assume_role_with_web_identity",
						"assume_role_with_web_identity_federation":          "google",
						"assume_role_with_web_identity_federation_audience": "airflow-analytics",
					}
					if fmt.Sprint(extra) != fmt.Sprint(want) {
						return fmt.Errorf("airflow_connection_extra = %v, want %v", extra, want)
					}
					return nil
				})),
			},
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
		}},
	})
}

func TestAccWebIdentityRole_update(t *testing.T) {
	m := acctest.MotoServer(t)
	first := roleArgs{
		name: tfacctest.RandomWithPrefix("tfacc-update"), description: "first", audience: "aud-one",
		managed: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
		inline:  map[string]string{"one": s3ReadPolicy("first")},
		tags:    map[string]string{"team": "data", "env": "dev"},
	}
	second := roleArgs{
		name: first.name, description: "second", audience: "aud-two", uniqueID: "998877665544332211000",
		boundary: "arn:aws:iam::aws:policy/PowerUserAccess", sessionDuration: 7200,
		managed: []string{"arn:aws:iam::aws:policy/SecurityAudit"},
		inline:  map[string]string{"one": s3ReadPolicy("second"), "two": s3ReadPolicy("other")},
		tags:    map[string]string{"team": "platform"},
	}
	third := roleArgs{name: first.name, audience: "aud-two"}
	step := func(a roleArgs) resource.TestStep {
		return resource.TestStep{
			Config: awsProviderBlock(m) + a.config(),
			Check:  a.matchesIAM(t, m),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(roleAddr, plancheck.ResourceActionUpdate)},
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
		}
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkRoleDestroyed(t, m, first.name),
		Steps: []resource.TestStep{
			{Config: awsProviderBlock(m) + first.config(), Check: first.matchesIAM(t, m)},
			step(second),
			step(third),
		},
	})
}

func TestAccWebIdentityRole_import(t *testing.T) {
	m := acctest.MotoServer(t)
	a := roleArgs{
		name: tfacctest.RandomWithPrefix("tfacc-import"), description: "imported", audience: "airflow-import",
		managed: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
		inline:  map[string]string{"read_bucket": s3ReadPolicy("imports")},
		tags:    map[string]string{"team": "data"},
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkRoleDestroyed(t, m, a.name),
		Steps: []resource.TestStep{
			{Config: awsProviderBlock(m) + a.config()},
			{
				Config:            awsProviderBlock(m) + a.config(),
				ResourceName:      roleAddr,
				ImportState:       true,
				ImportStateId:     a.name,
				ImportStateVerify: true,
				// IAM returns the document, not the configuration's text;
				// _importExisting shows that the two plan no change.
				ImportStateVerifyIgnore: []string{"inline_policies"},
			},
		},
	})
}

// A role made outside Terraform, imported, plans no change against a
// configuration that describes it in other words.
func TestAccWebIdentityRole_importExisting(t *testing.T) {
	m := acctest.MotoServer(t)
	a := roleArgs{
		name: tfacctest.RandomWithPrefix("tfacc-existing"), description: "made by hand", audience: "airflow-existing",
		managed: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
		inline:  map[string]string{"read_bucket": s3ReadPolicy("existing")},
		tags:    map[string]string{"team": "data"},
	}
	_, err := testAWSClient(t, m).CreateRole(context.Background(), awsiam.RoleSpec{
		Name: a.name, Description: a.description,
		TrustPolicy:       awspolicy.GoogleTrust(testSAUniqueID, testSAEmail, a.audience).JSON(),
		ManagedPolicyARNs: a.managed,
		// The same policy as the configuration's jsonencode, written differently.
		InlinePolicies: map[string]string{"read_bucket": `{"Statement": {"Resource": ["arn:aws:s3:::existing/*"], "Effect": "Allow", "Action": "s3:GetObject"}, "Version": "2012-10-17"}`},
		Tags:           a.tags,
	})
	if err != nil {
		t.Fatalf("creating the role out of band: %v", err)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkRoleDestroyed(t, m, a.name),
		Steps: []resource.TestStep{
			{
				Config:             awsProviderBlock(m) + a.config(),
				ResourceName:       roleAddr,
				ImportState:        true,
				ImportStateId:      a.name,
				ImportStatePersist: true,
			},
			{
				Config: awsProviderBlock(m) + a.config(),
				Check:  a.matchesIAM(t, m),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccWebIdentityRole_drift(t *testing.T) {
	m := acctest.MotoServer(t)
	a := roleArgs{name: tfacctest.RandomWithPrefix("tfacc-drift"), audience: "airflow-drift", managed: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}}
	client := testAWSClient(t, m)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkRoleDestroyed(t, m, a.name),
		Steps: []resource.TestStep{
			{Config: awsProviderBlock(m) + a.config()},
			{
				// Out of band: the trust policy is replaced by the common
				// mistake (email only in :aud), and a policy is attached.
				PreConfig: func() {
					ctx := context.Background()
					emailOnly := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"accounts.google.com:aud":%q}}}]}`, testSAEmail)
					if _, err := client.IAM.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(a.name), PolicyDocument: aws.String(emailOnly)}); err != nil {
						t.Fatalf("changing the trust policy out of band: %v", err)
					}
					if _, err := client.IAM.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(a.name), PolicyArn: aws.String("arn:aws:iam::aws:policy/SecurityAudit")}); err != nil {
						t.Fatalf("attaching a policy out of band: %v", err)
					}
				},
				Config: awsProviderBlock(m) + a.config(),
				Check:  a.matchesIAM(t, m),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(roleAddr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(roleAddr, tfjsonpath.New("managed_policy_arns"),
							knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("arn:aws:iam::aws:policy/ReadOnlyAccess")})),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccWebIdentityRole_disappears(t *testing.T) {
	m := acctest.MotoServer(t)
	a := roleArgs{name: tfacctest.RandomWithPrefix("tfacc-gone"), audience: "airflow-gone", inline: map[string]string{"p": s3ReadPolicy("gone")}}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkRoleDestroyed(t, m, a.name),
		Steps: []resource.TestStep{
			{Config: awsProviderBlock(m) + a.config()},
			{
				PreConfig: func() {
					if err := testAWSClient(t, m).DeleteRole(context.Background(), a.name); err != nil {
						t.Fatalf("deleting the role out of band: %v", err)
					}
				},
				Config: awsProviderBlock(m) + a.config(),
				Check:  a.matchesIAM(t, m),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(roleAddr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

// A create that fails half-way leaves no role behind.
func TestAccWebIdentityRole_noHalfWrittenRole(t *testing.T) {
	m := acctest.MotoServer(t)
	a := roleArgs{name: tfacctest.RandomWithPrefix("tfacc-half"), audience: "airflow-half",
		managed: []string{fmt.Sprintf("arn:aws:iam::%s:policy/does-not-exist", m.AccountID)}}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkRoleDestroyed(t, m, a.name),
		Steps: []resource.TestStep{{
			Config:      awsProviderBlock(m) + a.config(),
			ExpectError: regexp.MustCompile(`(?s)Error Creating IAM Role.*does-not-exist.*deleted again`),
		}},
	})
}

func TestAccWebIdentityRole_invalidInput(t *testing.T) {
	m := acctest.MotoServer(t)
	base := func(attrs string) string {
		if !strings.Contains(attrs, "name =") {
			attrs = "name = \"ok\"\n" + attrs
		}
		return awsProviderBlock(m) + "resource \"airflowiam_web_identity_role\" \"test\" {\n" + attrs + "\n}\n"
	}
	valid := fmt.Sprintf("google_service_account = %q\ngoogle_service_account_unique_id = %q\naudience = \"a\"\n", testSAEmail, testSAUniqueID)
	cases := []struct {
		name, attrs string
		want        *regexp.Regexp
	}{
		{"boundary not an ARN", valid + `permissions_boundary = "ReadOnlyAccess"`, regexp.MustCompile(`(?s)permissions_boundary.*must\s+be\s+an\s+IAM\s+policy\s+ARN`)},
		{"managed policy not an ARN", valid + `managed_policy_arns = ["arn:aws:s3:::bucket"]`, regexp.MustCompile(`(?s)managed_policy_arns.*must\s+be\s+an\s+IAM\s+policy\s+ARN`)},
		{"malformed inline policy", valid + `inline_policies = { p = "{not json" }`, regexp.MustCompile(`(?s)Invalid Policy Document.*inline_policies`)},
		{"inline policy without statements", valid + `inline_policies = { p = jsonencode({ Version = "2012-10-17" }) }`, regexp.MustCompile(`(?s)Invalid Policy Document.*Statement`)},
		{"email is not a service account", `google_service_account = "someone@example.com"` + "\n" + fmt.Sprintf("google_service_account_unique_id = %q\naudience = \"a\"", testSAUniqueID), regexp.MustCompile(`(?s)google_service_account.*must be a Google service-account email`)},
		{"empty audience", fmt.Sprintf("google_service_account = %q\ngoogle_service_account_unique_id = %q\naudience = \"\"", testSAEmail, testSAUniqueID), regexp.MustCompile(`(?s)audience.*at least 1`)},
		{"session too short", valid + "max_session_duration = 900", regexp.MustCompile(`(?s)max_session_duration.*between 3600 and 43200`)},
		{"session too long", valid + "max_session_duration = 86400", regexp.MustCompile(`(?s)max_session_duration.*between 3600 and 43200`)},
		{"unique id is an email", fmt.Sprintf("google_service_account = %q\ngoogle_service_account_unique_id = %q\naudience = \"a\"", testSAEmail, testSAEmail), regexp.MustCompile(`(?s)google_service_account_unique_id.*numeric unique ID`)},
		{"unique id missing", fmt.Sprintf("google_service_account = %q\naudience = \"a\"", testSAEmail), regexp.MustCompile(`(?s)Missing Google Service Account Unique ID.*gcloud\s+iam\s+service-accounts\s+describe`)},
		{"bad role name", "name = \"no spaces allowed\"\n" + valid, regexp.MustCompile(`(?s)name.*must be 1 to 64 letters`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: base(tc.attrs), PlanOnly: true, ExpectError: tc.want}},
			})
		})
	}
}

// The role's airflow_connection_extra, passed to a connection on a real
// Airflow 3, round-trips unchanged.
func TestAccWebIdentityRole_airflowConnection(t *testing.T) {
	m := acctest.MotoServer(t)
	af := acctest.Airflow3(t)
	name := tfacctest.RandomWithPrefix("tfacc-conn")
	config := "\nprovider \"airflowiam\" {\n" + airflowBlock(af) + awsBlock(m) + "}\n" + fmt.Sprintf(`
resource "airflowiam_web_identity_role" "test" {
  name                             = %q
  google_service_account           = %q
  google_service_account_unique_id = %q
  audience                         = "airflow-roundtrip"
}

resource "airflowiam_connection" "test" {
  connection_id = %q
  conn_type     = "aws"
  extra         = airflowiam_web_identity_role.test.airflow_connection_extra
}
`, name, testSAEmail, testSAUniqueID, name)
	roleARN := fmt.Sprintf("arn:aws:iam::%s:role/%s", m.AccountID, name)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             resource.ComposeAggregateTestCheckFunc(checkRoleDestroyed(t, m, name), checkConnectionDestroyed(t, af, name)),
		Steps: []resource.TestStep{{
			Config: config,
			Check: checkAPIConnection(t, af, name, func(c *airflow.Connection) error {
				var extra map[string]string
				if c.Extra == nil || json.Unmarshal([]byte(*c.Extra), &extra) != nil {
					return fmt.Errorf("connection extra is not a JSON object of strings: %s", derefString(c.Extra))
				}
				want := map[string]string{
					"role_arn": roleARN, "region_name": m.Region,
					"assume_role_method":                                "assume_role_with_web_identity",
					"assume_role_with_web_identity_federation":          "google",
					"assume_role_with_web_identity_federation_audience": "airflow-roundtrip",
				}
				if fmt.Sprint(extra) != fmt.Sprint(want) {
					return fmt.Errorf("Airflow has extra %v, want %v", extra, want)
				}
				return nil
			}),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
		}},
	})
}

// With no credentials anywhere, the error says what to set.
func TestAccWebIdentityRole_noCredentials(t *testing.T) {
	m := acctest.MotoServer(t)
	for _, env := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"} {
		t.Setenv(env, "")
	}
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	name := tfacctest.RandomWithPrefix("tfacc-nocreds")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkRoleDestroyed(t, m, name),
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "airflowiam" {
  aws {
    region       = %q
    iam_endpoint = %q
    sts_endpoint = %q
  }
}
`, m.Region, m.URL, m.URL) + roleArgs{name: name, audience: "a"}.config(),
			ExpectError: regexp.MustCompile(`(?s)No AWS credentials were found: set access_key and secret_key or\s+profile`),
		}},
	})
}

// awsAndGoogleProviderBlock configures both clouds: moto and fakegcp.
func awsAndGoogleProviderBlock(m *acctest.Moto, g *acctest.GCP) string {
	return "\nprovider \"airflowiam\" {\n" + awsBlock(m) + googleBlock(g) + "}\n"
}

// With a google block, the unique ID is looked up during plan, and a
// service account that does not exist is a plan-time error.
func TestAccWebIdentityRole_uniqueIDLookedUp(t *testing.T) {
	m := acctest.MotoServer(t)
	g := acctest.FakeGCP(t)
	worker, ok := g.ServiceAccount(g.Worker)
	if !ok {
		t.Fatal("the seeded worker account is missing")
	}
	name := tfacctest.RandomWithPrefix("tfacc-lookup")
	config := func(email string) string {
		return awsAndGoogleProviderBlock(m, g) + fmt.Sprintf(`
resource "airflowiam_web_identity_role" "test" {
  name                   = %q
  google_service_account = %q
  audience               = "airflow-analytics"
}
`, name, email)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config("nobody@airflow-prod.iam.gserviceaccount.com"),
				ExpectError: regexp.MustCompile(`(?s)Error Looking Up Service Account.*nobody@airflow-prod.iam.gserviceaccount.com` +
					`.*does\s+not\s+exist`),
			},
			{
				Config: config(g.Worker),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(roleAddr, tfjsonpath.New("google_service_account_unique_id"), knownvalue.StringExact(worker.UniqueID)),
				}},
				Check: func(*terraform.State) error {
					role, err := testAWSClient(t, m).GetRole(t.Context(), name)
					if err != nil {
						return err
					}
					want := awspolicy.GoogleTrust(worker.UniqueID, g.Worker, "airflow-analytics").JSON()
					if equal, err := awspolicy.Equal(role.TrustPolicy, want); err != nil || !equal {
						return fmt.Errorf("trust policy %s, want %s", role.TrustPolicy, want)
					}
					return nil
				},
			},
			{
				Config:           config(g.Worker),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// Policy documents are compared by meaning: an inline policy rewritten in
// the configuration in other words, and a trust policy rewritten out of
// band in other words, plan no change.
func TestAccWebIdentityRole_semanticPolicies(t *testing.T) {
	m := acctest.MotoServer(t)
	a := roleArgs{name: tfacctest.RandomWithPrefix("tfacc-semantic"), audience: "airflow-semantic",
		inline: map[string]string{"read_bucket": s3ReadPolicy("semantic")}}
	// The same document as s3ReadPolicy("semantic"): other key order, a
	// list of one for a string, a single statement for a list, white space.
	reworded := a
	reworded.inline = map[string]string{"read_bucket": `<<-EOT
      {
        "Statement": {
          "Resource": ["arn:aws:s3:::semantic/*"],
          "Action":   "s3:GetObject",
          "Effect":   "Allow"
        },
        "Version": "2012-10-17"
      }
    EOT`}
	client := testAWSClient(t, m)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkRoleDestroyed(t, m, a.name),
		Steps: []resource.TestStep{
			{Config: awsProviderBlock(m) + a.config(), Check: a.matchesIAM(t, m)},
			{
				Config: awsProviderBlock(m) + reworded.config(),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Out of band: the same trust policy, written differently.
				PreConfig: func() {
					uid, email := testSAUniqueID, testSAEmail
					reordered := fmt.Sprintf(`{"Statement":[{"Condition":{"StringEquals":{"accounts.google.com:oaud":[%q],`+
						`"ACCOUNTS.GOOGLE.COM:SUB":%q,"accounts.google.com:aud":[%q,%q]}},"Action":["sts:AssumeRoleWithWebIdentity"],`+
						`"Principal":{"Federated":["accounts.google.com"]},"Effect":"Allow"}],"Version":"2012-10-17"}`,
						a.audience, uid, email, uid)
					if _, err := client.IAM.UpdateAssumeRolePolicy(context.Background(), &iam.UpdateAssumeRolePolicyInput{
						RoleName: aws.String(a.name), PolicyDocument: aws.String(reordered)}); err != nil {
						t.Fatalf("rewriting the trust policy out of band: %v", err)
					}
				},
				Config: awsProviderBlock(m) + reworded.config(),
				Check:  a.matchesIAM(t, m),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

// isCreateRole selects IAM's CreateRole calls (query API: the action is in
// the form body).
func isCreateRole(r *http.Request) bool {
	if r.Body == nil {
		return false
	}
	b, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(b))
	return form.Get("Action") == "CreateRole"
}

// CreateRole reaches IAM (moto) and its answer is lost; the SDK's retryer
// sends it again and IAM says EntityAlreadyExists. The role carries this
// create's token, trust policy and path, so it is adopted and the create
// finished: the inline policy and the managed policy are attached, the
// token tag is gone, and nothing is reported to the user.
func TestAccWebIdentityRole_lostCreateRoleAnswer(t *testing.T) {
	m := acctest.MotoServer(t)
	proxy := retrytest.NewProxy(t, m.URL, isCreateRole, 1)
	a := roleArgs{
		name: tfacctest.RandomWithPrefix("tfacc-lost"), audience: "airflow-lost",
		managed: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
		inline:  map[string]string{"read_bucket": s3ReadPolicy("lost")},
		tags:    map[string]string{"team": "data"},
	}
	block := strings.Replace(awsProviderBlock(m), fmt.Sprintf("iam_endpoint = %q", m.URL), fmt.Sprintf("iam_endpoint = %q", proxy.URL), 1)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkRoleDestroyed(t, m, a.name),
		Steps: []resource.TestStep{{
			Config: block + a.config(),
			Check: resource.ComposeAggregateTestCheckFunc(
				a.matchesIAM(t, m),
				func(*terraform.State) error {
					if proxy.Lose.Lost() != 1 || proxy.Lose.Seen() != 2 {
						return fmt.Errorf("lost %d of %d CreateRole answers, want 1 of 2: the fault was not injected", proxy.Lose.Lost(), proxy.Lose.Seen())
					}
					tags, err := testAWSClient(t, m).IAM.ListRoleTags(context.Background(), &iam.ListRoleTagsInput{RoleName: aws.String(a.name)})
					if err != nil {
						return err
					}
					for _, tag := range tags.Tags {
						if aws.ToString(tag.Key) == awsiam.CreateTokenTag {
							return fmt.Errorf("the role still carries %s after its create finished", awsiam.CreateTokenTag)
						}
					}
					return nil
				},
			),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
		}},
	})
}

// A role left by a create that did not finish (it still has the token tag
// of that create) is not adopted by a later create with another token: the
// error says what it is and what to import.
func TestAccWebIdentityRole_unfinishedCreateSaysWhatToImport(t *testing.T) {
	m := acctest.MotoServer(t)
	a := roleArgs{name: tfacctest.RandomWithPrefix("tfacc-left"), audience: "airflow-left"}
	_, err := testAWSClient(t, m).IAM.CreateRole(context.Background(), &iam.CreateRoleInput{
		RoleName:                 aws.String(a.name),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`),
		Tags:                     []iamtypes.Tag{{Key: aws.String(awsiam.CreateTokenTag), Value: aws.String("an-earlier-create")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testAWSClient(t, m).DeleteRole(context.Background(), a.name) })
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: awsProviderBlock(m) + a.config(),
			ExpectError: regexp.MustCompile(`(?s)IAM Role Already Exists.*earlier\s+create\s+of\s+this\s+provider\s+that\s+did\s+not\s+finish.*` +
				`terraform\s+import\s+airflowiam_web_identity_role\.NAME\s+` + regexp.QuoteMeta(a.name)),
		}},
	})
}
