package provider

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/faultproxy"
)

// bulkVariants are connections that exercise every field: a password and a
// masked extra, a write-only password, an extra alone.
var bulkVariants = []string{
	`conn_type   = "postgres"
  description = "bulk test"
  host        = "db.example.com"
  port        = 5432
  login       = "airflow"
  schema      = "warehouse"
  password    = "pw-PASSWORD"
  extra       = jsonencode({ sslmode = "require", api_token = "tok-PASSWORD", nested = { client_secret = "s-PASSWORD", plain = "visible" } })`,
	`conn_type           = "http"
  host                = "wo.example.com"
  password_wo         = "wo-PASSWORD"
  password_wo_version = 1`,
	`conn_type = "aws"
  extra     = jsonencode({ region_name = "eu-west-1" })`,
}

// bulkConfig declares each variant twice: b<i>, created at the same time
// (one bulk request), and s<i>, created one after the other after them
// (single requests). more are more connections created with the b<i>,
// named prefix-NAME.
func bulkConfig(url string, af *acctest.Airflow, prefix, password string, more ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `
provider "airflowiam" {
  airflow {
    endpoint    = %q
    username    = %q
    password    = %q
    api_version = "v2"
  }
}
`, url, af.Username, af.Password)
	var bulk []string
	for i, v := range bulkVariants {
		v = strings.ReplaceAll(v, "PASSWORD", password)
		fmt.Fprintf(&b, "\nresource \"airflowiam_connection\" \"b%d\" {\n  connection_id = \"%s-b%d\"\n  %s\n}\n", i, prefix, i, v)
		bulk = append(bulk, fmt.Sprintf("airflowiam_connection.b%d", i))
	}
	for _, name := range more {
		fmt.Fprintf(&b, "\nresource \"airflowiam_connection\" %q {\n  connection_id = \"%s-%s\"\n  conn_type = \"http\"\n}\n", name, prefix, name)
	}
	after := strings.Join(bulk, ", ")
	for i, v := range bulkVariants {
		v = strings.ReplaceAll(v, "PASSWORD", password)
		fmt.Fprintf(&b, "\nresource \"airflowiam_connection\" \"s%d\" {\n  connection_id = \"%s-s%d\"\n  %s\n  depends_on = [%s]\n}\n",
			i, prefix, i, v, after)
		after = fmt.Sprintf("airflowiam_connection.s%d", i)
	}
	return b.String()
}

// sameAsSingle checks that each bulk-written connection is, in state and
// in Airflow, field by field the single-written one.
func sameAsSingle(t *testing.T, af *acctest.Airflow, prefix string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		client := testClient(t, af)
		for i := range bulkVariants {
			b := s.RootModule().Resources[fmt.Sprintf("airflowiam_connection.b%d", i)]
			single := s.RootModule().Resources[fmt.Sprintf("airflowiam_connection.s%d", i)]
			if b == nil || single == nil {
				return fmt.Errorf("variant %d: not in state", i)
			}
			for k, v := range single.Primary.Attributes {
				want := strings.ReplaceAll(v, prefix+"-s", prefix+"-b")
				if got := b.Primary.Attributes[k]; got != want {
					return fmt.Errorf("variant %d: state %s = %q written in bulk, %q written alone", i, k, got, want)
				}
			}
			if len(b.Primary.Attributes) != len(single.Primary.Attributes) {
				return fmt.Errorf("variant %d: %d attributes in bulk, %d alone", i, len(b.Primary.Attributes), len(single.Primary.Attributes))
			}
			bc, err := client.GetConnection(context.Background(), fmt.Sprintf("%s-b%d", prefix, i))
			if err != nil {
				return err
			}
			sc, err := client.GetConnection(context.Background(), fmt.Sprintf("%s-s%d", prefix, i))
			if err != nil {
				return err
			}
			bc.ConnectionID = sc.ConnectionID
			if !reflect.DeepEqual(bc, sc) {
				return fmt.Errorf("variant %d: Airflow holds %s written in bulk, %s alone", i, connText(bc), connText(sc))
			}
		}
		return nil
	}
}

func connText(c *airflow.Connection) string {
	return fmt.Sprintf("%s/%s/%s/%s/%s/%v/%s/%s", c.ConnType, derefString(c.Description), derefString(c.Host), derefString(c.Login),
		derefString(c.Schema), c.Port, derefString(c.Password), derefString(c.Extra))
}

// bulkRequests counts the bulk requests (PATCH on the collection) and the
// single creates that reached Airflow.
func bulkRequests(p *faultproxy.Proxy) (bulk, posts int) {
	for _, e := range p.Log() {
		switch {
		case !e.Forwarded || e.Path != "/api/v2/connections":
		case e.Method == http.MethodPatch:
			bulk++
		case e.Method == http.MethodPost:
			posts++
		}
	}
	return bulk, posts
}

func wantRequests(p *faultproxy.Proxy, bulk, posts int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		b, s := bulkRequests(p)
		p.Reset()
		if b != bulk || s != posts {
			return fmt.Errorf("%d bulk requests and %d single creates, want %d and %d", b, s, bulk, posts)
		}
		return nil
	}
}

// On Airflow 3, connections created, updated and deleted together go in
// bulk requests and end up identical, in state and in Airflow, to ones
// written one by one, masked extras and write-only passwords included; one
// connection that already exists fails alone, with Airflow's conflict.
func TestAccConnection_bulkWrites(t *testing.T) {
	var af *acctest.Airflow
	for _, a := range acctest.Airflows(t) {
		if a.APIVersion == airflow.VersionV2 {
			af = a
		}
	}
	if af == nil {
		t.Skip("no Airflow 3")
	}
	proxy, err := faultproxy.New(af.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	prefix := tfacctest.RandomWithPrefix("tfacc-bulk")
	taken := prefix + "-taken"
	var all []string
	for i := range bulkVariants {
		all = append(all, fmt.Sprintf("%s-b%d", prefix, i), fmt.Sprintf("%s-s%d", prefix, i))
	}
	free := []string{prefix + "-free0", prefix + "-free1"}
	more := []string{"free0", "taken", "free1"}
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkConnectionDestroyed(t, af, append(all, free...)...),
		Steps: []resource.TestStep{
			{
				PreConfig: proxy.Reset,
				Config:    bulkConfig(proxy.URL(), af, prefix, "one"),
				// The three b<i> in one bulk request; the s<i> one by one.
				Check: resource.ComposeAggregateTestCheckFunc(wantRequests(proxy, 1, len(bulkVariants)), sameAsSingle(t, af, prefix)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Passwords changed together: bulk updates.
				PreConfig: proxy.Reset,
				Config:    strings.ReplaceAll(bulkConfig(proxy.URL(), af, prefix, "two"), "password_wo_version = 1", "password_wo_version = 2"),
				Check:     resource.ComposeAggregateTestCheckFunc(sameAsSingle(t, af, prefix)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// One of a batch already exists: it alone fails, with
				// Airflow's conflict; the others are created.
				PreConfig: func() {
					if _, err := testClient(t, af).CreateConnection(context.Background(),
						&airflow.Connection{ConnectionID: taken, ConnType: "http"}); err != nil {
						t.Fatalf("creating %s out of band: %v", taken, err)
					}
				},
				Config:      bulkConfig(proxy.URL(), af, prefix, "two", more...),
				ExpectError: regexp.MustCompile(`(?s)Connection Already Exists.*with airflowiam_connection.taken,.*409 Conflict`),
			},
			{
				// The two free ones were created and are in state.
				Config: bulkConfig(proxy.URL(), af, prefix, "two", more[0], more[2]),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkAPIConnection(t, af, free[0], func(*airflow.Connection) error { return nil }),
					checkAPIConnection(t, af, free[1], func(*airflow.Connection) error { return nil }),
					func(*terraform.State) error {
						return testClient(t, af).DeleteConnection(context.Background(), taken)
					},
				),
			},
		},
	})
}
