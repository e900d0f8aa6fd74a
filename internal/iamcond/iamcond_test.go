package iamcond

import (
	"errors"
	"testing"
	"time"
)

func TestEval(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	attrs := Attributes{Time: now, ResourceName: "projects/_/buckets/b1/objects/o", ResourceType: "storage.googleapis.com/Object",
		ResourceService: "storage.googleapis.com"}
	cases := []struct {
		expr string
		want Result
	}{
		{`request.time < timestamp("2027-01-01T00:00:00Z")`, True},
		{`request.time < timestamp("2026-01-01T00:00:00Z")`, False},
		{`request.time.getHours("UTC") >= 9 && request.time.getHours("UTC") < 17`, True},
		{`request.time.getDayOfWeek("UTC") == 0`, False}, // 2026-12-01 is a Tuesday
		{`resource.name.startsWith("projects/_/buckets/b1/")`, True},
		{`resource.name == "projects/_/buckets/b2/objects/o"`, False},
		{`resource.type == "storage.googleapis.com/Object"`, True},
		{`resource.service == "compute.googleapis.com"`, False},
		{`resource.name.endsWith("/o") || false`, True},
		// Outside what can be judged here.
		{`api.getAttribute("iam.googleapis.com/modifiedGrantsByRole", []).hasOnly(["roles/viewer"])`, Unknown},
		{`resource.matchTag("123/env", "prod")`, Unknown},
		{`request.host == "example.com"`, Unknown},
		{`"not a bool"`, Unknown},
		{`request.time <`, Unknown},
	}
	for _, c := range cases {
		got, err := Eval(c.expr, attrs)
		if got != c.want {
			t.Errorf("Eval(%q) = %s (%v), want %s", c.expr, got, err, c.want)
		}
		if (got == Unknown) != errors.Is(err, ErrUnknown) {
			t.Errorf("Eval(%q): result %s with error %v", c.expr, got, err)
		}
	}
}

// On a service account only the time is known: resource attributes are not
// recognised by IAM's own resources, so a condition on them is Unknown.
func TestEvalServiceAccount(t *testing.T) {
	attrs := ServiceAccount(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	for expr, want := range map[string]Result{
		`request.time < timestamp("2027-01-01T00:00:00Z")`:         True,
		`resource.name.startsWith("projects/p1/serviceAccounts/")`: Unknown,
		`resource.type == "iam.googleapis.com/ServiceAccount"`:     Unknown,
	} {
		if got, err := Eval(expr, attrs); got != want {
			t.Errorf("Eval(%q) = %s (%v), want %s", expr, got, err, want)
		}
	}
}
