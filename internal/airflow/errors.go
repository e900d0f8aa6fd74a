package airflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxSnippetRunes bounds the text kept from a non-JSON error body.
const maxSnippetRunes = 200

// APIError is a non-2xx answer from Airflow.
type APIError struct {
	// Method and URL identify the request.
	Method string
	URL    string
	// StatusCode is the HTTP status Airflow answered with.
	StatusCode int
	// Detail is Airflow's own message: the `detail` of an Airflow 3 error
	// (a string, the "loc: msg" entries of a validation error, or the
	// reason and message of an object), the `detail` or `title` of an
	// Airflow 2 RFC 7807 problem, or a trimmed snippet of a non-JSON body.
	Detail string
	// AuthMethod describes how the client authenticated; it is set for 401
	// and 403 answers and for failed Airflow 3 logins.
	AuthMethod string
	// Attempts is set when the client gave up retrying: the request was
	// sent Attempts times over Elapsed and this is the last answer.
	Attempts int
	Elapsed  time.Duration
	// RetryAfter is set when the client stopped retrying because Airflow
	// asked, with Retry-After, for a longer wait than it allows.
	RetryAfter time.Duration
}

// Error formats the error as "METHOD URL: 404 Not Found: detail", followed
// by " (auth method: ...)" when AuthMethod is set. After retries it reads
// "METHOD URL: gave up after 5 attempts over 9.3s; last answer: 503
// Service Unavailable: detail".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", e.Method, e.URL)
	if e.Attempts > 1 {
		fmt.Fprintf(&b, "gave up after %d attempts over %s; last answer: ", e.Attempts, roundElapsed(e.Elapsed))
	}
	fmt.Fprintf(&b, "%d", e.StatusCode)
	if text := http.StatusText(e.StatusCode); text != "" {
		b.WriteString(" ")
		b.WriteString(text)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.AuthMethod != "" {
		fmt.Fprintf(&b, " (auth method: %s)", e.AuthMethod)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (Airflow asked to retry after %s, longer than the client waits)", roundElapsed(e.RetryAfter))
	}
	return b.String()
}

// IsNotFound reports whether err is (or wraps) an *APIError with status 404.
func IsNotFound(err error) bool {
	return hasStatus(err, http.StatusNotFound)
}

// IsConflict reports whether err is (or wraps) an *APIError with status 409.
func IsConflict(err error) bool {
	return hasStatus(err, http.StatusConflict)
}

func hasStatus(err error, status int) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == status
}

// newAPIError builds the error for a non-2xx response. authMethod is kept
// only for 401 and 403.
func newAPIError(method, rawURL string, resp *response, authMethod string) *APIError {
	e := &APIError{
		Method:     method,
		URL:        rawURL,
		StatusCode: resp.status,
		Detail:     errorDetail(resp.body),
	}
	if resp.gaveUp {
		e.Attempts, e.Elapsed, e.RetryAfter = resp.attempts, resp.elapsed, resp.retryAfter
	}
	if resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden {
		e.AuthMethod = authMethod
	}
	return e
}

// errorDetail extracts Airflow's message from an error body.
func errorDetail(body []byte) string {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return ""
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &doc); err != nil {
		return textSnippet(string(trimmed))
	}
	if d := detailText(doc["detail"]); d != "" {
		return d
	}
	// RFC 7807 problems (Airflow 2) carry a title when detail is null.
	for _, key := range []string{"title", "message", "error"} {
		if s := jsonString(doc[key]); s != "" {
			return s
		}
	}
	return truncate(compactJSON(trimmed))
}

// detailText renders a `detail` value: a string, a list of validation
// errors, or an object with a reason and/or message.
func detailText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	switch raw[0] {
	case '"':
		return jsonString(raw)
	case '[':
		return detailList(raw)
	case '{':
		return detailObject(raw)
	default:
		return truncate(string(raw))
	}
}

// detailList renders a list of validation errors, joined by "; ".
func detailList(raw json.RawMessage) string {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return truncate(compactJSON(raw))
	}
	parts := make([]string, 0, len(items))
	for _, item := range items {
		if s := validationItem(item); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}

// detailObject renders an object's reason and message ("reason: message"),
// else its own detail, else the object itself.
func detailObject(raw json.RawMessage) string {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return truncate(compactJSON(raw))
	}
	reason, message := jsonString(obj["reason"]), jsonString(obj["message"])
	switch {
	case reason != "" && message != "":
		return reason + ": " + message
	case message != "":
		return message
	case reason != "":
		return reason
	}
	if s := detailText(obj["detail"]); s != "" {
		return s
	}
	return truncate(compactJSON(raw))
}

// validationItem renders one entry of a 422 `detail` list as "loc: msg",
// with the loc elements joined by dots (for example
// "body.connection_id: String should match pattern ...").
func validationItem(raw json.RawMessage) string {
	var item struct {
		Loc []any  `json:"loc"`
		Msg string `json:"msg"`
	}
	if err := json.Unmarshal(raw, &item); err != nil || item.Msg == "" {
		if s := jsonString(raw); s != "" {
			return s
		}
		return truncate(compactJSON(raw))
	}
	loc := make([]string, 0, len(item.Loc))
	for _, l := range item.Loc {
		switch v := l.(type) {
		case string:
			loc = append(loc, v)
		case float64:
			loc = append(loc, strconv.FormatFloat(v, 'f', -1, 64))
		default:
			loc = append(loc, fmt.Sprint(v))
		}
	}
	if len(loc) == 0 {
		return item.Msg
	}
	return strings.Join(loc, ".") + ": " + item.Msg
}

// jsonString returns raw decoded as a JSON string, or "" when it is not one.
func jsonString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return strings.TrimSpace(s)
}

func compactJSON(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// textSnippet turns a non-JSON body (plain text or an HTML error page) into
// a short single-line message: tags are dropped, entities decoded, white
// space collapsed, and the result truncated.
func textSnippet(body string) string {
	if strings.Contains(body, "<") {
		body = stripTags(body)
	}
	return truncate(strings.Join(strings.Fields(body), " "))
}

// stripTags removes HTML tags and the contents of <script> and <style>
// elements, replacing each tag with a space.
func stripTags(s string) string {
	var b strings.Builder
	lower := asciiLower(s) // same byte offsets as s
	for i := 0; i < len(s); {
		if s[i] != '<' {
			j := strings.IndexByte(s[i:], '<')
			if j < 0 {
				j = len(s) - i
			}
			b.WriteString(s[i : i+j])
			i += j
			continue
		}
		for _, elem := range []string{"script", "style"} {
			if strings.HasPrefix(lower[i+1:], elem) {
				if end := strings.Index(lower[i:], "</"+elem); end >= 0 {
					i += end
				}
				break
			}
		}
		end := strings.IndexByte(s[i:], '>')
		if end < 0 {
			break
		}
		i += end + 1
		b.WriteString(" ")
	}
	return html.UnescapeString(b.String())
}

// asciiLower lower-cases ASCII letters only, so byte offsets are kept.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

func truncate(s string) string {
	if utf8.RuneCountInString(s) <= maxSnippetRunes {
		return s
	}
	runes := []rune(s)
	return strings.TrimSpace(string(runes[:maxSnippetRunes])) + "..."
}

// checkJSON returns an error naming the request when a 2xx body is not
// JSON (for example an HTML login page from a proxy).
func checkJSON(method, rawURL string, resp *response) error {
	if json.Valid(resp.body) {
		return nil
	}
	ct := resp.header.Get("Content-Type")
	if len(bytes.TrimSpace(resp.body)) == 0 {
		return fmt.Errorf("%s %s: expected a JSON response, got status %d with an empty body", method, rawURL, resp.status)
	}
	return fmt.Errorf("%s %s: expected a JSON response, got status %d with Content-Type %q: %s",
		method, rawURL, resp.status, ct, textSnippet(string(resp.body)))
}

// decodeBody decodes a 2xx JSON body into out.
func decodeBody(method, rawURL string, resp *response, out any) error {
	if err := checkJSON(method, rawURL, resp); err != nil {
		return err
	}
	if err := json.Unmarshal(resp.body, out); err != nil {
		return fmt.Errorf("%s %s: decoding response: %w", method, rawURL, err)
	}
	return nil
}
