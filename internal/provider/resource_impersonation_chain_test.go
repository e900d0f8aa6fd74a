package provider

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	fwprovider "github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/acctest"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/gcpiam"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/retry"
	"github.com/airflowiam/terraform-provider-airflowiam/internal/retry/retrytest"
)

const chainAddr = "airflowiam_impersonation_chain.test"

func chainConfig(g *acctest.GCP, source string, chain []string, extra string) string {
	return googleProviderBlock(g) + fmt.Sprintf(`
resource "airflowiam_impersonation_chain" "test" {
  source = %q
  chain  = [%s]
%s}
`, source, quoteAll(chain), extra)
}

// hopCheck checks one element of hops.
func hopCheck(grantee, serviceAccount, role string, preExisting bool) knownvalue.Check {
	return knownvalue.ObjectExact(map[string]knownvalue.Check{
		"grantee":         knownvalue.StringExact(grantee),
		"service_account": knownvalue.StringExact(serviceAccount),
		"role":            knownvalue.StringExact(role),
		"pre_existing":    knownvalue.Bool(preExisting),
	})
}

func TestAccImpersonationChain_basic(t *testing.T) {
	g := acctest.FakeGCP(t)
	accts := g.ServiceAccounts(t, "delegate-one", "bq-target")
	d1, target := accts[0], accts[1]
	plantForeign(t, g, gcpiam.RoleTokenCreator, d1, target)

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(
			checkGrants(g, gcpiam.RoleTokenCreator, map[string][]string{d1: nil, target: nil}),
			checkForeignIntact(g, gcpiam.RoleTokenCreator, d1, target),
		),
		Steps: []resource.TestStep{
			{
				Config: chainConfig(g, g.Worker, []string{d1, target}, ""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("role"), knownvalue.StringExact(gcpiam.RoleTokenCreator)),
					statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("target_service_account"), knownvalue.StringExact(target)),
					statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("delegates"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(d1)})),
					statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("airflow_impersonation_chain"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(d1), knownvalue.StringExact(target)})),
					statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("airflow_connection_extra"),
						knownvalue.StringExact(fmt.Sprintf(`{"impersonation_chain":"%s,%s"}`, d1, target))),
					statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"grantee": knownvalue.StringExact(sa(g.Worker)), "service_account": knownvalue.StringExact(d1),
							"role": knownvalue.StringExact(gcpiam.RoleTokenCreator), "pre_existing": knownvalue.Bool(false),
						}),
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"grantee": knownvalue.StringExact(sa(d1)), "service_account": knownvalue.StringExact(target),
							"role": knownvalue.StringExact(gcpiam.RoleTokenCreator), "pre_existing": knownvalue.Bool(false),
						}),
					})),
					statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("id"),
						knownvalue.StringExact(g.Worker+" "+d1+","+target+" "+gcpiam.RoleTokenCreator)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGrants(g, gcpiam.RoleTokenCreator, map[string][]string{d1: {sa(g.Worker)}, target: {sa(d1)}}),
					checkForeignIntact(g, gcpiam.RoleTokenCreator, d1, target),
				),
			},
			{
				// A second plan has nothing to do.
				Config: chainConfig(g, g.Worker, []string{d1, target}, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

// The chain works for real: the worker can mint a token for the target
// through the delegate once the resource exists, and not before.
func TestAccImpersonationChain_tokensFlowThroughTheChain(t *testing.T) {
	g := acctest.FakeGCP(t)
	accts := g.ServiceAccounts(t, "delegate-one", "bq-target")
	d1, target := accts[0], accts[1]
	mint := func() error {
		c, err := gcpiam.NewClient(t.Context(), gcpiam.Config{
			AccessToken: g.AccessTokenFor(sa(g.Worker)), IAMEndpoint: g.URL, IAMCredentialsEndpoint: g.URL,
		})
		if err != nil {
			return err
		}
		_, err = c.GenerateAccessToken(t.Context(), target, []string{d1}, nil)
		return err
	}
	if err := mint(); !gcpiam.IsPermissionDenied(err) {
		t.Fatalf("before the chain exists, minting gave %v; want PERMISSION_DENIED", err)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: chainConfig(g, g.Worker, []string{d1, target}, ""),
			Check: func(*terraform.State) error {
				if err := mint(); err != nil {
					return fmt.Errorf("minting a token through the chain: %w", err)
				}
				return nil
			},
		}},
	})
}

func TestAccImpersonationChain_update(t *testing.T) {
	g := acctest.FakeGCP(t)
	accts := g.ServiceAccounts(t, "delegate-one", "delegate-two", "bq-target")
	d1, d2, target := accts[0], accts[1], accts[2]
	plantForeign(t, g, gcpiam.RoleTokenCreator, d1, d2, target)
	all := []string{d1, d2, target}
	tc, oidc := gcpiam.RoleTokenCreator, gcpiam.RoleOpenIDTokenCreator

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(
			checkGrants(g, tc, map[string][]string{d1: nil, d2: nil, target: nil}),
			checkGrants(g, oidc, map[string][]string{d1: nil, d2: nil, target: nil}),
			checkForeignIntact(g, tc, all...),
		),
		Steps: []resource.TestStep{
			{
				Config: chainConfig(g, g.Worker, []string{d1, target}, ""),
				Check:  checkGrants(g, tc, map[string][]string{d1: {sa(g.Worker)}, d2: nil, target: {sa(d1)}}),
			},
			{
				// Add a hop in the middle.
				Config: chainConfig(g, g.Worker, []string{d1, d2, target}, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(chainAddr, plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGrants(g, tc, map[string][]string{d1: {sa(g.Worker)}, d2: {sa(d1)}, target: {sa(d2)}}),
					checkForeignIntact(g, tc, all...),
				),
			},
			{
				// Reorder the delegates.
				Config: chainConfig(g, g.Worker, []string{d2, d1, target}, ""),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGrants(g, tc, map[string][]string{d2: {sa(g.Worker)}, d1: {sa(d2)}, target: {sa(d1)}}),
					checkForeignIntact(g, tc, all...),
				),
			},
			{
				// Remove the delegates; change the source to a group.
				Config: chainConfig(g, "group:airflow@example.com", []string{target}, ""),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGrants(g, tc, map[string][]string{d1: nil, d2: nil, target: {"group:airflow@example.com"}}),
					checkForeignIntact(g, tc, all...),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("delegates"), knownvalue.ListExact([]knownvalue.Check{})),
				},
			},
			{
				// Least privilege for AWS federation: OpenID Token Creator on
				// the target, Token Creator on the delegate (Google requires it
				// of delegation chains).
				Config: chainConfig(g, "group:airflow@example.com", []string{d1, target}, fmt.Sprintf("  role = %q\n", oidc)),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGrants(g, tc, map[string][]string{d1: {"group:airflow@example.com"}, d2: nil, target: nil}),
					checkGrants(g, oidc, map[string][]string{d1: nil, d2: nil, target: {sa(d1)}}),
					checkForeignIntact(g, tc, all...),
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops"), knownvalue.ListExact([]knownvalue.Check{
						hopCheck("group:airflow@example.com", d1, tc, false),
						hopCheck(sa(d1), target, oidc, false),
					})),
				},
			},
			{
				Config: chainConfig(g, "group:airflow@example.com", []string{d1, target}, fmt.Sprintf("  role = %q\n", oidc)),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func TestAccImpersonationChain_import(t *testing.T) {
	g := acctest.FakeGCP(t)
	accts := g.ServiceAccounts(t, "delegate-one", "bq-target")
	d1, target := accts[0], accts[1]
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: chainConfig(g, "user:alice@example.com", []string{d1, target}, "")},
			{
				ResourceName:      chainAddr,
				ImportState:       true,
				ImportStateVerify: true,
			},
			{
				// The role may be left out of the ID.
				ResourceName:      chainAddr,
				ImportState:       true,
				ImportStateId:     "user:alice@example.com " + d1 + "," + target,
				ImportStateVerify: true,
			},
			{
				ResourceName:  chainAddr,
				ImportState:   true,
				ImportStateId: "user:alice@example.com",
				ExpectError:   regexp.MustCompile(`(?s)Invalid Import ID.*SOURCE CHAIN ROLE`),
			},
			{
				ResourceName:  chainAddr,
				ImportState:   true,
				ImportStateId: "user:alice@example.com alice@example.com",
				ExpectError:   regexp.MustCompile(`(?s)Invalid Import ID.*not a service-account email`),
			},
		},
	})
}

// A hop removed out of band shows in the next plan, and apply restores it
// without touching the others.
func TestAccImpersonationChain_drift(t *testing.T) {
	g := acctest.FakeGCP(t)
	accts := g.ServiceAccounts(t, "delegate-one", "bq-target")
	d1, target := accts[0], accts[1]
	plantForeign(t, g, gcpiam.RoleTokenCreator, target)
	config := chainConfig(g, g.Worker, []string{d1, target}, "")
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(*terraform.State) error {
					return g.RemoveMember(target, gcpiam.RoleTokenCreator, sa(d1))
				},
				ExpectNonEmptyPlan: true,
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(chainAddr, plancheck.ResourceActionUpdate),
					// Decided at plan time: the grant is missing from the policy read then.
					plancheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops").AtSliceIndex(1).AtMapKey("pre_existing"), knownvalue.Bool(false)),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGrants(g, gcpiam.RoleTokenCreator, map[string][]string{d1: {sa(g.Worker)}, target: {sa(d1)}}),
					checkForeignIntact(g, gcpiam.RoleTokenCreator, target),
				),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// Every grant removed out of band: the plan puts them all back. A service
// account deleted out of band: a warning on refresh and a clear error on
// apply, never a crash; destroy still succeeds.
func TestAccImpersonationChain_disappears(t *testing.T) {
	g := acctest.FakeGCP(t)
	accts := g.ServiceAccounts(t, "delegate-one", "bq-target")
	d1, target := accts[0], accts[1]
	config := chainConfig(g, g.Worker, []string{d1, target}, "")
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(*terraform.State) error {
					if err := g.RemoveMember(d1, gcpiam.RoleTokenCreator, sa(g.Worker)); err != nil {
						return err
					}
					return g.RemoveMember(target, gcpiam.RoleTokenCreator, sa(d1))
				},
				ExpectNonEmptyPlan: true,
			},
			{
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGrants(g, gcpiam.RoleTokenCreator, map[string][]string{d1: {sa(g.Worker)}, target: {sa(d1)}}),
					func(*terraform.State) error { return g.DeleteServiceAccount(target) },
				),
				ExpectNonEmptyPlan: true,
			},
			{
				Config:      config,
				ExpectError: regexp.MustCompile(`(?s)Error Granting Impersonation Hop.*` + regexp.QuoteMeta(target) + `.*does\s+not\s+exist`),
			},
		},
	})
}

// A grant that existed before the resource is recorded as pre-existing and
// left in place on destroy.
func TestAccImpersonationChain_preExistingHopSurvivesDestroy(t *testing.T) {
	g := acctest.FakeGCP(t)
	accts := g.ServiceAccounts(t, "delegate-one", "bq-target")
	d1, target := accts[0], accts[1]
	if err := g.AddMember(d1, gcpiam.RoleTokenCreator, sa(g.Worker)); err != nil {
		t.Fatal(err)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkGrants(g, gcpiam.RoleTokenCreator, map[string][]string{d1: {sa(g.Worker)}, target: nil}),
		Steps: []resource.TestStep{{
			Config: chainConfig(g, g.Worker, []string{d1, target}, ""),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops").AtSliceIndex(0).AtMapKey("pre_existing"), knownvalue.Bool(true)),
				statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops").AtSliceIndex(1).AtMapKey("pre_existing"), knownvalue.Bool(false)),
			},
		}},
	})
}

// Twenty chains edit the same account's policy in one apply while the fake
// makes writes collide: every grant lands and no foreign member is lost.
func TestAccImpersonationChain_concurrentEditsOfOnePolicy(t *testing.T) {
	g := acctest.FakeGCP(t)
	shared := g.ServiceAccounts(t, "shared-target")[0]
	plantForeign(t, g, gcpiam.RoleTokenCreator, shared)

	// Fewer conflicts than the retry budget of one write (8 tries): writers in
	// one process take turns, so the first may meet them all.
	const n, conflicts = 20, 5
	g.InjectEtagConflicts(conflicts)
	var b strings.Builder
	b.WriteString(googleProviderBlock(g))
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("user:engineer-%02d@example.com", i)
		fmt.Fprintf(&b, "\nresource \"airflowiam_impersonation_chain\" \"c%02d\" {\n  source = %q\n  chain  = [%q]\n}\n", i, want[i], shared)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(
			checkGrants(g, gcpiam.RoleTokenCreator, map[string][]string{shared: nil}),
			checkForeignIntact(g, gcpiam.RoleTokenCreator, shared),
		),
		Steps: []resource.TestStep{{
			Config: b.String(),
			Check: resource.ComposeAggregateTestCheckFunc(
				checkGrants(g, gcpiam.RoleTokenCreator, map[string][]string{shared: want}),
				checkForeignIntact(g, gcpiam.RoleTokenCreator, shared),
				func(*terraform.State) error {
					if got := g.RequestCounts()["iam.projects.serviceAccounts.setIamPolicy"]; got < n+conflicts {
						return fmt.Errorf("%d setIamPolicy calls, want at least %d: the injected conflicts were not all met", got, n+conflicts)
					}
					return nil
				},
			),
		}},
	})
}

func TestAccImpersonationChain_invalidInput(t *testing.T) {
	g := acctest.FakeGCP(t)
	const a, b = "a-one@p.iam.gserviceaccount.com", "b-two@p.iam.gserviceaccount.com"
	cases := []struct {
		name, source, chain, extra string
		want                       *regexp.Regexp
	}{
		{"chain element not a service account", g.Worker, `["alice@example.com"]`, "", regexp.MustCompile(`(?s)chain\[0\].*must be a Google service-account email`)},
		{"duplicate hops", g.Worker, fmt.Sprintf("[%q, %q, %q]", a, b, a), "", regexp.MustCompile(`(?s)chain.*duplicate values`)},
		{"empty chain", g.Worker, "[]", "", regexp.MustCompile(`(?s)chain.*at least 1`)},
		{"source inside chain", a, fmt.Sprintf("[%q, %q]", b, a), "", regexp.MustCompile(`(?s)Source Inside Chain.*chain\[1\] is ` + regexp.QuoteMeta(a))},
		{"source member inside chain", "serviceAccount:" + a, fmt.Sprintf("[%q]", a), "", regexp.MustCompile(`(?s)Source Inside Chain`)},
		{"unknown role", g.Worker, fmt.Sprintf("[%q]", a), `role = "roles/owner"`, regexp.MustCompile(`(?s)role.*roles/iam.serviceAccountTokenCreator.*roles/iam.serviceAccountOpenIdTokenCreator`)},
		{"source not a member", "alice@example.com", fmt.Sprintf("[%q]", a), "", regexp.MustCompile(`(?s)source.*must be an IAM member`)},
		{"source with unknown kind", "domain:example.com", fmt.Sprintf("[%q]", a), "", regexp.MustCompile(`(?s)source.*must be an IAM member`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: googleProviderBlock(g) + fmt.Sprintf("resource \"airflowiam_impersonation_chain\" \"test\" {\n  source = %q\n  chain = %s\n  %s\n}\n",
						tc.source, tc.chain, tc.extra),
					PlanOnly:    true,
					ExpectError: tc.want,
				}},
			})
		})
	}
	if n := g.RequestCounts()["iam.projects.serviceAccounts.setIamPolicy"]; n != 0 {
		t.Errorf("invalid configurations wrote %d policies", n)
	}
}

func TestAccImpersonationChain_noGoogleBlock(t *testing.T) {
	acctest.FakeGCP(t) // for the TF_ACC guard
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "airflowiam" {}

resource "airflowiam_impersonation_chain" "test" {
  source = "worker@p.iam.gserviceaccount.com"
  chain  = ["target@p.iam.gserviceaccount.com"]
}
`,
			ExpectError: regexp.MustCompile(`(?s)Google Not Configured.*add one`),
		}},
	})
}

// With OpenID Token Creator, only the grant on the target is OpenID Token
// Creator: the delegate holds Token Creator, as Google requires of every
// account in a delegation chain. ID tokens flow through the chain, access
// tokens do not, and import round-trips.
func TestAccImpersonationChain_openIDRoleGrantsTokenCreatorOnDelegates(t *testing.T) {
	g := acctest.FakeGCP(t)
	accts := g.ServiceAccounts(t, "delegate-one", "aws-federation")
	d1, target := accts[0], accts[1]
	tc, oidc := gcpiam.RoleTokenCreator, gcpiam.RoleOpenIDTokenCreator
	plantForeign(t, g, oidc, d1, target)
	config := chainConfig(g, g.Worker, []string{d1, target}, fmt.Sprintf("  role = %q\n", oidc))
	worker := func() (*gcpiam.Client, error) {
		return gcpiam.NewClient(t.Context(), gcpiam.Config{
			AccessToken: g.AccessTokenFor(sa(g.Worker)), IAMEndpoint: g.URL, IAMCredentialsEndpoint: g.URL,
		})
	}

	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(
			checkGrants(g, tc, map[string][]string{d1: nil, target: nil}),
			checkGrants(g, oidc, map[string][]string{d1: nil, target: nil}),
			checkForeignIntact(g, oidc, d1, target),
		),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("role"), knownvalue.StringExact(oidc)),
					statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops"), knownvalue.ListExact([]knownvalue.Check{
						hopCheck(sa(g.Worker), d1, tc, false),
						hopCheck(sa(d1), target, oidc, false),
					})),
					statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("id"), knownvalue.StringExact(g.Worker+" "+d1+","+target+" "+oidc)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGrants(g, tc, map[string][]string{d1: {sa(g.Worker)}, target: nil}),
					checkGrants(g, oidc, map[string][]string{d1: nil, target: {sa(d1)}}),
					checkForeignIntact(g, oidc, d1, target),
					func(*terraform.State) error {
						c, err := worker()
						if err != nil {
							return err
						}
						if _, err := c.GenerateIDToken(t.Context(), target, []string{d1}, "sts.amazonaws.com", true); err != nil {
							return fmt.Errorf("minting an ID token through the chain: %w", err)
						}
						if _, err := c.GenerateAccessToken(t.Context(), target, []string{d1}, nil); !gcpiam.IsPermissionDenied(err) {
							return fmt.Errorf("minting an access token through an ID-token chain gave %v; want PERMISSION_DENIED", err)
						}
						return nil
					},
				),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				ResourceName:      chainAddr,
				ImportState:       true,
				ImportStateVerify: true,
			},
		},
	})
}

// legacyChainHops is the rule of versions before the delegation fix: role
// on every hop, OpenID Token Creator on the delegates too.
func legacyChainHops(source string, chain []string, role string) []gcpiam.Hop {
	hops := gcpiam.ChainHops(source, chain, gcpiam.RoleTokenCreator)
	for i := range hops {
		hops[i].Role = role
	}
	return hops
}

// legacyChainProvider is this provider with the impersonation chain of
// earlier versions: it writes the grants and the state they wrote.
type legacyChainProvider struct{ fwprovider.Provider }

func (legacyChainProvider) Resources(context.Context) []func() fwresource.Resource {
	return []func() fwresource.Resource{func() fwresource.Resource {
		return &impersonationChainResource{chainHops: legacyChainHops}
	}}
}

var legacyChainProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"airflowiam": providerserver.NewProtocol6WithError(legacyChainProvider{New("test")()}),
}

// A state written by an earlier version, with OpenID Token Creator on the
// delegate: the next plan changes that hop to Token Creator, and apply grants
// it and revokes the OpenID Token Creator grant the resource made, leaving
// others' grants of that role alone.
func TestAccImpersonationChain_upgradeFromOpenIDOnEveryHop(t *testing.T) {
	g := acctest.FakeGCP(t)
	accts := g.ServiceAccounts(t, "delegate-one", "aws-federation")
	d1, target := accts[0], accts[1]
	tc, oidc := gcpiam.RoleTokenCreator, gcpiam.RoleOpenIDTokenCreator
	plantForeign(t, g, oidc, d1, target)
	config := chainConfig(g, g.Worker, []string{d1, target}, fmt.Sprintf("  role = %q\n", oidc))

	resource.ParallelTest(t, resource.TestCase{
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(
			checkGrants(g, tc, map[string][]string{d1: nil, target: nil}),
			checkGrants(g, oidc, map[string][]string{d1: nil, target: nil}),
			checkForeignIntact(g, oidc, d1, target),
		),
		Steps: []resource.TestStep{
			{
				// What earlier versions granted and recorded.
				ProtoV6ProviderFactories: legacyChainProviderFactories,
				Config:                   config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops"), knownvalue.ListExact([]knownvalue.Check{
						hopCheck(sa(g.Worker), d1, oidc, false),
						hopCheck(sa(d1), target, oidc, false),
					})),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGrants(g, tc, map[string][]string{d1: nil, target: nil}),
					checkGrants(g, oidc, map[string][]string{d1: {sa(g.Worker)}, target: {sa(d1)}}),
				),
			},
			{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Config:                   config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectNonEmptyPlan(),
					plancheck.ExpectResourceAction(chainAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops").AtSliceIndex(0).AtMapKey("role"), knownvalue.StringExact(tc)),
					// Decided at plan time: no Token Creator grant on d1 yet.
					plancheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops").AtSliceIndex(0).AtMapKey("pre_existing"), knownvalue.Bool(false)),
					plancheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops").AtSliceIndex(1),
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"grantee": knownvalue.StringExact(sa(d1)), "service_account": knownvalue.StringExact(target),
							"role": knownvalue.StringExact(oidc), "pre_existing": knownvalue.Bool(false),
						})),
					plancheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops"), knownvalue.ListSizeExact(2)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops"), knownvalue.ListExact([]knownvalue.Check{
						hopCheck(sa(g.Worker), d1, tc, false),
						hopCheck(sa(d1), target, oidc, false),
					})),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGrants(g, tc, map[string][]string{d1: {sa(g.Worker)}, target: nil}),
					checkGrants(g, oidc, map[string][]string{d1: nil, target: {sa(d1)}}),
					checkForeignIntact(g, oidc, d1, target),
				),
			},
			{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Config:                   config,
				ConfigPlanChecks:         resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// The upgrade never touches grants the resource did not make: an OpenID
// Token Creator grant on the delegate that existed before the earlier
// version (recorded as pre-existing) stays, and a Token Creator grant made by
// hand on the delegate in the meantime is recorded as pre-existing and
// survives destroy.
func TestAccImpersonationChain_upgradeKeepsGrantsItDidNotMake(t *testing.T) {
	g := acctest.FakeGCP(t)
	accts := g.ServiceAccounts(t, "delegate-one", "aws-federation")
	d1, target := accts[0], accts[1]
	tc, oidc := gcpiam.RoleTokenCreator, gcpiam.RoleOpenIDTokenCreator
	if err := g.AddMember(d1, oidc, sa(g.Worker)); err != nil {
		t.Fatal(err)
	}
	config := chainConfig(g, g.Worker, []string{d1, target}, fmt.Sprintf("  role = %q\n", oidc))

	resource.ParallelTest(t, resource.TestCase{
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(
			checkGrants(g, tc, map[string][]string{d1: {sa(g.Worker)}, target: nil}),
			checkGrants(g, oidc, map[string][]string{d1: {sa(g.Worker)}, target: nil}),
		),
		Steps: []resource.TestStep{
			{
				ProtoV6ProviderFactories: legacyChainProviderFactories,
				Config:                   config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops"), knownvalue.ListExact([]knownvalue.Check{
						hopCheck(sa(g.Worker), d1, oidc, true),
						hopCheck(sa(d1), target, oidc, false),
					})),
				},
				// The chain broke on Google, and someone fixed the delegate by hand.
				Check: func(*terraform.State) error { return g.AddMember(d1, tc, sa(g.Worker)) },
			},
			{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Config:                   config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectNonEmptyPlan(),
					plancheck.ExpectResourceAction(chainAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops"), knownvalue.ListExact([]knownvalue.Check{
						hopCheck(sa(g.Worker), d1, tc, true),
						hopCheck(sa(d1), target, oidc, false),
					})),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops"), knownvalue.ListExact([]knownvalue.Check{
						hopCheck(sa(g.Worker), d1, tc, true),
						hopCheck(sa(d1), target, oidc, false),
					})),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGrants(g, tc, map[string][]string{d1: {sa(g.Worker)}, target: nil}),
					checkGrants(g, oidc, map[string][]string{d1: {sa(g.Worker)}, target: {sa(d1)}}),
				),
			},
			{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				Config:                   config,
				ConfigPlanChecks:         resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// ownHops checks that the first n hops are this resource's own grants.
func ownHops(n int) []statecheck.StateCheck {
	checks := make([]statecheck.StateCheck, n)
	for i := range n {
		checks[i] = statecheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops").AtSliceIndex(i).AtMapKey("pre_existing"), knownvalue.Bool(false))
	}
	return checks
}

// isSetIamPolicy selects Google's setIamPolicy calls.
func isSetIamPolicy(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, ":setIamPolicy") }

// chainConfigVia is chainConfig with IAM requests sent to iamURL (a
// fault-injecting proxy in front of g).
func chainConfigVia(g *acctest.GCP, iamURL string, chain []string) string {
	return strings.Replace(chainConfig(g, g.Worker, chain, ""), fmt.Sprintf("iam_endpoint            = %q", g.URL),
		fmt.Sprintf("iam_endpoint            = %q", iamURL), 1)
}

// The answer of the first setIamPolicy is lost after Google applied it.
// The write is repeated, answered 409 (the etag changed), the policy read
// again: the grant found is this resource's own, planned as not
// pre-existing, and destroy removes it.
func TestAccImpersonationChain_lostSetIamPolicyAnswer(t *testing.T) {
	g := acctest.FakeGCP(t)
	accts := g.ServiceAccounts(t, "delegate-one", "bq-target")
	d1, target := accts[0], accts[1]
	proxy := retrytest.NewProxy(t, g.URL, isSetIamPolicy, 1)
	cfg := chainConfigVia(g, proxy.URL, []string{d1, target})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkGrants(g, gcpiam.RoleTokenCreator, map[string][]string{d1: nil, target: nil}),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					// Decided at plan time, from the policies read then.
					plancheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops").AtSliceIndex(0).AtMapKey("pre_existing"), knownvalue.Bool(false)),
					plancheck.ExpectKnownValue(chainAddr, tfjsonpath.New("hops").AtSliceIndex(1).AtMapKey("pre_existing"), knownvalue.Bool(false)),
				}},
				ConfigStateChecks: ownHops(2),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkGrants(g, gcpiam.RoleTokenCreator, map[string][]string{d1: {sa(g.Worker)}, target: {sa(d1)}}),
					func(*terraform.State) error {
						if proxy.Lose.Lost() != 1 {
							return fmt.Errorf("%d setIamPolicy answers lost, want 1: the test did not inject its fault", proxy.Lose.Lost())
						}
						return nil
					},
				),
			},
			{
				Config:           cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

// Every answer of the first hop's writes is lost until the retries give
// up: the apply fails saying so, and takes back the grant that may have
// landed, so the next apply records its grants as its own and destroy
// leaves none.
func TestAccImpersonationChain_lostAnswersUntilGivingUp(t *testing.T) {
	g := acctest.FakeGCP(t)
	accts := g.ServiceAccounts(t, "delegate-one", "bq-target")
	d1, target := accts[0], accts[1]
	proxy := retrytest.NewProxy(t, g.URL, isSetIamPolicy, retry.DefaultAttempts)
	cfg := chainConfigVia(g, proxy.URL, []string{d1, target})
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		CheckDestroy:             checkGrants(g, gcpiam.RoleTokenCreator, map[string][]string{d1: nil, target: nil}),
		Steps: []resource.TestStep{
			{
				Config:      cfg,
				ExpectError: regexp.MustCompile(`gave up after 5 attempts over`),
			},
			{
				PreConfig: func() {
					if got, _ := unconditionalMembers(g, d1, gcpiam.RoleTokenCreator); len(got) != 0 {
						t.Errorf("after the failed apply, %s still grants Token Creator to %v", d1, got)
					}
				},
				Config:            cfg,
				ConfigStateChecks: ownHops(2),
			},
		},
	})
}
