// Package retry is the one retry policy of the provider's Google clients:
// an http.RoundTripper that tries an idempotent request again, a bounded
// number of times with jittered exponential back-off, after a throttling or
// server answer (429, 500, 502, 503, 504), a reset or refused connection, a
// truncated body, or an attempt that ran out of time. Each attempt has its
// own time limit, and the answer's body is read inside it, so a server that
// stops half-way through an answer is noticed and retried like one that
// never answered.
//
// What is idempotent is decided per request (Policy.Idempotent); a caller
// that resolves a repeated non-idempotent request itself (a create answered
// "already exists" is read and adopted) says so with AllowRetry. A Record in
// the context counts the attempts of the requests made with it, so that such
// a caller knows whether its request may have been sent twice, and a Budget
// bounds the attempts of a whole operation made of several requests (a
// read-modify-write loop), so retries inside retries do not multiply.
//
// The rules follow Google's guidance:
//   - Retry 408, 429 and 5xx answers and connection errors with truncated
//     exponential back-off and jitter, only for idempotent requests:
//     https://cloud.google.com/storage/docs/retry-strategy (the same rules
//     for every Google API: https://cloud.google.com/apis/design/errors#retrying_errors
//     lists UNAVAILABLE, RESOURCE_EXHAUSTED (429), INTERNAL as retryable and
//     ABORTED as "retry at a higher level", the read-modify-write).
//   - Honour Retry-After (seconds or an HTTP date), RFC 9110 section 10.2.3:
//     https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
//   - setIamPolicy with an etag is safe to repeat: a repeat of a write that
//     already landed fails with 409 ABORTED because the etag changed, and the
//     read-modify-write starts again from the read:
//     https://cloud.google.com/iam/docs/policies#etag
//   - generateAccessToken, generateIdToken and signJwt mint a new credential
//     each time and change nothing: https://cloud.google.com/iam/docs/reference/credentials/rest
package retry
