package gcpiam

import (
	"reflect"
	"testing"
)

func TestChainHops(t *testing.T) {
	const (
		worker = "worker@p.iam.gserviceaccount.com"
		d1     = "d1@p.iam.gserviceaccount.com"
		d2     = "d2@p.iam.gserviceaccount.com"
		target = "target@q.iam.gserviceaccount.com"
	)
	cases := []struct {
		name  string
		chain []string
		role  string
		want  []Hop
	}{
		{"token creator on every hop", []string{d1, target}, RoleTokenCreator, []Hop{
			{Grantee: "serviceAccount:" + worker, ServiceAccount: d1, Role: RoleTokenCreator},
			{Grantee: "serviceAccount:" + d1, ServiceAccount: target, Role: RoleTokenCreator},
		}},
		{"openid on the target only", []string{d1, d2, target}, RoleOpenIDTokenCreator, []Hop{
			{Grantee: "serviceAccount:" + worker, ServiceAccount: d1, Role: RoleTokenCreator},
			{Grantee: "serviceAccount:" + d1, ServiceAccount: d2, Role: RoleTokenCreator},
			{Grantee: "serviceAccount:" + d2, ServiceAccount: target, Role: RoleOpenIDTokenCreator},
		}},
		{"openid with no delegates", []string{target}, RoleOpenIDTokenCreator, []Hop{
			{Grantee: "serviceAccount:" + worker, ServiceAccount: target, Role: RoleOpenIDTokenCreator},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ChainHops(worker, tc.chain, tc.role)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ChainHops = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestSourceMember(t *testing.T) {
	for in, want := range map[string]string{
		"worker@p.iam.gserviceaccount.com":                                 "serviceAccount:worker@p.iam.gserviceaccount.com",
		"serviceAccount:worker@p.iam.gserviceaccount.com":                  "serviceAccount:worker@p.iam.gserviceaccount.com",
		"user:alice@example.com":                                           "user:alice@example.com",
		"group:airflow@example.com":                                        "group:airflow@example.com",
		"principal://iam.googleapis.com/projects/1/locations/global/x/y/z": "principal://iam.googleapis.com/projects/1/locations/global/x/y/z",
		"principalSet://iam.googleapis.com/projects/1/locations/global/x":  "principalSet://iam.googleapis.com/projects/1/locations/global/x",
	} {
		if got := SourceMember(in); got != want {
			t.Errorf("SourceMember(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSameHop(t *testing.T) {
	a := Hop{Grantee: "serviceAccount:A@p.iam.gserviceaccount.com", ServiceAccount: "b@p.iam.gserviceaccount.com", Role: RoleTokenCreator}
	b := Hop{Grantee: "serviceAccount:a@p.iam.gserviceaccount.com", ServiceAccount: "B@p.iam.gserviceaccount.com", Role: RoleTokenCreator}
	if !SameHop(a, b) {
		t.Error("hops differing only in email case differ")
	}
	b.Role = RoleOpenIDTokenCreator
	if SameHop(a, b) {
		t.Error("hops with other roles are the same")
	}
}

func TestWorkloadIdentityMember(t *testing.T) {
	if got, want := WorkloadIdentityMember("my-proj", "airflow", "etl"), "serviceAccount:my-proj.svc.id.goog[airflow/etl]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
