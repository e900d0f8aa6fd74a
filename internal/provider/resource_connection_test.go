package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
)

const connAddr = "airflowiam_connection.test"

// connFields are the settable fields of one test configuration.
type connFields struct {
	id, connType, description, host, login, schema, password, extra string
	port                                                            int64
}

func (f connFields) config(af *acctest.Airflow) string {
	var b strings.Builder
	b.WriteString(providerConfig(af))
	fmt.Fprintf(&b, "resource \"airflowiam_connection\" \"test\" {\n  connection_id = %q\n  conn_type = %q\n", f.id, f.connType)
	for _, kv := range [][2]string{{"description", f.description}, {"host", f.host}, {"login", f.login}, {"schema", f.schema}, {"password", f.password}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "  %s = %q\n", kv[0], kv[1])
		}
	}
	if f.port != 0 {
		fmt.Fprintf(&b, "  port = %d\n", f.port)
	}
	if f.extra != "" {
		// HCL accepts JSON object syntax, so this is how most configurations
		// write extras: jsonencode of an object.
		fmt.Fprintf(&b, "  extra = jsonencode(%s)\n", f.extra)
	}
	b.WriteString("}\n")
	return b.String()
}

// matchesAPI checks that Airflow holds exactly these fields.
func (f connFields) matchesAPI(t *testing.T, af *acctest.Airflow) resource.TestCheckFunc {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return checkAPIConnection(t, af, f.id, func(c *airflow.Connection) error {
		errs := []error{
			expectField("conn_type", &c.ConnType, &f.connType),
			expectField("description", c.Description, opt(f.description)),
			expectField("host", c.Host, opt(f.host)),
			expectField("login", c.Login, opt(f.login)),
			expectField("schema", c.Schema, opt(f.schema)),
		}
		switch {
		case f.port == 0 && c.Port != nil:
			errs = append(errs, fmt.Errorf("port: Airflow has %d, want null", *c.Port))
		case f.port != 0 && (c.Port == nil || *c.Port != f.port):
			errs = append(errs, fmt.Errorf("port: Airflow has %v, want %d", c.Port, f.port))
		}
		if f.extra == "" {
			if c.Extra != nil {
				errs = append(errs, fmt.Errorf("extra: Airflow has %s, want null", *c.Extra))
			}
		} else if c.Extra == nil || !sameJSON(*c.Extra, f.extra) {
			errs = append(errs, fmt.Errorf("extra: Airflow has %s, want %s", derefString(c.Extra), f.extra))
		}
		// Airflow 3 shows whether a password is set; Airflow 2 shows nothing.
		if af.APIVersion == airflow.VersionV2 {
			if want := opt(f.password); want != nil {
				errs = append(errs, expectField("password (masked)", c.Password, strPtr(airflow.MaskedValue)))
			} else {
				errs = append(errs, expectField("password (masked)", c.Password, nil))
			}
		}
		return errors.Join(errs...)
	})
}

func sameJSON(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return string(ja) == string(jb)
}

func fullFields(id string) connFields {
	return connFields{
		id: id, connType: "http", description: "first description", host: "first.example.com",
		login: "first-user", schema: "first_schema", port: 8080, password: "first-pass-" + id,
		extra: `{"region_name":"eu-west-1","retries":3,"nested":{"a":[1,2]}}`,
	}
}

func TestAccConnection_basic(t *testing.T) {
	forEachTarget(t, func(t *testing.T, af *acctest.Airflow) {
		f := fullFields(tfacctest.RandomWithPrefix("tfacc-basic"))
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			CheckDestroy:             checkConnectionDestroyed(t, af, f.id),
			Steps: []resource.TestStep{{
				Config: f.config(af),
				Check:  f.matchesAPI(t, af),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("id"), knownvalue.StringExact(f.id)),
					statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("connection_id"), knownvalue.StringExact(f.id)),
					statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("conn_type"), knownvalue.StringExact("http")),
					statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("host"), knownvalue.StringExact(f.host)),
					statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("port"), knownvalue.Int64Exact(8080)),
					statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("password"), knownvalue.StringExact(f.password)),
					statecheck.ExpectSensitiveValue(connAddr, tfjsonpath.New("password")),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(connAddr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			}},
		})
	})
}

func TestAccConnection_update(t *testing.T) {
	forEachTarget(t, func(t *testing.T, af *acctest.Airflow) {
		first := fullFields(tfacctest.RandomWithPrefix("tfacc-update"))
		second := connFields{
			id: first.id, connType: "postgres", description: "second description", host: "second.example.com",
			login: "second-user", schema: "second_schema", port: 5432, password: "second-pass-" + first.id,
			extra: `{"sslmode":"require"}`,
		}
		// Every optional field removed but the password (removing that replaces; see _passwordRemoval).
		third := connFields{id: first.id, connType: "postgres", password: second.password}
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			CheckDestroy:             checkConnectionDestroyed(t, af, first.id),
			Steps: []resource.TestStep{
				{Config: first.config(af), Check: first.matchesAPI(t, af)},
				{
					Config: second.config(af),
					Check:  second.matchesAPI(t, af),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(connAddr, plancheck.ResourceActionUpdate)},
						PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("conn_type"), knownvalue.StringExact("postgres")),
						statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("port"), knownvalue.Int64Exact(5432)),
						statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("password"), knownvalue.StringExact(second.password)),
					},
				},
				{
					Config: third.config(af),
					Check:  third.matchesAPI(t, af),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(connAddr, plancheck.ResourceActionUpdate)},
						PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("host"), knownvalue.Null()),
						statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("port"), knownvalue.Null()),
						statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("extra"), knownvalue.Null()),
					},
				},
			},
		})
	})
}

func TestAccConnection_passwordRemoval(t *testing.T) {
	forEachTarget(t, func(t *testing.T, af *acctest.Airflow) {
		with := connFields{id: tfacctest.RandomWithPrefix("tfacc-pwrm"), connType: "http", host: "h.example.com", password: "pw-rm-" + t.Name()}
		without := with
		without.password = ""
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			CheckDestroy:             checkConnectionDestroyed(t, af, with.id),
			Steps: []resource.TestStep{
				{Config: with.config(af), Check: with.matchesAPI(t, af)},
				{
					Config: without.config(af),
					Check:  without.matchesAPI(t, af),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(connAddr, plancheck.ResourceActionReplace)},
						PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
				},
			},
		})
	})
}

func TestAccConnection_import(t *testing.T) {
	forEachTarget(t, func(t *testing.T, af *acctest.Airflow) {
		f := fullFields(tfacctest.RandomWithPrefix("tfacc-import"))
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			CheckDestroy:             checkConnectionDestroyed(t, af, f.id),
			Steps: []resource.TestStep{
				{Config: f.config(af)},
				{
					ResourceName:      connAddr,
					ImportState:       true,
					ImportStateId:     f.id,
					ImportStateVerify: true,
					// Airflow never returns the password itself: Airflow 3 says only that one is set.
					ImportStateVerifyIgnore: []string{"password"},
				},
				{
					ResourceName:  connAddr,
					ImportState:   true,
					ImportStateId: "not a valid id!",
					ExpectError:   regexp.MustCompile(`(?s)Invalid Connection ID.*not a valid id!`),
				},
			},
		})
	})
}

func TestAccConnection_drift(t *testing.T) {
	forEachTarget(t, func(t *testing.T, af *acctest.Airflow) {
		f := fullFields(tfacctest.RandomWithPrefix("tfacc-drift"))
		client := testClient(t, af)
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			CheckDestroy:             checkConnectionDestroyed(t, af, f.id),
			Steps: []resource.TestStep{
				{Config: f.config(af)},
				{
					// Out of band: host and one extra key change, one extra key is added.
					PreConfig: func() {
						conn, err := client.GetConnection(context.Background(), f.id)
						if err != nil {
							t.Fatalf("reading connection for drift: %v", err)
						}
						conn.Host = strPtr("changed-out-of-band.example.com")
						conn.Extra = strPtr(`{"region_name":"us-east-1","retries":3,"nested":{"a":[1,2]},"added":"x"}`)
						conn.Password = nil
						if _, err := client.UpdateConnection(context.Background(), conn, []string{airflow.FieldHost, airflow.FieldExtra}); err != nil {
							t.Fatalf("changing connection out of band: %v", err)
						}
					},
					Config: f.config(af),
					Check:  f.matchesAPI(t, af),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction(connAddr, plancheck.ResourceActionUpdate),
							plancheck.ExpectKnownValue(connAddr, tfjsonpath.New("host"), knownvalue.StringExact(f.host)),
						},
						PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
				},
			},
		})
	})
}

func TestAccConnection_driftPasswordRemoved(t *testing.T) {
	// Only Airflow 3 shows whether a password is set.
	forEachFront(t, acctest.Airflow3(t), testConnectionDriftPasswordRemoved)
}

func testConnectionDriftPasswordRemoved(t *testing.T, af *acctest.Airflow) {
	f := fullFields(tfacctest.RandomWithPrefix("tfacc-driftpw"))
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkConnectionDestroyed(t, af, f.id),
		Steps: []resource.TestStep{
			{Config: f.config(af)},
			{
				// Airflow's API cannot unset a password, so "removed out of
				// band" is a delete and recreate without one.
				PreConfig: func() {
					client := testClient(t, af)
					conn, err := client.GetConnection(context.Background(), f.id)
					if err != nil {
						t.Fatalf("reading connection: %v", err)
					}
					conn.Password = nil
					if err := client.DeleteConnection(context.Background(), f.id); err != nil {
						t.Fatalf("deleting: %v", err)
					}
					if _, err := client.CreateConnection(context.Background(), conn); err != nil {
						t.Fatalf("recreating without password: %v", err)
					}
				},
				Config: f.config(af),
				Check:  f.matchesAPI(t, af),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(connAddr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccConnection_disappears(t *testing.T) {
	forEachTarget(t, func(t *testing.T, af *acctest.Airflow) {
		f := fullFields(tfacctest.RandomWithPrefix("tfacc-gone"))
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			CheckDestroy:             checkConnectionDestroyed(t, af, f.id),
			Steps: []resource.TestStep{
				{Config: f.config(af)},
				{
					PreConfig: func() {
						if err := testClient(t, af).DeleteConnection(context.Background(), f.id); err != nil {
							t.Fatalf("deleting connection out of band: %v", err)
						}
					},
					Config: f.config(af),
					Check:  f.matchesAPI(t, af),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(connAddr, plancheck.ResourceActionCreate)},
						PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
				},
			},
		})
	})
}

func TestAccConnection_writeOnlyPassword(t *testing.T) {
	forEachTarget(t, func(t *testing.T, af *acctest.Airflow) {
		id := tfacctest.RandomWithPrefix("tfacc-wo")
		secret1 := "wo-secret-one-" + tfacctest.RandString(12)
		secret2 := "wo-secret-two-" + tfacctest.RandString(12)
		workDir := t.TempDir()
		config := func(secret string, version int) string {
			return providerConfig(af) + fmt.Sprintf(`
resource "airflowiam_connection" "test" {
  connection_id       = %q
  conn_type           = "http"
  host                = "wo.example.com"
  password_wo         = %q
  password_wo_version = %d
}
`, id, secret, version)
		}
		hasPassword := checkAPIConnection(t, af, id, func(c *airflow.Connection) error {
			if af.APIVersion == airflow.VersionV2 {
				return expectField("password (masked)", c.Password, strPtr(airflow.MaskedValue))
			}
			return nil
		})
		resource.ParallelTest(t, resource.TestCase{
			TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			WorkingDir:               workDir,
			CheckDestroy:             checkConnectionDestroyed(t, af, id),
			Steps: []resource.TestStep{
				{
					Config: config(secret1, 1),
					Check:  resource.ComposeAggregateTestCheckFunc(hasPassword, checkNoSecretInWorkingDir(workDir, secret1)),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("password_wo"), knownvalue.Null()),
						statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("password"), knownvalue.Null()),
						statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("password_wo_version"), knownvalue.Int64Exact(1)),
					},
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
				},
				{
					Config: config(secret2, 2),
					Check:  resource.ComposeAggregateTestCheckFunc(hasPassword, checkNoSecretInWorkingDir(workDir, secret1, secret2)),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(connAddr, plancheck.ResourceActionUpdate)},
						PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
				},
			},
		})
	})
}

func TestAccConnection_extraSemanticEquality(t *testing.T) {
	forEachTarget(t, func(t *testing.T, af *acctest.Airflow) {
		id := tfacctest.RandomWithPrefix("tfacc-extra")
		config := func(extra string) string {
			return providerConfig(af) + fmt.Sprintf(`
resource "airflowiam_connection" "test" {
  connection_id = %q
  conn_type     = "aws"
  extra         = %q
}
`, id, extra)
		}
		// The same object, written with other key order and white space.
		a := `{"zeta": 1, "alpha": {"y": [1, 2], "x": "s"}, "region_name": "eu-west-1"}`
		b := "{\n  \"region_name\":\"eu-west-1\",\"alpha\":{\"x\":\"s\",\"y\":[1,2]},\n \"zeta\":1}"
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			CheckDestroy:             checkConnectionDestroyed(t, af, id),
			Steps: []resource.TestStep{
				{
					Config: config(a),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
				},
				{
					Config: config(b),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
				},
			},
		})
	})
}

func TestAccConnection_maskedExtra(t *testing.T) {
	forEachTarget(t, func(t *testing.T, af *acctest.Airflow) {
		id := tfacctest.RandomWithPrefix("tfacc-mask")
		secret := "tok-" + tfacctest.RandString(16)
		extra := fmt.Sprintf(`{"api_token":%q,"nested":{"client_secret":%q,"plain":"visible"},"region_name":"eu-west-1"}`, secret, secret)
		f := connFields{id: id, connType: "http", extra: extra}
		// The test is only meaningful if Airflow really masks these keys.
		masked := checkAPIConnection(t, af, id, func(c *airflow.Connection) error {
			if c.Extra == nil || !strings.Contains(*c.Extra, airflow.MaskedValue) || strings.Contains(*c.Extra, secret) {
				return fmt.Errorf("expected Airflow to mask api_token and client_secret, got extra %s", derefString(c.Extra))
			}
			return nil
		})
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			CheckDestroy:             checkConnectionDestroyed(t, af, id),
			Steps: []resource.TestStep{
				{
					Config: f.config(af),
					Check:  masked,
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("extra"), knownvalue.StringFunc(func(v string) error {
							if !strings.Contains(v, secret) {
								return fmt.Errorf("state extra lost the configured secret: %s", v)
							}
							return nil
						})),
					},
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
				},
				{
					// A non-masked key changed out of band still shows as drift.
					PreConfig: func() {
						client := testClient(t, af)
						changed := strings.Replace(extra, "visible", "changed", 1)
						if _, err := client.UpdateConnection(context.Background(), &airflow.Connection{
							ConnectionID: id, ConnType: "http", Extra: &changed,
						}, []string{airflow.FieldExtra}); err != nil {
							t.Fatalf("changing extra out of band: %v", err)
						}
					},
					Config: f.config(af),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(connAddr, plancheck.ResourceActionUpdate)},
					},
				},
			},
		})
	})
}

func TestAccConnection_invalidInput(t *testing.T) {
	af := acctest.Airflow3(t)
	base := func(attrs string) string {
		return providerConfig(af) + "resource \"airflowiam_connection\" \"test\" {\n" + attrs + "\n}\n"
	}
	cases := []struct {
		name, attrs string
		want        *regexp.Regexp
	}{
		{"id with space", `connection_id = "bad id"` + "\nconn_type = \"http\"", regexp.MustCompile(`(?s)connection_id.*letters, digits, underscores`)},
		{"id with slash", `connection_id = "a/b"` + "\nconn_type = \"http\"", regexp.MustCompile(`(?s)connection_id.*letters, digits, underscores`)},
		{"id too long", fmt.Sprintf("connection_id = %q\nconn_type = \"http\"", strings.Repeat("a", 201)), regexp.MustCompile(`(?s)connection_id.*between 1 and 200`)},
		{"extra not an object", `connection_id = "ok"` + "\nconn_type = \"http\"\nextra = jsonencode([1, 2])", regexp.MustCompile(`(?s)extra must be a JSON object.*JSON array`)},
		{"extra not JSON", `connection_id = "ok"` + "\nconn_type = \"http\"\nextra = \"not json\"", flowRE("extra must be a JSON object", "not valid JSON at line 1, column 2")},
		{"extra with a repeated key", `connection_id = "ok"` + "\nconn_type = \"http\"\nextra = \"{\\\"a\\\": 1, \\\"a\\\": 2}\"", flowRE("extra must be a JSON object", `the key "a" appears more than once`)},
		{"port out of range", `connection_id = "ok"` + "\nconn_type = \"http\"\nport = 70000", flowRE("port must be a whole number from 1 to 65535, got 70000")},
		{"port with a fraction", `connection_id = "ok"` + "\nconn_type = \"http\"\nport = 80.5", flowRE("Invalid Port", "port must be a whole number from 1 to 65535, got 80.5")},
		{"key in extra and extra_wo", `connection_id = "ok"` + "\nconn_type = \"http\"\nextra = jsonencode({ api_key = \"x\" })\nextra_wo = jsonencode({ api_key = \"y\" })\nextra_wo_version = 1", flowRE(`The key "api_key" is in both extra and extra_wo`)},
		{"extra_wo without version", `connection_id = "ok"` + "\nconn_type = \"http\"\nextra_wo = jsonencode({ api_key = \"y\" })", regexp.MustCompile(`(?s)extra_wo_version.*must be specified`)},
		{"both passwords", `connection_id = "ok"` + "\nconn_type = \"http\"\npassword = \"a\"\npassword_wo = \"b\"\npassword_wo_version = 1", regexp.MustCompile(`(?s)password.*cannot be specified when.*password_wo`)},
		{"write-only without version", `connection_id = "ok"` + "\nconn_type = \"http\"\npassword_wo = \"b\"", regexp.MustCompile(`(?s)password_wo_version.*must be specified`)},
		{"empty conn_type", `connection_id = "ok"` + "\nconn_type = \"\"", regexp.MustCompile(`(?s)conn_type.*at least 1`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.ParallelTest(t, resource.TestCase{
				TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      base(tc.attrs),
					PlanOnly:    true,
					ExpectError: tc.want,
				}},
			})
		})
	}
}

func TestAccConnection_alreadyExists(t *testing.T) {
	forEachTarget(t, func(t *testing.T, af *acctest.Airflow) {
		id := tfacctest.RandomWithPrefix("tfacc-exists")
		client := testClient(t, af)
		if _, err := client.CreateConnection(context.Background(), &airflow.Connection{ConnectionID: id, ConnType: "http", Host: strPtr("kept.example.com")}); err != nil {
			t.Fatalf("creating connection out of band: %v", err)
		}
		t.Cleanup(func() { _ = client.DeleteConnection(context.Background(), id) })
		f := connFields{id: id, connType: "http", host: "other.example.com"}
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config:      f.config(af),
				ExpectError: regexp.MustCompile(`(?s)Connection Already Exists.*terraform import airflowiam_connection.NAME\s+` + regexp.QuoteMeta(id)),
			}, {
				// The existing connection is untouched.
				Config:   f.config(af),
				PlanOnly: true,
				PreConfig: func() {
					conn, err := client.GetConnection(context.Background(), id)
					if err != nil || derefString(conn.Host) != "kept.example.com" {
						t.Fatalf("existing connection was changed: %+v, %v", conn, err)
					}
				},
				ExpectNonEmptyPlan: true,
			}},
		})
	})
}

func TestAccConnection_wrongCredentials(t *testing.T) {
	forEachAirflow(t, func(t *testing.T, af *acctest.Airflow) {
		bad := *af
		bad.Password = "definitely-wrong"
		want := regexp.MustCompile(`(?s)` + regexp.QuoteMeta(af.URL) + `.*401.*basic auth`)
		if af.APIVersion == airflow.VersionV2 {
			want = regexp.MustCompile(`(?s)POST ` + regexp.QuoteMeta(af.URL) + `/auth/token.*401.*JWT`)
		}
		f := connFields{id: tfacctest.RandomWithPrefix("tfacc-cred"), connType: "http"}
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			CheckDestroy:             checkConnectionDestroyed(t, af, f.id),
			Steps: []resource.TestStep{{
				Config:      f.config(&bad),
				ExpectError: want,
			}},
		})
	})
}

func TestAccConnection_autoAPIVersion(t *testing.T) {
	forEachAirflow(t, func(t *testing.T, af *acctest.Airflow) {
		id := tfacctest.RandomWithPrefix("tfacc-auto")
		config := fmt.Sprintf(`
provider "airflowiam" {
  airflow {
    endpoint = %q
    username = %q
    password = %q
  }
}

resource "airflowiam_connection" "test" {
  connection_id = %q
  conn_type     = "http"
  host          = "auto.example.com"
}
`, af.URL, af.Username, af.Password, id)
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			CheckDestroy:             checkConnectionDestroyed(t, af, id),
			Steps: []resource.TestStep{{
				Config: config,
				Check: checkAPIConnection(t, af, id, func(c *airflow.Connection) error {
					return expectField("host", c.Host, strPtr("auto.example.com"))
				}),
			}},
		})
	})
}

func TestAccConnection_insufficientRole(t *testing.T) {
	forEachAirflow(t, func(t *testing.T, af *acctest.Airflow) {
		viewer := *af
		viewer.Username, viewer.Password = af.ViewerUsername, af.ViewerPassword
		f := connFields{id: tfacctest.RandomWithPrefix("tfacc-viewer"), connType: "http"}
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			CheckDestroy:             checkConnectionDestroyed(t, af, f.id),
			Steps: []resource.TestStep{{
				Config:      f.config(&viewer),
				ExpectError: regexp.MustCompile(`(?s)403 Forbidden.*Op\s+or\s+Admin\s+role`),
			}},
		})
	})
}

// A refresh of many connections on Airflow 3 reads them through the list
// endpoint (airflow.Client.ReadConnection) after the first few: changes,
// deletions and masked fields must look exactly as one-by-one reads show
// them. Thirty connections: ten changed out of band, ten deleted, ten with
// masked values left alone; at most airflow.SnapshotAfter of the thirty are
// read one by one, so every class is seen through the snapshot.
func TestAccConnection_listBackedRefresh(t *testing.T) {
	forEachFront(t, acctest.Airflow3(t), testConnectionListBackedRefresh)
}

func testConnectionListBackedRefresh(t *testing.T, af *acctest.Airflow) {
	prefix := tfacctest.RandomWithPrefix("tfacc_list")
	id := func(group string, i int) string { return fmt.Sprintf("%s_%s_%d", prefix, group, i) }
	var b strings.Builder
	b.WriteString(providerConfig(af))
	for _, group := range []string{"changed", "deleted", "masked"} {
		for i := range 10 {
			fmt.Fprintf(&b, `
resource "airflowiam_connection" "%s_%d" {
  connection_id = %q
  conn_type     = "postgres"
  host          = "db.example.com"
  password      = "secret-%d"
  extra         = jsonencode({ sslmode = "require", api_token = "token-%d" })
}
`, group, i, id(group, i), i, i)
		}
	}
	config := b.String()
	client := testClient(t, af)
	var ids []string
	for _, group := range []string{"changed", "deleted", "masked"} {
		for i := range 10 {
			ids = append(ids, id(group, i))
		}
	}
	expect := []plancheck.PlanCheck{}
	for i := range 10 {
		expect = append(expect,
			plancheck.ExpectResourceAction(fmt.Sprintf("airflowiam_connection.changed_%d", i), plancheck.ResourceActionUpdate),
			plancheck.ExpectResourceAction(fmt.Sprintf("airflowiam_connection.deleted_%d", i), plancheck.ResourceActionCreate),
			plancheck.ExpectResourceAction(fmt.Sprintf("airflowiam_connection.masked_%d", i), plancheck.ResourceActionNoop),
		)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkConnectionDestroyed(t, af, ids...),
		Steps: []resource.TestStep{
			{Config: config},
			{
				PreConfig: func() {
					ctx := context.Background()
					for i := range 10 {
						conn, err := client.GetConnection(ctx, id("changed", i))
						if err != nil {
							t.Fatal(err)
						}
						conn.Host, conn.Password = strPtr("changed.example.com"), nil
						if _, err := client.UpdateConnection(ctx, conn, []string{airflow.FieldHost}); err != nil {
							t.Fatal(err)
						}
						if err := client.DeleteConnection(ctx, id("deleted", i)); err != nil {
							t.Fatal(err)
						}
					}
				},
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: expect},
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// expectField compares one connection field.
func expectField(name string, got *string, want *string) error {
	if (got == nil) != (want == nil) || (got != nil && *got != *want) {
		return fmt.Errorf("%s: Airflow has %s, want %s", name, derefString(got), derefString(want))
	}
	return nil
}

// TestAccConnection_writeOnlyExtra writes secret extra keys with extra_wo
// and a password with password_wo, and scans the state, the saved plans
// (as `terraform show -json` renders them and the raw plan files) and a
// TRACE log of Terraform and the provider for their values. It is not
// parallel: the TRACE log is set through the environment.
func TestAccConnection_writeOnlyExtra(t *testing.T) {
	af := acctest.Airflow3(t)
	id := tfacctest.RandomWithPrefix("tfacc-extrawo")
	// api_key is a name Airflow masks on read; endpoint_ref is one it
	// returns in clear, so only the provider keeps it out of state.
	apiKey1, ref1 := "wo-apikey-one-"+tfacctest.RandString(12), "wo-ref-one-"+tfacctest.RandString(12)
	apiKey2, ref2 := "wo-apikey-two-"+tfacctest.RandString(12), "wo-ref-two-"+tfacctest.RandString(12)
	password := "wo-password-" + tfacctest.RandString(12)
	scan := leakScan{secrets: []string{apiKey1, ref1, apiKey2, ref2, password}}
	workDir, logDir := t.TempDir(), t.TempDir()
	scanLogs := traceLog(t, logDir, scan)
	// The secrets come in through ephemeral variables, as they would in
	// use: a literal in the configuration is part of the configuration that
	// a saved plan carries.
	tfConfig := providerConfig(af) + fmt.Sprintf(`
variable "api_key" {
  type      = string
  ephemeral = true
  sensitive = true
}
variable "ref" {
  type      = string
  ephemeral = true
  sensitive = true
}
variable "password" {
  type      = string
  ephemeral = true
  sensitive = true
}
variable "wo_version" { type = number }

resource "airflowiam_connection" "test" {
  connection_id       = %q
  conn_type           = "http"
  host                = "extra-wo.example.com"
  extra               = jsonencode({ region_name = "eu-west-1" })
  extra_wo            = jsonencode({ api_key = var.api_key, endpoint_ref = var.ref })
  extra_wo_version    = var.wo_version
  password_wo         = var.password
  password_wo_version = 1
}
`, id)
	vars := func(apiKey, ref string, version int) config.Variables {
		return config.Variables{
			"api_key": config.StringVariable(apiKey), "ref": config.StringVariable(ref),
			"password": config.StringVariable(password), "wo_version": config.IntegerVariable(version),
		}
	}
	hasExtra := func(ref string) resource.TestCheckFunc {
		return checkAPIConnection(t, af, id, func(c *airflow.Connection) error {
			var extra map[string]any
			if c.Extra == nil || json.Unmarshal([]byte(*c.Extra), &extra) != nil {
				return fmt.Errorf("extra %s is not a JSON object", derefString(c.Extra))
			}
			if extra["region_name"] != "eu-west-1" || extra["endpoint_ref"] != ref || extra["api_key"] == nil {
				return fmt.Errorf("Airflow's extra lacks the configured or the write-only keys: %v", extra)
			}
			return nil
		})
	}
	stateExtra := statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("extra"), knownvalue.StringExact(`{"region_name":"eu-west-1"}`))
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		WorkingDir:               workDir,
		CheckDestroy:             checkConnectionDestroyed(t, af, id),
		Steps: []resource.TestStep{
			{
				Config:          tfConfig,
				ConfigVariables: vars(apiKey1, ref1, 1),
				Check:           resource.ComposeAggregateTestCheckFunc(hasExtra(ref1), scan.check(workDir)),
				ConfigStateChecks: []statecheck.StateCheck{
					stateExtra,
					statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("extra_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("extra_wo_version"), knownvalue.Int64Exact(1)),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{scan.plan(workDir)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				Config:            tfConfig,
				ConfigVariables:   vars(apiKey2, ref2, 2),
				Check:             resource.ComposeAggregateTestCheckFunc(hasExtra(ref2), scan.check(workDir)),
				ConfigStateChecks: []statecheck.StateCheck{stateExtra},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(connAddr, plancheck.ResourceActionUpdate), scan.plan(workDir)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// A write-only key removed out of band is written again.
				PreConfig: func() {
					extra := `{"region_name":"eu-west-1","api_key":"` + apiKey2 + `"}`
					if _, err := testClient(t, af).UpdateConnection(context.Background(), &airflow.Connection{
						ConnectionID: id, ConnType: "http", Extra: &extra,
					}, []string{airflow.FieldExtra}); err != nil {
						t.Fatalf("removing endpoint_ref out of band: %v", err)
					}
				},
				Config:          tfConfig,
				ConfigVariables: vars(apiKey2, ref2, 2),
				Check:           resource.ComposeAggregateTestCheckFunc(hasExtra(ref2), scan.check(workDir)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(connAddr, plancheck.ResourceActionUpdate), scan.plan(workDir)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
	scanLogs()
}

// TestAccConnection_writeOnlyExtraAlone: extra_wo without extra, on both
// Airflow versions: Airflow holds the keys, state holds no extra, and a
// refresh shows nothing to change.
func TestAccConnection_writeOnlyExtraAlone(t *testing.T) {
	forEachAirflow(t, func(t *testing.T, af *acctest.Airflow) {
		id := tfacctest.RandomWithPrefix("tfacc-wo-alone")
		ref := "wo-alone-" + tfacctest.RandString(12)
		resource.ParallelTest(t, resource.TestCase{
			TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
			ProtoV6ProviderFactories: protoV6ProviderFactories,
			CheckDestroy:             checkConnectionDestroyed(t, af, id),
			Steps: []resource.TestStep{{
				Config: providerConfig(af) + fmt.Sprintf(`
resource "airflowiam_connection" "test" {
  connection_id    = %q
  conn_type        = "http"
  extra_wo         = jsonencode({ endpoint_ref = %q, client_secret = "s" })
  extra_wo_version = 1
}
`, id, ref),
				Check: checkAPIConnection(t, af, id, func(c *airflow.Connection) error {
					if c.Extra == nil || !strings.Contains(*c.Extra, ref) || !strings.Contains(*c.Extra, "client_secret") {
						return fmt.Errorf("Airflow's extra lacks the write-only keys: %s", derefString(c.Extra))
					}
					return nil
				}),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(connAddr, tfjsonpath.New("extra"), knownvalue.Null()),
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			}},
		})
	})
}
