package awspolicy

import (
	"strconv"
	"time"
)

// keyGoogleEmail carries the token's email claim. AWS provides no such
// condition key; GoogleRequest sets it for information.
const keyGoogleEmail = "accounts.google.com:email"

// WebIdentityRequest is a web-identity AssumeRole request, as a trust policy
// sees it.
type WebIdentityRequest struct {
	Provider string              // federated principal, e.g. "accounts.google.com"
	Action   string              // usually ActionAssumeRoleWithWebIdentity; empty means that
	Context  map[string][]string // condition key (any case) -> request values
	// ContextComplete says that Context holds every key the request has, so
	// any other key is absent. Otherwise a key outside Context is absent only
	// when it belongs to an identity provider's namespace (AWS derives those
	// from the token); any other key (aws:SourceIp, aws:CurrentTime,
	// aws:PrincipalTag/..., sts:RoleSessionName, ...) is unknown, and
	// conditions on it cannot be judged.
	ContextComplete bool
}

// Keys of the request time. AWS sets them on every request; the evaluator
// knows them only when WithTime supplies them.
const (
	KeyCurrentTime = "aws:CurrentTime"
	KeyEpochTime   = "aws:EpochTime"
)

// WithTime returns the request with aws:CurrentTime and aws:EpochTime set
// to t, for judging Date conditions on them.
func (r WebIdentityRequest) WithTime(t time.Time) WebIdentityRequest {
	ctx := make(map[string][]string, len(r.Context)+2)
	for k, v := range r.Context {
		ctx[k] = v
	}
	ctx[KeyCurrentTime] = []string{t.UTC().Format(time.RFC3339)}
	ctx[KeyEpochTime] = []string{strconv.FormatInt(t.Unix(), 10)}
	r.Context = ctx
	return r
}

// GoogleRequest builds the request AWS evaluates for a Google ID token with
// the given claims. When the token has an azp claim (all service-account
// tokens do), accounts.google.com:aud holds azp and accounts.google.com:oaud
// holds aud; without azp, accounts.google.com:aud holds aud and there is no
// oaud. accounts.google.com:sub holds sub. The email goes under
// "accounts.google.com:email" for information only: AWS provides no such key.
func GoogleRequest(aud, azp, sub, email string) WebIdentityRequest {
	ctx := map[string][]string{}
	if azp != "" {
		ctx[KeyGoogleAud] = []string{azp}
		if aud != "" {
			ctx[KeyGoogleOaud] = []string{aud}
		}
	} else if aud != "" {
		ctx[KeyGoogleAud] = []string{aud}
	}
	if sub != "" {
		ctx[KeyGoogleSub] = []string{sub}
	}
	if email != "" {
		ctx[keyGoogleEmail] = []string{email}
	}
	return WebIdentityRequest{Provider: GoogleFederatedPrincipal, Action: ActionAssumeRoleWithWebIdentity, Context: ctx}
}
