package mwaa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/mwaa"
	"github.com/aws/aws-sdk-go-v2/service/mwaa/document"
	"github.com/aws/aws-sdk-go-v2/service/mwaa/types"
	"github.com/aws/smithy-go"
	smithydocument "github.com/aws/smithy-go/document"
)

// AuthMethod describes requests sent through the transport, for the
// airflow package's error messages (airflow.Config.TransportAuth).
func (e *Environment) AuthMethod() string {
	return fmt.Sprintf("MWAA InvokeRestApi on environment %s, as the Airflow role that the aws block's identity is mapped to", e.Name)
}

// Endpoint is the base URL the airflow package's client is given: the
// environment's webserver, so that messages name it. Only the path after
// /api/v1 or /api/v2 reaches MWAA.
func (e *Environment) Endpoint() string {
	host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(e.WebserverURL, "https://"), "http://"), "/")
	if host == "" {
		host = "env.airflow." + e.Region + ".amazonaws.com"
	}
	return "https://" + host
}

// Transport returns an http.RoundTripper that sends each request as one
// InvokeRestApi call to env. The SDK does not retry those calls: the
// airflow package's client retries them, as it does direct requests, so
// that every request it counts is one call.
func (c *Client) Transport(env *Environment) http.RoundTripper {
	return &transport{c: c, env: env}
}

type transport struct {
	c   *Client
	env *Environment
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	in, err := t.input(req)
	if err != nil {
		return nil, err
	}
	out, err := t.c.api.InvokeRestApi(req.Context(), in, func(o *mwaa.Options) { o.Retryer = aws.NopRetryer{} })
	if err != nil {
		return t.failure(req, err)
	}
	body, err := documentJSON(out.RestApiResponse)
	if err != nil {
		return nil, fmt.Errorf("decoding InvokeRestApi's RestApiResponse: %w", err)
	}
	return answer(req, int(aws.ToInt32(out.RestApiStatusCode)), body), nil
}

// input builds the InvokeRestApi call for an Airflow request.
func (t *transport) input(req *http.Request) (*mwaa.InvokeRestApiInput, error) {
	method := types.RestApiMethod(req.Method)
	if !isMethod(method) {
		return nil, fmt.Errorf("MWAA's InvokeRestApi cannot send %s requests", req.Method)
	}
	p := req.URL.EscapedPath()
	_, rest, ok := strings.Cut(p, "/api/"+t.env.APIVersion)
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		return nil, fmt.Errorf("MWAA's InvokeRestApi carries only Airflow REST API requests (/api/%s/...), not %s", t.env.APIVersion, p)
	}
	if len(rest) > MaxPathLength {
		return nil, fmt.Errorf("MWAA's InvokeRestApi takes paths of at most %d characters, and %s has %d: through MWAA, a "+
			"connection ID can have at most %d characters", MaxPathLength, rest, len(rest), MaxPathLength-len("/connections/"))
	}
	in := &mwaa.InvokeRestApiInput{Name: aws.String(t.c.name), Method: method, Path: aws.String(rest)}
	if q := req.URL.Query(); len(q) > 0 {
		in.QueryParameters = document.NewLazyDocument(queryDocument(q))
	}
	if req.Body != nil {
		raw, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(raw)) > 0 {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				return nil, fmt.Errorf("MWAA's InvokeRestApi takes JSON bodies only: %w", err)
			}
			in.Body = document.NewLazyDocument(smithyNumbers(v))
		}
	}
	return in, nil
}

func isMethod(m types.RestApiMethod) bool {
	for _, known := range m.Values() {
		if m == known {
			return true
		}
	}
	return false
}

// queryDocument is the query as a JSON object: a value for a key given
// once, a list of values for a key repeated (Airflow 3's update_mask).
func queryDocument(q url.Values) map[string]any {
	doc := make(map[string]any, len(q))
	for k, vs := range q {
		if len(vs) == 1 {
			doc[k] = vs[0]
			continue
		}
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = v
		}
		doc[k] = list
	}
	return doc
}

// smithyNumbers turns the json.Numbers of a decoded body into the
// document numbers the SDK's encoder writes as numbers (it would write a
// json.Number as a string).
func smithyNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		return smithydocument.Number(x)
	case map[string]any:
		for k, e := range x {
			x[k] = smithyNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = smithyNumbers(e)
		}
	}
	return v
}

// documentJSON is a document's JSON text; nil for no document.
func documentJSON(d document.Interface) ([]byte, error) {
	if d == nil {
		return nil, nil
	}
	raw, err := d.MarshalSmithyDocument()
	if err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, err
	}
	return raw, nil
}

// answer is Airflow's answer, carried back by InvokeRestApi, as an HTTP
// response.
func answer(req *http.Request, status int, body []byte) *http.Response {
	h := http.Header{}
	if len(body) > 0 {
		h.Set("Content-Type", "application/json")
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// failure turns an InvokeRestApi error into what the airflow package's
// client expects: Airflow's own answer when MWAA carried one back
// (RestApiClientException, RestApiServerException), a 429, 500 or 503 it
// retries for MWAA's throttling and internal failures, and otherwise an
// error that says what to do.
func (t *transport) failure(req *http.Request, err error) (*http.Response, error) {
	var client *types.RestApiClientException
	var server *types.RestApiServerException
	switch {
	case errors.As(err, &client):
		return carried(req, client.RestApiStatusCode, client.RestApiResponse, client.ErrorMessage())
	case errors.As(err, &server):
		return carried(req, server.RestApiStatusCode, server.RestApiResponse, server.ErrorMessage())
	}
	if status, ok := retryStatus(err); ok {
		body, _ := json.Marshal(map[string]string{"detail": "MWAA: " + err.Error()})
		return answer(req, status, body), nil
	}
	return nil, t.explain(req.Context(), err)
}

// carried is Airflow's answer inside a RestApi*Exception.
func carried(req *http.Request, status *int32, doc document.Interface, message string) (*http.Response, error) {
	body, err := documentJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("decoding the RestApiResponse of an InvokeRestApi error: %w", err)
	}
	if status == nil {
		return nil, fmt.Errorf("MWAA's InvokeRestApi failed without Airflow's status: %s", message)
	}
	return answer(req, int(*status), body), nil
}

// retryStatus maps MWAA's own transient failures to the status the
// airflow package's client retries.
func retryStatus(err error) (int, bool) {
	var internal *types.InternalServerException
	var unavailable *types.ServiceUnavailableException
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &internal):
		return http.StatusInternalServerError, true
	case errors.As(err, &unavailable):
		return http.StatusServiceUnavailable, true
	case errors.As(err, &apiErr) && (apiErr.ErrorCode() == "ThrottlingException" || apiErr.ErrorCode() == "TooManyRequestsException"):
		return http.StatusTooManyRequests, true
	}
	return 0, false
}

// explain is the error for an InvokeRestApi call MWAA refused.
func (t *transport) explain(ctx context.Context, err error) error {
	var denied *types.AccessDeniedException
	var notFound *types.ResourceNotFoundException
	var invalid *types.ValidationException
	switch {
	case errors.As(err, &denied):
		return fmt.Errorf("MWAA refused InvokeRestApi on environment %s to %s (AccessDeniedException: %s). The identity needs "+
			"airflow:InvokeRestApi on the Airflow role it is to act as, for example %s: MWAA maps the caller to the Airflow "+
			"role that the grant's resource names, and managing connections needs Op or Admin",
			envName(t.env), t.c.who(ctx), denied.ErrorMessage(), t.env.RoleARN("Op"))
	case errors.As(err, &notFound):
		return fmt.Errorf("MWAA environment %s was not found in region %s (InvokeRestApi: %s): check airflow.mwaa_environment "+
			"and the aws block's region", t.env.Name, t.env.Region, notFound.ErrorMessage())
	case errors.As(err, &invalid):
		return fmt.Errorf("MWAA refused the InvokeRestApi call as invalid (ValidationException: %s)", invalid.ErrorMessage())
	}
	return err
}

func envName(e *Environment) string {
	if e.ARN != "" {
		return e.ARN
	}
	return e.Name
}
