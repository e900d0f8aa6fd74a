// Package mwaafake is a test double of Amazon MWAA's API in front of a real
// Airflow: a plain HTTP server that speaks MWAA's REST-JSON protocol for
// the two operations the provider uses, GetEnvironment and InvokeRestApi,
// and forwards each InvokeRestApi call to the Airflow it stands in front
// of. Its shapes are held to aws-sdk-go-v2/service/mwaa by its own test,
// which drives it through that SDK.
//
// The rules it follows, and where AWS states them:
//
//   - GetEnvironment is GET /environments/{Name} and answers 200
//     {"Environment": {...}} with Name, Arn, AirflowVersion, Status and
//     WebserverUrl; an unknown name is 404 ResourceNotFoundException.
//     https://docs.aws.amazon.com/mwaa/latest/API/API_GetEnvironment.html
//   - InvokeRestApi is POST /restapi/{Name} with {Method, Path,
//     QueryParameters, Body}; Method is GET, PUT, POST, PATCH or DELETE;
//     Path has 1 to 64 characters; anything else is 400
//     ValidationException. It answers 200 {RestApiStatusCode,
//     RestApiResponse} for a 2xx from Airflow; a 4xx from Airflow is 400
//     RestApiClientException and a 5xx is 400 RestApiServerException, each
//     carrying RestApiStatusCode and RestApiResponse; a caller without
//     airflow:InvokeRestApi gets 403 AccessDeniedException; an unknown
//     environment 404 ResourceNotFoundException.
//     https://docs.aws.amazon.com/mwaa/latest/API/API_InvokeRestApi.html
//   - Path is the Airflow path without its /api/v1 or /api/v2 prefix; the
//     double adds the one of the environment's Airflow major (/api/v1 on
//     Airflow 2, /api/v2 on Airflow 3).
//     https://docs.aws.amazon.com/mwaa/latest/userguide/access-mwaa-apache-airflow-rest-api.html
//   - Errors name their type in the X-Amzn-ErrorType header and carry a
//     Message, as AWS's REST-JSON protocol does (the SDK reads either).
//     https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html
//
// Simplifications, each outside what the provider depends on:
//
//   - Real MWAA verifies the SigV4 signature and maps the IAM identity to
//     the Airflow role its airflow:InvokeRestApi grant names. The double
//     reads only the access key ID from the Authorization header: a key the
//     test denied (Deny) gets AccessDeniedException, a key mapped to Viewer
//     (MapToViewer) acts as the environment's Viewer user, and any other as
//     its Airflow administrator; the double logs in as that user (basic
//     auth on Airflow 2, a JWT from POST /auth/token on Airflow 3, obtained
//     once and again when Airflow refuses it).
//   - QueryParameters values are strings, or lists of strings for a
//     repeated parameter (Airflow 3's update_mask); the reference says only
//     "a JSON object".
//   - The double has no 10-second limit and no 6 MB answer limit.
package mwaafake
