package exchange

import (
	"strings"
	"testing"
	"time"
)

// The chain comes from the Google connection as GoogleBaseHook reads it.
func TestRun_gcpConnectionLikeTheHook(t *testing.T) {
	const d, target = "d@p.iam.gserviceaccount.com", "t@p.iam.gserviceaccount.com"
	for label, tc := range map[string]struct {
		extra  string
		given  []string
		want   string // failure summary part; "" passes
		tested []string
	}{
		"a comma-separated chain, spaces stripped": {extra: `{"impersonation_chain":"` + d + ` , ` + target + `"}`, tested: []string{d, target}},
		"one account":          {extra: `{"impersonation_chain":"` + target + `"}`, tested: []string{target}},
		"a list":               {extra: `{"impersonation_chain":["` + d + `","` + target + `"]}`, tested: []string{d, target}},
		"the old prefixed key": {extra: `{"extra__google_cloud_platform__impersonation_chain":"` + target + `"}`, tested: []string{target}},
		"the same chain given": {extra: `{"impersonation_chain":"` + d + `,` + target + `"}`, given: []string{d, target}, tested: []string{d, target}},
		"another chain given":  {extra: `{"impersonation_chain":"` + target + `"}`, given: []string{d, target}, want: "Uses Another Impersonation Chain"},
		"no chain":             {extra: `{"project":"p"}`, want: "Has No Impersonation Chain"},
		"an empty chain":       {extra: `{"impersonation_chain":""}`, want: "Has No Impersonation Chain"},
		"a key file":           {extra: `{"impersonation_chain":"` + target + `","key_path":"/k.json"}`, want: "Uses a Key, Not the Workers' Identity"},
		"not JSON":             {extra: `nope`, want: "Unreadable Extra"},
	} {
		t.Run(label, func(t *testing.T) {
			var slept []time.Duration
			c := checker(&fakeGoogle{email: "ci@p.iam.gserviceaccount.com", missing: -1}, &slept)
			c.Airflow = fakeAirflow{extra: tc.extra}
			res := c.Run(t.Context(), Input{ServiceAccount: worker, GCPConnectionID: "google_x", GCPChain: tc.given})
			if tc.want != "" {
				if res.Failure == nil || res.Failure.Step != StepGCPConnection || !strings.Contains(res.Failure.Summary, tc.want) {
					t.Fatalf("failure = %+v, want %q at %s", res.Failure, tc.want, StepGCPConnection)
				}
				return
			}
			if res.Failure != nil {
				t.Fatalf("failure: %+v", res.Failure)
			}
			if got := stepNames(res); got != "google_caller=ok airflow_gcp_connection=ok gcp_impersonation_chain=ok" {
				t.Errorf("steps %s", got)
			}
			if strings.Join(res.GCPChain, ",") != strings.Join(tc.tested, ",") {
				t.Errorf("tested chain %v, want %v", res.GCPChain, tc.tested)
			}
		})
	}
}
