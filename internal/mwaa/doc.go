// Package mwaa reaches the Airflow REST API of an Amazon MWAA environment
// through MWAA's own API, with AWS credentials instead of an Airflow user.
// It knows nothing of Terraform.
//
//   - Client.Environment reads the environment once (GetEnvironment) and
//     checks that it can serve the REST API: it exists, it is ready, and its
//     Airflow version is one InvokeRestApi supports; the version also picks
//     the API the airflow package speaks (v1 on Airflow 2, v2 on Airflow 3).
//   - Client.Transport is an http.RoundTripper that turns each request of
//     the airflow package's client into one InvokeRestApi call and its
//     answer back into an HTTP response, so 404s, 409s, masking, paging,
//     retries and adopted creates work as they do against Airflow directly.
//
// The rules it follows, and where AWS states them:
//
//   - InvokeRestApi is POST /restapi/{Name} with a JSON body {Method, Path,
//     QueryParameters, Body}; Method is one of GET, PUT, POST, PATCH,
//     DELETE; Path is at most 64 characters; Name matches
//     [a-zA-Z][0-9a-zA-Z-_]* and is 1 to 80 characters. It answers
//     {RestApiStatusCode, RestApiResponse}. Errors: AccessDeniedException
//     (403), ResourceNotFoundException (404), ValidationException (400),
//     InternalServerException (500), and RestApiClientException and
//     RestApiServerException (400), which carry Airflow's own status and
//     answer. https://docs.aws.amazon.com/mwaa/latest/API/API_InvokeRestApi.html
//     (the shapes are also those of aws-sdk-go-v2/service/mwaa's serializers
//     and deserializers, which this package uses).
//   - Path is the Airflow REST API path without the /api/v1 or /api/v2
//     prefix (the reference's example is /dags/123456/clearTaskInstances);
//     MWAA adds the prefix of the environment's Airflow major.
//   - InvokeRestApi serves environments running Apache Airflow v2.4.3 and
//     later; each call times out after 10 seconds and its answer may be at
//     most 6 MB; the caller needs airflow:InvokeRestApi.
//     https://docs.aws.amazon.com/mwaa/latest/userguide/access-mwaa-apache-airflow-rest-api.html
//   - airflow:InvokeRestApi is granted on an Airflow role of the
//     environment, arn:aws:airflow:REGION:ACCOUNT:role/ENVIRONMENT/ROLE
//     (the rbac-role resource type), and MWAA maps the caller to that
//     Airflow role (Admin, Op, User, Viewer or a custom one). Airflow needs
//     Op or Admin to manage connections.
//     https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonmanagedworkflowsforapacheairflow.html
//     and the user guide page above.
//   - GetEnvironment is GET /environments/{Name}, needs
//     airflow:GetEnvironment on arn:aws:airflow:REGION:ACCOUNT:environment/NAME,
//     and gives AirflowVersion (2.x or 3.x; 3.0.6 is MWAA's first Airflow 3),
//     Status (AVAILABLE, and UPDATE_FAILED, which AWS calls "restored to its
//     previous state successfully and is ready to use", are the ready ones)
//     and WebserverUrl. https://docs.aws.amazon.com/mwaa/latest/API/API_GetEnvironment.html
//     and https://docs.aws.amazon.com/mwaa/latest/API/API_Environment.html
//   - The service endpoint is https://airflow.REGION.amazonaws.com; the SDK
//     prefixes the host with "api." for GetEnvironment and "env." for
//     InvokeRestApi (aws-sdk-go-v2/service/mwaa, endpoints.go and the
//     operations' EndpointHostPrefix middlewares). With an endpoint
//     override (a test double) the prefix is not added.
package mwaa
