package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/airflow"
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

// bulkConfig declares each variant three times: b<i> and c<i>, created at
// the same time (in bulk requests; only the first write of a batch can go
// alone, so one of each pair at least is written in bulk), and s<i>,
// created one after the other after them (single requests). more are more connections created with the b<i>,
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
	for _, group := range []string{"b", "c"} {
		for i, v := range bulkVariants {
			v = strings.ReplaceAll(v, "PASSWORD", password)
			fmt.Fprintf(&b, "\nresource \"airflowiam_connection\" \"%s%d\" {\n  connection_id = \"%s-%s%d\"\n  %s\n}\n", group, i, prefix, group, i, v)
			bulk = append(bulk, fmt.Sprintf("airflowiam_connection.%s%d", group, i))
		}
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

// sameAsSingle checks that each connection written together (b<i>, c<i>)
// is, in state and in Airflow, field by field the one written alone (s<i>),
// and that of each pair one at least was written in bulk.
func sameAsSingle(t *testing.T, af *acctest.Airflow, rec *writeRecorder, prefix string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for i := range bulkVariants {
			single := s.RootModule().Resources[fmt.Sprintf("airflowiam_connection.s%d", i)]
			if single == nil {
				return fmt.Errorf("variant %d: s%d not in state", i, i)
			}
			inBulk := 0
			for _, group := range []string{"b", "c"} {
				id := fmt.Sprintf("%s-%s%d", prefix, group, i)
				if !rec.alone(id) {
					inBulk++
				}
				if err := sameConnection(t, af, s, group, i, single, prefix); err != nil {
					return err
				}
			}
			if inBulk == 0 {
				return fmt.Errorf("variant %d: neither group was written in bulk", i)
			}
		}
		return nil
	}
}

func sameConnection(t *testing.T, af *acctest.Airflow, s *terraform.State, group string, i int, single *terraform.ResourceState, prefix string) error {
	b := s.RootModule().Resources[fmt.Sprintf("airflowiam_connection.%s%d", group, i)]
	if b == nil {
		return fmt.Errorf("variant %d: %s%d not in state", i, group, i)
	}
	for k, v := range single.Primary.Attributes {
		want := strings.ReplaceAll(v, prefix+"-s", prefix+"-"+group)
		if got := b.Primary.Attributes[k]; got != want {
			return fmt.Errorf("variant %d: state %s = %q written with others (%s%d), %q written alone", i, k, got, group, i, want)
		}
	}
	if len(b.Primary.Attributes) != len(single.Primary.Attributes) {
		return fmt.Errorf("variant %d: %d attributes written with others, %d alone", i, len(b.Primary.Attributes), len(single.Primary.Attributes))
	}
	client := testClient(t, af)
	bc, err := client.GetConnection(context.Background(), fmt.Sprintf("%s-%s%d", prefix, group, i))
	if err != nil {
		return err
	}
	sc, err := client.GetConnection(context.Background(), fmt.Sprintf("%s-s%d", prefix, i))
	if err != nil {
		return err
	}
	bc.ConnectionID = sc.ConnectionID
	if !reflect.DeepEqual(bc, sc) {
		return fmt.Errorf("variant %d: Airflow holds %s written with others, %s alone", i, connText(bc), connText(sc))
	}
	return nil
}

func connText(c *airflow.Connection) string {
	return fmt.Sprintf("%s/%s/%s/%s/%s/%v/%s/%s", c.ConnType, derefString(c.Description), derefString(c.Host), derefString(c.Login),
		derefString(c.Schema), c.Port, derefString(c.Password), derefString(c.Extra))
}

// writeRecorder is a reverse proxy in front of Airflow that counts bulk
// requests and records the connection ids of single creates.
type writeRecorder struct {
	srv   *httptest.Server
	mu    sync.Mutex
	bulks int
	posts map[string]bool
}

func newWriteRecorder(t *testing.T, target string) *writeRecorder {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &writeRecorder{posts: map[string]bool{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.URL.Path == "/api/v2/connections" {
			var c airflow.Connection
			rec.mu.Lock()
			switch r.Method {
			case http.MethodPatch:
				rec.bulks++
			case http.MethodPost:
				if json.Unmarshal(body, &c) == nil {
					rec.posts[c.ConnectionID] = true
				}
			}
			rec.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

// alone reports whether a single create was sent for id.
func (r *writeRecorder) alone(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.posts[id]
}

// fewerRequests checks that the connections written together took bulk
// requests, and fewer requests in all than one per connection.
func (r *writeRecorder) fewerRequests(connections int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.bulks == 0 || r.bulks+len(r.posts) >= connections {
			return fmt.Errorf("%d bulk requests and %d single creates for %d connections", r.bulks, len(r.posts), connections)
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
	rec := newWriteRecorder(t, af.URL)
	endpoint := rec.srv.URL
	prefix := tfacctest.RandomWithPrefix("tfacc-bulk")
	taken := prefix + "-taken"
	var all []string
	for i := range bulkVariants {
		all = append(all, fmt.Sprintf("%s-b%d", prefix, i), fmt.Sprintf("%s-c%d", prefix, i), fmt.Sprintf("%s-s%d", prefix, i))
	}
	free := []string{prefix + "-free0", prefix + "-free1"}
	more := []string{"free0", "taken", "free1"}
	resource.ParallelTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkConnectionDestroyed(t, af, append(all, free...)...),
		Steps: []resource.TestStep{
			{
				Config: bulkConfig(endpoint, af, prefix, "one"),
				// The b<i> and c<i> in bulk requests; the s<i> one by one.
				Check: resource.ComposeAggregateTestCheckFunc(rec.fewerRequests(3*len(bulkVariants)), sameAsSingle(t, af, rec, prefix)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				// Passwords changed together: bulk updates.
				Config: strings.ReplaceAll(bulkConfig(endpoint, af, prefix, "two"), "password_wo_version = 1", "password_wo_version = 2"),
				Check:  sameAsSingle(t, af, rec, prefix),
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
				Config:      bulkConfig(endpoint, af, prefix, "two", more...),
				ExpectError: regexp.MustCompile(`(?s)Connection Already Exists.*with airflowiam_connection.taken,.*409 Conflict`),
			},
			{
				// The two free ones were created and are in state.
				Config: bulkConfig(endpoint, af, prefix, "two", more[0], more[2]),
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
