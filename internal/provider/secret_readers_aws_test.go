package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/hashicorp/terraform-plugin-framework/types"
	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/awssecrets"
)

const foreignStatementSid = "SomeoneElsesAudit"

// checkAWSReaders asserts the readers and administrators the secret's
// resource policy names, the grants on each key (want: key ARN -> grantees),
// and, with foreign, that the planted statement is intact.
func checkAWSReaders(c *awssecrets.Client, name string, readers, admins []string, grants map[string][]string, foreign bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := context.Background()
		s, err := c.Read(ctx, name)
		if err != nil {
			return err
		}
		doc, err := c.ResourcePolicy(ctx, s.ARN)
		if err != nil {
			return err
		}
		r, err := awssecrets.ParseReaders(doc)
		if err != nil {
			return err
		}
		if !sameStrings(r.Readers, readers) || !sameStrings(r.Administrators, admins) {
			return fmt.Errorf("policy names readers %v and administrators %v, want %v and %v", r.Readers, r.Administrators, readers, admins)
		}
		for key, want := range grants {
			have, err := c.ReaderGrants(ctx, key, s.ARN)
			if err != nil {
				return err
			}
			var grantees []string
			for _, g := range have {
				grantees = append(grantees, g.Grantee)
			}
			if !sameStrings(grantees, want) {
				return fmt.Errorf("grants on %s for %v, want %v", key, grantees, want)
			}
		}
		if foreign && !json.Valid([]byte(doc)) || foreign && !containsSid(doc, foreignStatementSid) {
			return fmt.Errorf("the foreign statement is gone: %s", doc)
		}
		return nil
	}
}

func sameStrings(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func containsSid(doc, sid string) bool {
	var p struct{ Statement []map[string]any }
	_ = json.Unmarshal([]byte(doc), &p)
	return slices.ContainsFunc(p.Statement, func(st map[string]any) bool { return st["Sid"] == sid })
}

// editPolicy rewrites the secret's resource policy out of band.
func editPolicy(t *testing.T, c *awssecrets.Client, name string, edit func(doc string) string) {
	t.Helper()
	ctx := context.Background()
	s, err := c.Read(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := c.ResourcePolicy(ctx, s.ARN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SecretsManager.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(s.ARN), ResourcePolicy: aws.String(edit(doc))}); err != nil {
		t.Fatal(err)
	}
}

func TestAccAWSSecretConnection_readers(t *testing.T) {
	m := acctest.MotoServer(t)
	c := testSecretsClient(t, m)
	_, key1ARN := testKMSKey(t, c)
	_, key2ARN := testKMSKey(t, c)
	role := func(n string) string { return "arn:aws:iam::123456789012:role/" + n }
	a, b, cc, d, tf := role("task-a"), role("task-b"), role("task-c"), role("task-d"), role("terraform")
	id := tfacctest.RandomWithPrefix("tfacc_readers")
	name := "airflow/connections/" + id
	config := func(key, readers string) string {
		lines := ""
		if readers != "" {
			lines = fmt.Sprintf("readers = %s\n  administrators = [%q]", readers, tf)
		}
		return awsSecretsProviderBlock(m) + fmt.Sprintf(`
resource "airflowiam_aws_secret_connection" "test" {
  connection_id           = %q
  conn_type               = "postgres"
  host                    = "db.internal"
  kms_key_id              = %q
  recovery_window_in_days = 0
  %s
}
`, id, key, lines)
	}
	var secretARN string
	remember := func(s *terraform.State) error {
		secretARN = s.RootModule().Resources[awsSecretAddr].Primary.Attributes["secret_arn"]
		return nil
	}
	plantForeign := func() {
		editPolicy(t, c, name, func(doc string) string {
			var p struct {
				Version   string
				Statement []map[string]any
			}
			_ = json.Unmarshal([]byte(doc), &p)
			p.Statement = append(p.Statement, map[string]any{"Sid": foreignStatementSid, "Effect": "Allow",
				"Principal": map[string]any{"AWS": role("audit")}, "Action": "secretsmanager:DescribeSecret", "Resource": "*"})
			out, _ := json.Marshal(p)
			return string(out)
		})
	}
	updates := resource.ConfigPlanChecks{
		PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(awsSecretAddr, plancheck.ResourceActionUpdate)},
		PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
	}
	bc := fmt.Sprintf("[%q, %q]", b, cc)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(checkSecretGone(c, name), func(*terraform.State) error {
			// The grants are on the keys, which outlive the secret.
			for _, key := range []string{key1ARN, key2ARN} {
				if g, err := c.ReaderGrants(context.Background(), key, secretARN); err != nil || len(g) > 0 {
					return fmt.Errorf("grants left on %s after destroy: %v (%v)", key, g, err)
				}
			}
			return nil
		}),
		Steps: []resource.TestStep{
			{
				Config: config(key1ARN, fmt.Sprintf("[%q, %q]", a, b)),
				Check: resource.ComposeAggregateTestCheckFunc(remember,
					checkAWSReaders(c, name, []string{a, b}, []string{tf}, map[string][]string{key1ARN: {a, b}}, false)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// Readers and key change: the grants follow, the old key keeps
				// none, and a statement someone else wrote stays.
				PreConfig:        plantForeign,
				Config:           config(key2ARN, bc),
				Check:            checkAWSReaders(c, name, []string{b, cc}, []string{tf}, map[string][]string{key1ARN: nil, key2ARN: {b, cc}}, true),
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// A grant revoked out of band shows in the plan and is made again.
				PreConfig: func() {
					gs, err := c.ReaderGrants(context.Background(), key2ARN, secretARN)
					if err != nil {
						t.Fatal(err)
					}
					for _, g := range gs {
						if g.Grantee == cc {
							if _, err := c.KMS.RevokeGrant(context.Background(), &kms.RevokeGrantInput{KeyId: aws.String(key2ARN), GrantId: aws.String(g.ID)}); err != nil {
								t.Fatal(err)
							}
						}
					}
				},
				Config:           config(key2ARN, bc),
				ConfigPlanChecks: updates,
				Check:            checkAWSReaders(c, name, []string{b, cc}, []string{tf}, map[string][]string{key2ARN: {b, cc}}, true),
			},
			{
				// A reader added to the policy out of band is removed.
				PreConfig: func() {
					editPolicy(t, c, name, func(doc string) string {
						out, err := awssecrets.ReadersPolicy(doc, secretARN, &awssecrets.Readers{Readers: []string{b, cc, d}, Administrators: []string{tf}})
						if err != nil {
							t.Fatal(err)
						}
						return out
					})
				},
				Config:           config(key2ARN, bc),
				ConfigPlanChecks: updates,
				Check:            checkAWSReaders(c, name, []string{b, cc}, []string{tf}, map[string][]string{key2ARN: {b, cc}}, true),
			},
			{
				// Unset: the owned statements and the grants go, the foreign
				// statement stays.
				Config: config(key2ARN, ""),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkAWSReaders(c, name, nil, nil, map[string][]string{key2ARN: nil}, true),
					func(*terraform.State) error {
						doc, err := c.ResourcePolicy(context.Background(), secretARN)
						if err != nil || containsSid(doc, awssecrets.ReadersSid) || containsSid(doc, awssecrets.OthersDeniedSid) {
							return fmt.Errorf("owned statements left: %s (%v)", doc, err)
						}
						return nil
					}),
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// Readers again, so that destroy has grants to revoke.
				Config: config(key2ARN, fmt.Sprintf("[%q]", a)),
				Check:  checkAWSReaders(c, name, []string{a}, []string{tf}, map[string][]string{key2ARN: {a}}, true),
			},
		},
	})
}

// TestAWSReadersLockOutWarning: readers without administrators warn that
// Terraform may deny itself the secret; with one, or without readers, no
// warning.
func TestAWSReadersLockOutWarning(t *testing.T) {
	roles := stringSet([]string{"arn:aws:iam::123456789012:role/task-a"})
	for name, tc := range map[string]struct {
		readers, admins types.Set
		warn            bool
	}{
		"readers, no administrators": {roles, types.SetNull(types.StringType), true},
		"readers, empty set":         {roles, stringSet(nil), true},
		"readers and administrator":  {roles, stringSet([]string{"arn:aws:iam::123456789012:role/terraform"}), false},
		"no readers":                 {types.SetNull(types.StringType), types.SetNull(types.StringType), false},
	} {
		m := &awsSecretConnectionModel{Readers: tc.readers, Administrators: tc.admins}
		diags := awsSecretStore{}.validateConfig(context.Background(), m)
		if got := diags.WarningsCount() == 1; got != tc.warn || diags.HasError() {
			t.Errorf("%s: diagnostics %v, want a warning: %v", name, diags, tc.warn)
		}
	}
}

// TestGrantedKey: the AWS managed key takes no grants, whether unset or
// named by its alias.
func TestGrantedKey(t *testing.T) {
	for in, want := range map[types.String]string{
		types.StringNull():                          "",
		types.StringValue(awssecrets.DefaultKMSKey): "",
		types.StringValue("alias/connections"):      "alias/connections",
	} {
		if got := grantedKey(in); got != want {
			t.Errorf("grantedKey(%s) = %q, want %q", in, got, want)
		}
	}
}
