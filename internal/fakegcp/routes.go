package fakegcp

import (
	"net/http"
	"regexp"
	"strings"
)

// Discovery documents the API routes come from.
const (
	apiIAM             = "iam"
	apiIAMCredentials  = "iamcredentials"
	apiSecretManager   = "secretmanager"
	apiResourceManager = "cloudresourcemanager"
)

// Services named in error details.
const (
	serviceIAM             = "iam.googleapis.com"
	serviceIAMCredentials  = "iamcredentials.googleapis.com"
	serviceOAuth2          = "oauth2.googleapis.com"
	serviceSecretManager   = "secretmanager.googleapis.com"
	serviceResourceManager = "cloudresourcemanager.googleapis.com"
)

// route is one method the fake serves. API routes (api != "") are checked
// against the discovery documents by the contract test: method and path
// must match a discovery method's httpMethod and flatPath, and id its id.
type route struct {
	method string
	path   string // flatPath form, without the leading slash
	id     string // discovery method id, or a pseudo id for the OAuth/OIDC endpoints
	api    string // apiIAM, apiIAMCredentials, or "" when not in a discovery document
	rpc    string // gRPC method name, for error details
	// handler serves an authenticated API call and returns the response
	// body; raw serves everything else itself.
	handler func(s *Server, c *call) (any, *APIError)
	raw     func(s *Server, w http.ResponseWriter, r *http.Request, params []string)
	// wire types, for the contract test: the request body and response
	// struct the handler decodes and encodes.
	request, response any
	query             []string // query parameters the handler reads

	re *regexp.Regexp
}

func (rt *route) service() string {
	switch rt.api {
	case apiIAM:
		return serviceIAM
	case apiIAMCredentials:
		return serviceIAMCredentials
	case apiSecretManager:
		return serviceSecretManager
	case apiResourceManager:
		return serviceResourceManager
	case apiComposer:
		return serviceComposer
	}
	return serviceOAuth2
}

const (
	saCollection = "v1/projects/{projectsId}/serviceAccounts"
	saResource   = saCollection + "/{serviceAccountsId}"
	iamRPC       = "google.iam.admin.v1.IAM."
	credRPC      = "google.iam.credentials.v1.IAMCredentials."

	secretCollection = "v1/projects/{projectsId}/secrets"
	secretResource   = secretCollection + "/{secretsId}"
	versionResource  = secretResource + "/versions/{versionsId}"
	secretManagerRPC = "google.cloud.secretmanager.v1.SecretManagerService."
)

// routes is the fake's whole HTTP surface.
var routes = compileRoutes(append([]*route{
	// Cloud Resource Manager v1: a project's IAM policy, read only.
	{method: http.MethodPost, path: "v1/projects/{resource}:getIamPolicy", id: "cloudresourcemanager.projects.getIamPolicy", api: apiResourceManager,
		rpc: "google.cloudresourcemanager.v1.Projects.GetIamPolicy", handler: (*Server).getProjectIamPolicy,
		request: getIamPolicyRequest{}, response: Policy{}},
	// IAM API v1: service accounts.
	{method: http.MethodGet, path: saCollection, id: "iam.projects.serviceAccounts.list", api: apiIAM, rpc: iamRPC + "ListServiceAccounts",
		handler: (*Server).listServiceAccounts, response: listServiceAccountsResponse{}, query: []string{"pageSize", "pageToken"}},
	{method: http.MethodPost, path: saCollection, id: "iam.projects.serviceAccounts.create", api: apiIAM, rpc: iamRPC + "CreateServiceAccount",
		handler: (*Server).createServiceAccount, request: createServiceAccountRequest{}, response: ServiceAccount{}},
	{method: http.MethodGet, path: saResource, id: "iam.projects.serviceAccounts.get", api: apiIAM, rpc: iamRPC + "GetServiceAccount",
		handler: (*Server).getServiceAccount, response: ServiceAccount{}},
	{method: http.MethodPatch, path: saResource, id: "iam.projects.serviceAccounts.patch", api: apiIAM, rpc: iamRPC + "PatchServiceAccount",
		handler: (*Server).patchServiceAccount, request: patchServiceAccountRequest{}, response: ServiceAccount{}},
	{method: http.MethodDelete, path: saResource, id: "iam.projects.serviceAccounts.delete", api: apiIAM, rpc: iamRPC + "DeleteServiceAccount",
		handler: (*Server).deleteServiceAccount, response: empty{}},
	{method: http.MethodPost, path: saResource + ":disable", id: "iam.projects.serviceAccounts.disable", api: apiIAM, rpc: iamRPC + "DisableServiceAccount",
		handler: (*Server).disableServiceAccount, request: empty{}, response: empty{}},
	{method: http.MethodPost, path: saResource + ":enable", id: "iam.projects.serviceAccounts.enable", api: apiIAM, rpc: iamRPC + "EnableServiceAccount",
		handler: (*Server).enableServiceAccount, request: empty{}, response: empty{}},
	{method: http.MethodPost, path: saResource + ":getIamPolicy", id: "iam.projects.serviceAccounts.getIamPolicy", api: apiIAM, rpc: iamRPC + "GetIamPolicy",
		handler: (*Server).getIamPolicy, request: getIamPolicyRequest{}, response: Policy{}, query: []string{"options.requestedPolicyVersion"}},
	{method: http.MethodPost, path: saResource + ":setIamPolicy", id: "iam.projects.serviceAccounts.setIamPolicy", api: apiIAM, rpc: iamRPC + "SetIamPolicy",
		handler: (*Server).setIamPolicy, request: setIamPolicyRequest{}, response: Policy{}},
	{method: http.MethodPost, path: saResource + ":testIamPermissions", id: "iam.projects.serviceAccounts.testIamPermissions", api: apiIAM, rpc: iamRPC + "TestIamPermissions",
		handler: (*Server).testIamPermissions, request: testIamPermissionsRequest{}, response: testIamPermissionsResponse{}},

	// IAM Service Account Credentials API v1. IAM v1 has deprecated
	// signBlob and signJwt methods at the same paths with a subset of these
	// fields (no delegates); the fake serves and counts them as IAM
	// Credentials calls.
	{method: http.MethodPost, path: saResource + ":generateAccessToken", id: "iamcredentials.projects.serviceAccounts.generateAccessToken", api: apiIAMCredentials, rpc: credRPC + "GenerateAccessToken",
		handler: (*Server).generateAccessToken, request: generateAccessTokenRequest{}, response: generateAccessTokenResponse{}},
	{method: http.MethodPost, path: saResource + ":generateIdToken", id: "iamcredentials.projects.serviceAccounts.generateIdToken", api: apiIAMCredentials, rpc: credRPC + "GenerateIdToken",
		handler: (*Server).generateIDToken, request: generateIDTokenRequest{}, response: generateIDTokenResponse{}},
	{method: http.MethodPost, path: saResource + ":signJwt", id: "iamcredentials.projects.serviceAccounts.signJwt", api: apiIAMCredentials, rpc: credRPC + "SignJwt",
		handler: (*Server).signJWT, request: signJWTRequest{}, response: signJWTResponse{}},
	{method: http.MethodPost, path: saResource + ":signBlob", id: "iamcredentials.projects.serviceAccounts.signBlob", api: apiIAMCredentials, rpc: credRPC + "SignBlob",
		handler: (*Server).signBlob, request: signBlobRequest{}, response: signBlobResponse{}},

	// Secret Manager API v1: secrets, their IAM policies (secretiam.go) and
	// versions (no locations).
	{method: http.MethodPost, path: secretCollection, id: "secretmanager.projects.secrets.create", api: apiSecretManager, rpc: secretManagerRPC + "CreateSecret",
		handler: (*Server).createSecret, request: Secret{}, response: Secret{}, query: []string{"secretId"}},
	{method: http.MethodGet, path: secretResource, id: "secretmanager.projects.secrets.get", api: apiSecretManager, rpc: secretManagerRPC + "GetSecret",
		handler: (*Server).getSecret, response: Secret{}},
	{method: http.MethodPatch, path: secretResource, id: "secretmanager.projects.secrets.patch", api: apiSecretManager, rpc: secretManagerRPC + "UpdateSecret",
		handler: (*Server).patchSecret, request: Secret{}, response: Secret{}, query: []string{"updateMask"}},
	{method: http.MethodDelete, path: secretResource, id: "secretmanager.projects.secrets.delete", api: apiSecretManager, rpc: secretManagerRPC + "DeleteSecret",
		handler: (*Server).deleteSecret, response: empty{}, query: []string{"etag"}},
	{method: http.MethodGet, path: secretResource + ":getIamPolicy", id: "secretmanager.projects.secrets.getIamPolicy", api: apiSecretManager, rpc: "google.iam.v1.IAMPolicy.GetIamPolicy",
		handler: (*Server).getSecretIamPolicy, response: Policy{}, query: []string{"options.requestedPolicyVersion"}},
	{method: http.MethodPost, path: secretResource + ":setIamPolicy", id: "secretmanager.projects.secrets.setIamPolicy", api: apiSecretManager, rpc: "google.iam.v1.IAMPolicy.SetIamPolicy",
		handler: (*Server).setSecretIamPolicy, request: setIamPolicyRequest{}, response: Policy{}},
	{method: http.MethodPost, path: secretResource + ":addVersion", id: "secretmanager.projects.secrets.addVersion", api: apiSecretManager, rpc: secretManagerRPC + "AddSecretVersion",
		handler: (*Server).addSecretVersion, request: addSecretVersionRequest{}, response: SecretVersion{}},
	{method: http.MethodGet, path: versionResource, id: "secretmanager.projects.secrets.versions.get", api: apiSecretManager, rpc: secretManagerRPC + "GetSecretVersion",
		handler: (*Server).getSecretVersion, response: SecretVersion{}},
	{method: http.MethodGet, path: versionResource + ":access", id: "secretmanager.projects.secrets.versions.access", api: apiSecretManager, rpc: secretManagerRPC + "AccessSecretVersion",
		handler: (*Server).accessSecretVersion, response: accessSecretVersionResponse{}},
	{method: http.MethodPost, path: versionResource + ":disable", id: "secretmanager.projects.secrets.versions.disable", api: apiSecretManager, rpc: secretManagerRPC + "DisableSecretVersion",
		handler: setVersionState(VersionDisabled, permVersionsDisable), request: versionStateRequest{}, response: SecretVersion{}},
	{method: http.MethodPost, path: versionResource + ":enable", id: "secretmanager.projects.secrets.versions.enable", api: apiSecretManager, rpc: secretManagerRPC + "EnableSecretVersion",
		handler: setVersionState(VersionEnabled, permVersionsEnable), request: versionStateRequest{}, response: SecretVersion{}},
	{method: http.MethodPost, path: versionResource + ":destroy", id: "secretmanager.projects.secrets.versions.destroy", api: apiSecretManager, rpc: secretManagerRPC + "DestroySecretVersion",
		handler: setVersionState(VersionDestroyed, permVersionsDestroy), request: versionStateRequest{}, response: SecretVersion{}},

	// Cloud Composer API v1: environments, read only (composer.go).
	{method: http.MethodGet, path: "v1/projects/{projectsId}/locations/{locationsId}/environments/{environmentsId}",
		id: "composer.projects.locations.environments.get", api: apiComposer, rpc: composerRPC + "GetEnvironment",
		handler: (*Server).getComposerEnvironment, response: composerEnvironmentWire{}},

	// OAuth 2.0 and OpenID Connect (not in the discovery documents).
	{method: http.MethodPost, path: "token", id: "oauth2.token", raw: (*Server).serveToken},
	{method: http.MethodGet, path: "oauth2/v3/tokeninfo", id: "oauth2.tokeninfo", raw: (*Server).serveTokenInfo},
	{method: http.MethodPost, path: "oauth2/v3/tokeninfo", id: "oauth2.tokeninfo", raw: (*Server).serveTokenInfo},
	{method: http.MethodGet, path: "tokeninfo", id: "oauth2.tokeninfo", raw: (*Server).serveTokenInfo},
	{method: http.MethodPost, path: "tokeninfo", id: "oauth2.tokeninfo", raw: (*Server).serveTokenInfo},
	{method: http.MethodGet, path: ".well-known/openid-configuration", id: "oidc.discovery", raw: (*Server).serveDiscovery},
	{method: http.MethodGet, path: "oauth2/v3/certs", id: "oidc.jwks", raw: (*Server).serveJWKS},
	{method: http.MethodGet, path: "service_accounts/v1/jwk/{email}", id: "oidc.serviceAccountJwks", raw: (*Server).serveServiceAccountJWKS},
}, metadataRoutes...)) // the metadata server: metadata.go

var placeholder = regexp.MustCompile(`\{[^}]+\}`)

// compileRoutes turns each flatPath into a regular expression. A
// placeholder matches one path segment; in the last segment it stops at
// ":" so that "{serviceAccountsId}:verb" splits at the verb.
func compileRoutes(rs []*route) []*route {
	for _, rt := range rs {
		segs := strings.Split(rt.path, "/")
		for i, seg := range segs {
			group := `([^/]+)`
			if i == len(segs)-1 {
				group = `([^/:]+)`
			}
			var b strings.Builder
			last := 0
			for _, m := range placeholder.FindAllStringIndex(seg, -1) {
				b.WriteString(regexp.QuoteMeta(seg[last:m[0]]))
				b.WriteString(group)
				last = m[1]
			}
			b.WriteString(regexp.QuoteMeta(seg[last:]))
			segs[i] = b.String()
		}
		rt.re = regexp.MustCompile("^/" + strings.Join(segs, "/") + "$")
	}
	return rs
}

// matchRoute finds the route for a method and path.
func matchRoute(method, path string) (*route, []string) {
	for _, rt := range routes {
		if rt.method != method {
			continue
		}
		if m := rt.re.FindStringSubmatch(path); m != nil {
			return rt, m[1:]
		}
	}
	return nil, nil
}
