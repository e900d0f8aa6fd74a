package exchange

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Extra keys of Airflow's Google connections (GoogleBaseHook).
const (
	extraImpersonationChain = "impersonation_chain"
)

// googleKeyFields are the extra keys with which GoogleBaseHook starts from a
// key or a credential file instead of the worker's own identity.
var googleKeyFields = []string{"key_path", "keyfile_dict", "credential_config_file", "key_secret_name"}

// gcpConnection reads the chain from an Airflow Google connection as
// GoogleBaseHook does (get_credentials_and_project_id): impersonation_chain
// is a comma-separated string (split and stripped) or a list, and a
// connection with a key field starts from that key, not from the worker.
func (r *run) gcpConnection(ctx context.Context) bool {
	id := r.in.GCPConnectionID
	extra, ok := r.readExtra(ctx, StepGCPConnection, id, "Google", "airflowiam_impersonation_chain.airflow_connection_extra")
	if !ok {
		return false
	}
	fix := "\n\nFix: set the connection's extra to airflowiam_impersonation_chain.airflow_connection_extra (merged with the project)."
	for _, k := range googleKeyFields {
		if v := googleField(extra, k); v != nil {
			return r.fail(StepGCPConnection, fmt.Sprintf("Airflow Connection %s Uses a Key, Not the Workers' Identity", id),
				fmt.Sprintf("The extra sets %s, so Airflow's Google hook starts the chain from that key's account, not from %s; "+
					"the check tests the workers' identity.%s", k, r.tokenIdentity(), fix))
		}
	}
	chain, ok := hookChain(googleField(extra, extraImpersonationChain))
	if !ok {
		return r.fail(StepGCPConnection, fmt.Sprintf("Airflow Connection %s Has No Impersonation Chain", id),
			fmt.Sprintf("Expected extra %s = the chain's accounts (delegates, then the target); actual: %s. Without it the hook "+
				"acts as the workers' own identity.%s", extraImpersonationChain, jsonText(googleField(extra, extraImpersonationChain)), fix))
	}
	if len(r.in.GCPChain) > 0 && !slices.Equal(r.in.GCPChain, chain) {
		return r.fail(StepGCPConnection, fmt.Sprintf("Airflow Connection %s Uses Another Impersonation Chain", id),
			fmt.Sprintf("Expected %s = %s (gcp_impersonation_chain); actual: %s.%s", extraImpersonationChain,
				strings.Join(r.in.GCPChain, ","), strings.Join(chain, ","), fix))
	}
	r.in.GCPChain = chain
	return r.ok(StepGCPConnection, "connection %s acts as %s %s", id, chain[len(chain)-1], throughText(chain[:len(chain)-1]))
}

// googleField reads an extra field as the Google provider's get_field
// does: the short name, else the old extra__google_cloud_platform__ one;
// "" counts as absent.
func googleField(extra map[string]any, name string) any {
	v, ok := extra[name]
	if !ok {
		v = extra["extra__google_cloud_platform__"+name]
	}
	if v == "" {
		return nil
	}
	return v
}

// hookChain is impersonation_chain as GoogleBaseHook turns it into accounts.
func hookChain(v any) ([]string, bool) {
	var chain []string
	switch v := v.(type) {
	case string:
		for _, s := range strings.Split(v, ",") {
			chain = append(chain, strings.TrimSpace(s))
		}
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			chain = append(chain, s)
		}
	}
	if len(chain) == 0 || slices.Contains(chain, "") {
		return nil, false
	}
	return chain, true
}

func jsonText(v any) string {
	if v == nil {
		return "absent"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
