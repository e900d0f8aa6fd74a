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
//     deleted:serviceAccount:EMAIL?uid=UNIQUE_ID.
//   - Permissions come from the unconditional bindings of the account's own
//     policy and of its project (Seed, SetProjectBindings); Roles and
//     RolePermissions list the roles known. Conditional bindings never grant
//     anything here: the fake does not evaluate CEL, and denying is the
//     safe reading. Members match exactly, or through allUsers,
//     allAuthenticatedUsers and domain:DOMAIN (for user: callers); group:
//     members match nobody because the fake knows no group membership.
//   - Token methods check the delegation chain: the caller needs the
//     permission on the first delegate (or the target), each delegate on
//     the next, the last on the target. A denial never says which hop.
//   - ID tokens are RS256 JWTs signed with a key published at
//     /oauth2/v3/certs, with iss, aud, azp = sub = the account's unique ID,
//     and email/email_verified only when includeEmail is set.
//
// Secret Manager v1 (secrets and versions, without locations or per-secret
// IAM policies) keeps secrets per project. Names come back with the project
// number. Replication is required and immutable except for its Cloud KMS
// keys (a key must be in location global for automatic replication, in
// the replica's location otherwise); versions are numbered from 1, "latest"
// is the newest whatever its state, and only an ENABLED version can be
// accessed (FAILED_PRECONDITION otherwise). addVersion checks dataCrc32c.
// Permissions are checked on the project's policy; a denial does not tell
// a missing secret from a forbidden one.
//
// Where the fake is stricter or looser than Google:
//
//   - list and create need a project ID (or number) in the name; projects/-
//     is 400 there, and an unknown project is 404.
//   - IAM Credentials names and delegates must use projects/-, as Google
//     documents; a project ID there is 400.
//   - Access tokens live at most an hour (no lifetime-extension org policy);
//     domain-wide delegation (a sub claim) is refused as unauthorized_client.
//   - CEL in conditions is not parsed; the expression and title must be set.
//   - Roles outside Roles() are rejected as unsupported, custom
//     roles (projects/P/roles/R) as not existing.
//   - Requests with unknown JSON fields are 400, as Google does; snake_case
//     aliases of field names are not accepted.
//   - A self-signed JWT's audience is not compared with the service name,
//     because one fake serves every API.
//
// Knobs for tests: InjectEtagConflicts, SetLatency, SetPropagationDelay
// (a newly granted member takes effect only after the delay, measured on
// the clock given to WithClock), RequestCounts.
package fakegcp
