package faultproxy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// AirflowError is an error body both Airflow REST APIs could send: Airflow
// 3's FastAPI errors are {"detail": ...}
// (https://fastapi.tiangolo.com/tutorial/handling-errors/), Airflow 2's
// are RFC 7807 problem details with type, title, status and detail
// (https://airflow.apache.org/docs/apache-airflow/2.10.5/stable-rest-api-ref.html#section/Errors).
func AirflowError(_ *http.Request, status int) (string, []byte) {
	b, _ := json.Marshal(map[string]any{
		"type": "about:blank", "title": http.StatusText(status), "status": status,
		"detail": "faultproxy: injected " + http.StatusText(status),
	})
	return "application/json", b
}

// googleStatus maps HTTP statuses to Google's canonical codes
// (https://cloud.google.com/apis/design/errors#handling_errors: 429
// RESOURCE_EXHAUSTED, 500 INTERNAL, 503 UNAVAILABLE).
var googleStatus = map[int]string{
	http.StatusTooManyRequests:     "RESOURCE_EXHAUSTED",
	http.StatusInternalServerError: "INTERNAL",
	http.StatusServiceUnavailable:  "UNAVAILABLE",
}

// GoogleError is the error body of Google's JSON APIs:
// {"error": {"code", "message", "status"}}
// (https://cloud.google.com/apis/design/errors#http_mapping).
func GoogleError(_ *http.Request, status int) (string, []byte) {
	code := googleStatus[status]
	if code == "" {
		code = "UNKNOWN"
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code": status, "message": "faultproxy: injected " + http.StatusText(status), "status": code,
	}})
	return "application/json", b
}

// awsCodes are the error codes AWS sends with these statuses: IAM's common
// errors list ThrottlingException, InternalFailure and ServiceUnavailable
// (https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html);
// query-protocol services such as IAM and STS spell throttling
// "Throttling".
var awsCodes = map[int][2]string{ // status -> {query code, JSON code}
	http.StatusTooManyRequests:     {"Throttling", "ThrottlingException"},
	http.StatusInternalServerError: {"InternalFailure", "InternalFailure"},
	http.StatusServiceUnavailable:  {"ServiceUnavailable", "ServiceUnavailable"},
}

// AWSError is an AWS error body in the protocol of the request: a request
// with an X-Amz-Target header uses the awsJson1_1 protocol (Secrets
// Manager, KMS), whose errors are {"__type", "message"}
// (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html#operation-error-serialization);
// any other (IAM, STS) the awsQuery protocol, whose errors are an
// <ErrorResponse><Error><Type><Code><Message> document
// (https://smithy.io/2.0/aws/protocols/aws-query-protocol.html#operation-error-serialization).
func AWSError(r *http.Request, status int) (string, []byte) {
	codes, ok := awsCodes[status]
	if !ok {
		codes = [2]string{"InternalFailure", "InternalFailure"}
	}
	msg := "faultproxy: injected " + http.StatusText(status)
	if r != nil && r.Header.Get("X-Amz-Target") != "" {
		b, _ := json.Marshal(map[string]string{"__type": codes[1], "message": msg})
		return "application/x-amz-json-1.1", b
	}
	kind := "Receiver"
	if status < 500 {
		kind = "Sender"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`,
		kind, codes[0], msg)
	return "text/xml", []byte(b.String())
}
