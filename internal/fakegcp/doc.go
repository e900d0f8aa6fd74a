// Package fakegcp is an in-process fake of the parts of Google Cloud that the
// provider talks to: the IAM API v1 (service accounts and their IAM
// policies), the IAM Service Account Credentials API v1 (generateAccessToken,
// generateIdToken, signJwt, signBlob), the OAuth 2.0 token endpoint for
// service-account keys, tokeninfo, and OpenID Connect discovery with a JWKS.
//
// One base URL serves everything; point the official clients at it with
// option.WithEndpoint(server.URL()+"/"). Requests are authenticated with
// "Authorization: Bearer TOKEN", where TOKEN comes from AccessTokenFor,
// Seed.Tokens, generateAccessToken, the /token endpoint, or is a JWT signed
// with a key from CreateServiceAccountKey (a self-signed JWT).
//
// Behaviour follows Google's documentation:
//
//   - Service accounts resolve by email or numeric unique ID, under
//     projects/PROJECT or projects/-. Unknown accounts, and accounts named
//     under another project, are 404 NOT_FOUND.
//   - IAM policies are read-modify-write with etags: a stale etag is
//     409 ABORTED; an empty etag overwrites blindly. A policy never written
//     reads as {"etag":"ACAB"}. Conditional bindings need version 3; read
//     with a lower version they come back as ROLE_withcond_HASH without the
//     condition.
//   - Deleting a service account rewrites every binding that named it to
//     deleted:serviceAccount:EMAIL?uid=UNIQUE_ID, which grants nothing, so a
//     new account with the same email starts with no grants (the members
//     field of Binding, https://cloud.google.com/iam/docs/reference/rest/v1/Policy).
//     A deleted account named as the target or a delegate of an IAM
//     Credentials request is 404 NOT_FOUND.
//   - Permissions come from the bindings of the account's own policy and
//     of the policy it inherits from its project (Seed,
//     SetProjectBindings). The fake knows a fixed set of predefined roles
//     (rolePermissions in permissions.go), each with the
//     iam.serviceAccounts.* permissions of Google's roles reference
//     (https://cloud.google.com/iam/docs/roles-permissions/iam).
//     Members match exactly, or through allUsers, allAuthenticatedUsers
//     and domain:DOMAIN (for user: callers), as the member forms of
//     https://cloud.google.com/iam/docs/principals-overview describe them;
//     group: members match nobody because the fake knows no group
//     membership (stricter than Google).
//   - A conditional binding grants when its CEL condition is true at the
//     fake's clock, evaluated by internal/iamcond with request.time
//     (https://cloud.google.com/iam/docs/conditions-attribute-reference),
//     for a binding on the account's policy and for one on its project
//     alike. Service accounts do not recognise resource attributes
//     (iam.googleapis.com is not among the services listed at
//     https://cloud.google.com/iam/docs/conditions-resource-attributes), so
//     a condition reading resource.* cannot be evaluated. A false
//     condition, or one iamcond cannot evaluate (resource attributes,
//     resource tags, api.getAttribute), grants nothing.
//   - Token methods walk the delegation chain caller -> delegates -> target
//     as the IAM Credentials reference describes the delegates field
//     (https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken,
//     https://cloud.google.com/iam/docs/create-short-lived-credentials-delegated):
//     a grant on a delegate must carry iam.serviceAccounts.implicitDelegation
//     (Token Creator), and only the grant on the target is checked for the
//     method's permission (getAccessToken, getOpenIdToken, signJwt,
//     signBlob). OpenID Token Creator is therefore enough only as the last
//     hop of a chain for ID tokens. A denial names the method's permission,
//     never the hop: the reference documents one PERMISSION_DENIED for the
//     request, and its message ("Permission '...' denied on resource (or it
//     may not exist)") names no delegate.
//   - A disabled target or delegate cannot be impersonated
//     (https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/disable:
//     "requests for new access tokens will fail"). Google does not document
//     the status code; the fake answers 400 FAILED_PRECONDITION, and only
//     after the permission walk, so a caller without the grants sees 403.
//   - ID tokens are RS256 JWTs signed with a key published at
//     /oauth2/v3/certs, with iss, aud, azp = sub = the account's unique ID,
//     and email/email_verified only when includeEmail is set
//     (https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateIdToken,
//     https://developers.google.com/identity/openid-connect/openid-connect#an-id-tokens-payload).
//   - Cloud Resource Manager projects.getIamPolicy (resourcemanager.go)
//     reads a project's policy for a caller with a basic role or Security
//     Admin there, and answers 403 for an unknown project as for a
//     forbidden one. Only unconditional bindings give that permission
//     here (stricter than Google).
//
// Cloud Composer v1 projects.locations.environments.get (composer.go)
// serves seeded environments to callers holding composer.environments.get
// on the project, 403 otherwise and 404 for a missing one; ComposerFront
// (composerfront.go) stands in for an environment's web server in front of
// a real Airflow: Google access tokens the fake issued, a sign-in redirect
// for anything else, users registered with
// composer_auth_user_registration_role. Both files cite their pages.
//
// Secret Manager v1 (secrets, their own IAM policies and versions, without
// locations) keeps secrets per project. Names come back with the project
// number. Replication is required and immutable except for its Cloud KMS
// keys (a key must be in location global for automatic replication, in
// the replica's location otherwise); versions are numbered from 1, "latest"
// is the newest whatever its state, and only an ENABLED version can be
// accessed (FAILED_PRECONDITION otherwise). addVersion checks dataCrc32c.
// Permissions are checked on the project's policy and the secret's own
// (secretiam.go, citing
// https://cloud.google.com/secret-manager/docs/access-control); a denial
// does not tell a missing secret from a forbidden one.
//
// Where the fake is stricter or looser than Google:
//
//   - list and create need a project ID (or number) in the name; projects/-
//     is 400 there, and an unknown project is 404.
//   - IAM Credentials names and delegates must use projects/-, as Google
//     documents; a project ID there is 400.
//   - Access tokens live at most an hour (no lifetime-extension org policy);
//     domain-wide delegation (a sub claim) is refused as unauthorized_client.
//   - setIamPolicy stores any condition whose expression and title are set,
//     without compiling the expression; one that does not compile simply
//     never grants. Conditional bindings on a project grant no
//     project-level permission (listing or creating service accounts,
//     Secret Manager), because the fake does not model the resource
//     attributes of those requests.
//   - Other predefined roles are rejected as unsupported, custom
//     roles (projects/P/roles/R) as not existing.
//   - Requests with unknown JSON fields are 400, as Google does; snake_case
//     aliases of field names are not accepted.
//   - A self-signed JWT's audience is not compared with the service name,
//     because one fake serves every API.
//
// The metadata server a GKE pod reaches (/computeMetadata/v1/..., for one
// service account chosen with SetMetadataServiceAccount or
// Seed.MetadataServiceAccount) follows the pages cited in metadata.go.
//
// Knobs for tests: AcceptBareDelegates (metadata.go), InjectEtagConflicts, SetLatency, SetPropagationDelay
// (a newly granted member takes effect only after the delay, measured on
// the clock given to WithClock), RequestCounts.
package fakegcp
