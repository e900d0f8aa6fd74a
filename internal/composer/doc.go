// Package composer lets the Airflow client reach the Airflow of a Cloud
// Composer environment with the Google identity of the provider's google
// block, keylessly. It knows nothing about Terraform.
//
//   - Resolve reads the environment once (composer/v1
//     projects.locations.environments.get) for the Airflow URI, the Airflow
//     major version (hence the REST API path) and the state.
//   - Transport is the http.RoundTripper the airflow client sends through:
//     under it an oauth2 transport adds the Google access token; it turns
//     Composer's refusals into errors that name the identity and the fix.
//
// Composer's rules this package follows, and where Google states them:
//
//   - The environment resource: config.airflowUri is "The URI of the Apache
//     Airflow Web UI hosted within this environment", and
//     config.softwareConfig.imageVersion has the form
//     composer-(major).(minor).(patch)-airflow-(major).(minor).(patch), the
//     Airflow part possibly shortened to a major or major.minor ("-airflow-2",
//     "composer-3-airflow-2.10.5-build.7"):
//     https://cloud.google.com/composer/docs/reference/rest/v1/projects.locations.environments
//     (the same text is in google.golang.org/api/composer/v1's discovery
//     document).
//   - State: RUNNING is "running and healthy. It is ready for use", UPDATING
//     "remains usable" while an update runs; CREATING, DELETING and ERROR
//     cannot be used (same page, the State enum). Both usable states are
//     accepted: refusing UPDATING would fail every plan while Composer
//     applies a change it documents as harmless to use.
//   - Reading the environment needs composer.environments.get, which
//     roles/composer.user (and roles/composer.viewer, roles/composer.admin,
//     roles/composer.environmentAndStorageObjectViewer) grants:
//     https://cloud.google.com/composer/docs/composer-3/access-control and
//     https://cloud.google.com/iam/docs/roles-permissions/composer .
//     roles/composer.user is the role the fix names: Google documents it
//     for users who need to reach an environment's Airflow.
//   - The Airflow REST API: Airflow 2 serves the stable API (/api/v1), and
//     Cloud Composer authenticates it with its own backend
//     (airflow.composer.api.backend.composer_auth) that takes the caller's
//     Google access token as "Authorization: Bearer"; "When a new user
//     authorizes through the API, the user's account gets the Op role by
//     default", configurable with [api] composer_auth_user_registration_role:
//     https://cloud.google.com/composer/docs/composer-3/access-airflow-api and
//     https://cloud.google.com/composer/docs/composer-2/access-airflow-api .
//     The role is then ordinary Airflow RBAC: an account registered with a
//     role that may not manage connections (Viewer, User) is answered 403;
//     an administrator gives it Op with `gcloud composer environments run
//     ENV --location L users add-role -- -e EMAIL -r Op` (the Airflow CLI's
//     users add-role, run through gcloud) or in the Airflow UI (Security >
//     List Users).
//   - Airflow 3: Composer 3 images with Airflow 3 serve Airflow's REST API
//     v2 (/api/v2), as every Airflow 3 does. Google's access-airflow-api
//     pages, as read for this package, describe the Composer auth backend
//     for Airflow 2 only; that Composer 3 accepts the same Google access
//     token on /api/v2 and registers callers the same way is assumed here,
//     not documented on those pages. The image version's Airflow major picks
//     the path: 2 is /api/v1, 3 is /api/v2; any other is an error.
//   - A request without a valid Google token is not answered 401: the
//     environment's front (Identity-Aware Proxy on Composer 1 and 2, the
//     Composer 3 web server's Google sign-in) redirects it (302) to Google's
//     sign-in page. The Go HTTP client would follow that redirect and hand
//     back an HTML page; Transport stops at the redirect and reports it.
package composer
