package acctest

import (
	"context"
	"fmt"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
)

// CheckStatus asserts whether the check block at address (as Terraform
// displays it, e.g. "check.path" or "module.m.check.path") passed in the
// last apply.
func CheckStatus(address string, pass bool) statecheck.StateCheck {
	return checkStatus{address: address, pass: pass}
}

type checkStatus struct {
	address string
	pass    bool
}

func (c checkStatus) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if req.State == nil {
		resp.Error = fmt.Errorf("no state")
		return
	}
	var seen []string
	for _, r := range req.State.Checks {
		seen = append(seen, r.Address.ToDisplay)
		if r.Address.ToDisplay != c.address {
			continue
		}
		if passed := r.Status == tfjson.CheckStatusPass; passed != c.pass {
			resp.Error = fmt.Errorf("%s has status %s, want pass=%v", c.address, r.Status, c.pass)
		}
		return
	}
	resp.Error = fmt.Errorf("no check result for %s in the state (have: %s)", c.address, strings.Join(seen, ", "))
}
