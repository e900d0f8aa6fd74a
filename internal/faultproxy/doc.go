// Package faultproxy is a reverse proxy for tests that puts one service
// (Airflow, moto, fakegcp) behind a loopback address and makes a chosen
// fraction of the requests fail the way real networks and servers fail:
//
//   - TooManyRequests: 429 with "Retry-After: 1" (RFC 9110 section 10.2.3,
//     https://www.rfc-editor.org/rfc/rfc9110#field.retry-after: a number of
//     seconds to wait before the next request);
//   - InternalError and Unavailable: 500 and 503 (RFC 9110 sections 15.6.1
//     and 15.6.4, https://www.rfc-editor.org/rfc/rfc9110#name-server-error-5xx);
//   - ResetBefore: the connection is reset (TCP RST, through SO_LINGER 0)
//     before anything reaches the service;
//   - ResetAfter: the request is forwarded, the service acts on it and
//     answers, and the client's connection is reset instead of getting that
//     answer: the case where a write happened and its answer was lost;
//   - Truncate: forwarded, then the service's status line and headers are
//     sent with the real Content-Length but only half of the body, and the
//     connection is closed (RFC 9112 section 8,
//     https://www.rfc-editor.org/rfc/rfc9112#section-8: a message shorter
//     than its Content-Length is incomplete);
//   - Slow: forwarded, and the answer held back for Fault.Delay;
//   - Silent: the connection is accepted and never answered; after
//     Fault.Delay the proxy closes it without a word (so a client without a
//     timeout waits that long, never forever).
//
// The error statuses carry a body shaped like the service's own errors,
// chosen by Fault.Body (GoogleError, AirflowError, AWSError), so that the
// client sees what that service would send.
//
// Which requests fail is deterministic: Fault.Every fails every k-th
// matching request, Fault.Rate a fraction drawn from a PRNG seeded with
// Fault.Seed; Fault.Max stops a fault after that many hits. Fault.Methods,
// Fault.Path and Fault.Match narrow the requests a fault may hit. The proxy
// counts every request (Stats, Count) and keeps a log of what it did to
// each (Log, and OnEntry as it happens), for precise failure messages and
// for tests that act once a write reached the service. Each entry names the
// AWS action the request calls (Entry.Operation), since every AWS request
// is a POST to the same path.
package faultproxy
