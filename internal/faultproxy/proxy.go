package faultproxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind is what the proxy does to a request a fault hits.
type Kind int

// The kinds of fault; see the package documentation.
const (
	None Kind = iota
	TooManyRequests
	InternalError
	Unavailable
	ResetBefore
	ResetAfter
	Truncate
	Slow
	Silent
)

var kindNames = map[Kind]string{
	None: "none", TooManyRequests: "429", InternalError: "500", Unavailable: "503",
	ResetBefore: "reset-before", ResetAfter: "reset-after", Truncate: "truncated-body",
	Slow: "slow", Silent: "silent",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// forwards reports whether a request hit by k reaches the service.
func (k Kind) forwards() bool {
	switch k {
	case None, ResetAfter, Truncate, Slow:
		return true
	}
	return false
}

// Fault says which requests fail and how. The zero Fault fails nothing.
type Fault struct {
	Kind Kind
	// Rate is the fraction (0 to 1) of matching requests hit, drawn from a
	// PRNG seeded with Seed. Every, when above 0, is used instead: every
	// Every-th matching request is hit (the Every-th, the 2*Every-th, ...).
	// With neither, every matching request is hit.
	Rate  float64
	Seed  uint64
	Every int
	// Max, when above 0, stops the fault after that many hits.
	Max int
	// Methods (e.g. "POST") and Path (a prefix of the URL path) narrow the
	// requests the fault may hit; empty means any.
	Methods []string
	Path    string
	// Match, when set, narrows them further: the fault may hit only the
	// requests it accepts (given Method, Path and Operation).
	Match func(Entry) bool
	// Delay is how long Slow holds an answer back and Silent holds a
	// connection before closing it. Default 2s.
	Delay time.Duration
	// Body makes the body of the error statuses; default AirflowError.
	Body ErrorBody
}

// ErrorBody makes the body of an error answer to r with the given status.
type ErrorBody func(r *http.Request, status int) (contentType string, body []byte)

// Entry is what the proxy did with one request.
type Entry struct {
	Method, Path string
	Operation    string // the AWS action, when there is one (see operation)
	Fault        Kind   // None when the request passed untouched
	Forwarded    bool   // the request reached the service
	Status       int    // the service's status, when forwarded and answered
	Err          error  // forwarding failed
}

func (e Entry) String() string {
	s := e.Method + " " + e.Path
	if e.Operation != "" {
		s += " " + e.Operation
	}
	if e.Fault != None {
		s += " [" + e.Fault.String() + "]"
	}
	if e.Status != 0 {
		s += " -> " + strconv.Itoa(e.Status)
	}
	if e.Err != nil {
		s += " error: " + e.Err.Error()
	}
	return s
}

// Stats counts the requests the proxy has seen.
type Stats struct {
	Requests  int // every request
	Faulted   int // hit by a fault
	Forwarded int // reached the service
}

// Proxy forwards to one service, applying the current Fault.
type Proxy struct {
	target    *url.URL
	transport *http.Transport
	srv       *http.Server
	ln        net.Listener
	done      chan struct{} // closed by Close: ends Silent and Slow holds

	mu      sync.Mutex
	fault   Fault
	rng     *rand.Rand
	matched int // requests matching the fault since it was set
	hits    int
	stats   Stats
	log     []Entry
	closed  bool
	wg      sync.WaitGroup
	onEntry func(Entry)
}

// New starts a proxy for target (e.g. "http://127.0.0.1:8080") on a free
// 127.0.0.1 port, with no fault.
func New(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: target %q: %w", target, err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q: want http://host:port", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	p := &Proxy{
		target: u,
		// Its own pool, so that connections to the service never mix
		// with anyone else's, and no proxy from the environment.
		transport: &http.Transport{MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second},
		ln:        ln,
		done:      make(chan struct{}),
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = p.srv.Serve(ln) }() // returns ErrServerClosed on Close
	return p, nil
}

// URL is the proxy's base URL, "http://127.0.0.1:PORT".
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy: it ends every hold and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	_ = p.srv.Close()
	p.wg.Wait()
	p.transport.CloseIdleConnections()
}

// Set replaces the fault, restarting its PRNG and its Every and Max counts.
func (p *Proxy) Set(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
	p.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
	p.matched, p.hits = 0, 0
}

// Clear removes the fault.
func (p *Proxy) Clear() { p.Set(Fault{}) }

// OnEntry sets a function called (in the request's goroutine) after each
// request is handled, e.g. to notice that a write reached the service.
func (p *Proxy) OnEntry(f func(Entry)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onEntry = f
}

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Count is how many requests with method (any when empty) and a path
// starting with pathPrefix reached the service.
func (p *Proxy) Count(method, pathPrefix string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, e := range p.log {
		if e.Forwarded && (method == "" || e.Method == method) && strings.HasPrefix(e.Path, pathPrefix) {
			n++
		}
	}
	return n
}

// Log returns what the proxy did with each request, oldest first.
func (p *Proxy) Log() []Entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.log)
}

// Reset forgets the counts and the log (not the fault).
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats = Stats{}
	p.log = nil
}

// decide picks what to do with the request e describes and counts it.
func (p *Proxy) decide(e Entry) (Kind, Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Requests++
	f := p.fault
	if f.Kind == None || !f.matches(e) || (f.Max > 0 && p.hits >= f.Max) {
		return None, f
	}
	p.matched++
	var hit bool
	switch {
	case f.Every > 0:
		hit = p.matched%f.Every == 0
	case f.Rate > 0:
		hit = p.rng.Float64() < f.Rate
	default:
		hit = true
	}
	if !hit {
		return None, f
	}
	p.hits++
	p.stats.Faulted++
	return f.Kind, f
}

func (f Fault) matches(e Entry) bool {
	if len(f.Methods) > 0 && !slices.Contains(f.Methods, e.Method) {
		return false
	}
	return strings.HasPrefix(e.Path, f.Path) && (f.Match == nil || f.Match(e))
}

func (p *Proxy) record(e Entry) {
	p.mu.Lock()
	if e.Forwarded {
		p.stats.Forwarded++
	}
	p.log = append(p.log, e)
	hook := p.onEntry
	p.mu.Unlock()
	if hook != nil {
		hook(e)
	}
}

// ServeHTTP applies the fault to one request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		http.Error(w, "faultproxy closed", http.StatusServiceUnavailable)
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()

	body, err := io.ReadAll(r.Body)
	e := Entry{Method: r.Method, Path: r.URL.Path, Operation: operation(r, body)}
	kind, f := p.decide(e)
	e.Fault = kind
	if err != nil {
		e.Err = fmt.Errorf("reading the request: %w", err)
		p.record(e)
		reset(w)
		return
	}
	if !kind.forwards() {
		p.record(e) // before acting: whoever sees the fault sees its entry
		p.refuse(w, r, kind, f)
		return
	}
	resp, err := p.forward(r, body)
	e.Forwarded = true
	if err != nil {
		e.Err = err
		p.record(e)
		http.Error(w, "faultproxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	e.Status = resp.status
	p.record(e) // before answering: a test waiting for the write sees it now
	p.answer(w, resp, kind, f)
}

// refuse handles the kinds that never reach the service.
func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, kind Kind, f Fault) {
	switch kind {
	case TooManyRequests, InternalError, Unavailable:
		status := map[Kind]int{TooManyRequests: http.StatusTooManyRequests, InternalError: http.StatusInternalServerError, Unavailable: http.StatusServiceUnavailable}[kind]
		mk := f.Body
		if mk == nil {
			mk = AirflowError
		}
		ct, b := mk(r, status)
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		if kind == TooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
		_, _ = w.Write(b)
	case ResetBefore:
		reset(w)
	case Silent:
		conn := hijack(w)
		if conn == nil {
			return
		}
		p.hold(f.delay())
		_ = conn.Close()
	}
}

// answer sends the service's answer, or the fault's version of it.
func (p *Proxy) answer(w http.ResponseWriter, resp *response, kind Kind, f Fault) {
	switch kind {
	case ResetAfter:
		reset(w)
		return
	case Truncate:
		conn := hijack(w)
		if conn == nil {
			return
		}
		_, _ = conn.Write(resp.raw(len(resp.body) / 2))
		_ = conn.Close()
		return
	case Slow:
		p.hold(f.delay())
	}
	for k, vs := range resp.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// hold waits d, or until the proxy is closed.
func (p *Proxy) hold(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.done:
	}
}

func (f Fault) delay() time.Duration {
	if f.Delay > 0 {
		return f.Delay
	}
	return 2 * time.Second
}

// response is the service's whole answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// raw is the answer as HTTP/1.1 bytes, with the real Content-Length but
// only the first n bytes of the body.
func (r *response) raw(n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", r.status, http.StatusText(r.status))
	h := r.header.Clone()
	h.Del("Transfer-Encoding")
	h.Set("Content-Length", strconv.Itoa(len(r.body)))
	h.Set("Connection", "close")
	_ = h.Write(&b)
	b.WriteString("\r\n")
	b.Write(r.body[:n])
	return b.Bytes()
}

// hopHeaders are dropped when forwarding (RFC 9110 section 7.6.1,
// https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forward sends r (with its body already read) to the service and reads
// the whole answer. The Host header is kept, as the client signed it.
func (p *Proxy) forward(r *http.Request, body []byte) (*response, error) {
	u := *p.target
	u.Path = r.URL.Path
	u.RawPath = r.URL.RawPath
	u.RawQuery = r.URL.RawQuery
	ctx := context.WithoutCancel(r.Context()) // the service finishes what it started, as a real one would
	out, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.Host = r.Host
	out.ContentLength = int64(len(body))
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the service's answer: %w", err)
	}
	h := resp.Header.Clone()
	for _, k := range hopHeaders {
		h.Del(k)
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	return &response{status: resp.StatusCode, header: h, body: b}, nil
}

func hijack(w http.ResponseWriter) net.Conn {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return nil
	}
	return conn
}

// reset closes the client's connection with a TCP RST: SO_LINGER 0 makes
// close(2) discard unsent data and reset the connection (socket(7),
// https://man7.org/linux/man-pages/man7/socket.7.html, SO_LINGER).
func reset(w http.ResponseWriter) {
	conn := hijack(w)
	if conn == nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// operation is the AWS action a request calls: the part after the dot of
// its X-Amz-Target header in the awsJson protocols ("secretsmanager.CreateSecret",
// https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html#protocol-behaviors),
// or the Action parameter of its form-encoded body in the awsQuery
// protocol (https://smithy.io/2.0/aws/protocols/aws-query-protocol.html#request-serialization).
// Other requests have none.
func operation(r *http.Request, body []byte) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		_, op, _ := strings.Cut(t, ".")
		return op
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if v, err := url.ParseQuery(string(body)); err == nil {
			return v.Get("Action")
		}
	}
	return ""
}
