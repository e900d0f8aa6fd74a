package gcpiam

import (
	"net/http"
	"strings"

	"github.com/airflowiam/terraform-provider-airflowiam/internal/retry"
)

// repeatableMethods are the custom methods of Google APIs that may be sent
// again without harm: reads that happen to be POSTs, credential minting,
// and setIamPolicy, which this package always sends with the etag it read,
// so that a repeat of a write that landed fails with 409 ABORTED and the
// read-modify-write starts again (https://cloud.google.com/iam/docs/policies#etag).
// Mints: https://cloud.google.com/iam/docs/reference/credentials/rest
// (generateAccessToken, generateIdToken, signJwt, signBlob create a new
// credential and change nothing).
var repeatableMethods = []string{
	":getIamPolicy", ":testIamPermissions", ":setIamPolicy",
	":generateAccessToken", ":generateIdToken", ":signJwt", ":signBlob",
}

// IdempotentRequest says whether a Google request may be repeated: the
// safe HTTP methods (GET, HEAD, PUT, DELETE: a repeated delete answers 404,
// which every delete here takes as done), the custom methods above, and the
// OAuth 2.0 token exchange (POST .../token), which mints a token and
// changes nothing. Secret Manager's create and addVersion are not: their
// caller resolves a repeat (internal/gcpsecrets).
func IdempotentRequest(req *http.Request) bool {
	if retry.SafeMethod(req) {
		return true
	}
	if req.Method != http.MethodPost {
		return false
	}
	p := req.URL.Path
	for _, m := range repeatableMethods {
		if strings.HasSuffix(p, m) {
			return true
		}
	}
	return strings.HasSuffix(p, "/token")
}
