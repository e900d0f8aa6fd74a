package airflow

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file ports the parts of CPython 3.11's urllib.parse that Airflow's
// connection URIs rely on: quote and quote_plus (as urlencode uses them),
// unquote, parse_qsl and urlsplit with SplitResult's username, password,
// hostname parts and port. Airflow's own rules on top of them are in
// codec.go.

// pyQuote is urllib.parse.quote(s, safe="") or, with plus, quote_plus(s,
// safe="") as urlencode uses it: every byte but ASCII letters, digits and
// "_.-~" is percent-encoded with upper-case hex digits.
func pyQuote(s string, plus bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '_', c == '.', c == '-', c == '~':
			b.WriteByte(c)
		case c == ' ' && plus:
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// pyUnquote is urllib.parse.unquote: "%XX" becomes the byte XX, anything
// else is kept, and bytes that are not UTF-8 become U+FFFD, one for each
// maximal invalid subsequence as Python's "replace" error handler does.
func pyUnquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	buf := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				buf = append(buf, hi<<4|lo)
				i += 2
				continue
			}
		}
		buf = append(buf, s[i])
	}
	return decodeUTF8Replace(buf)
}

func decodeUTF8Replace(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var out strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r != utf8.RuneError || size > 1 {
			out.Write(b[:size])
			b = b[size:]
			continue
		}
		out.WriteRune(utf8.RuneError)
		b = b[maximalSubpart(b):]
	}
	return out.String()
}

// maximalSubpart is the length of the invalid UTF-8 sequence at the start of
// b that Python replaces with a single U+FFFD: the lead byte and as many of
// the continuation bytes it calls for as are in range.
func maximalSubpart(b []byte) int {
	need, lo, hi := utf8Lead(b[0])
	i := 1
	for ; i <= need && i < len(b); i++ {
		if b[i] < lo || b[i] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return i
}

// utf8Lead is what a lead byte of UTF-8 calls for: the number of
// continuation bytes and the range of the first one (the later ones are
// 0x80-0xBF). A byte that cannot lead a sequence calls for none.
func utf8Lead(c byte) (need int, lo, hi byte) {
	lo, hi = 0x80, 0xBF
	switch {
	case c >= 0xC2 && c <= 0xDF:
		return 1, lo, hi
	case c == 0xE0:
		return 2, 0xA0, hi
	case c == 0xED:
		return 2, lo, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		return 2, lo, hi
	case c == 0xF0:
		return 3, 0x90, hi
	case c == 0xF4:
		return 3, lo, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		return 3, lo, hi
	}
	return 0, lo, hi
}

// pyParseQSL is urllib.parse.parse_qsl(qs, keep_blank_values=True).
func pyParseQSL(qs string) [][2]string {
	var out [][2]string
	if qs == "" {
		return out
	}
	for _, nv := range strings.Split(qs, "&") {
		if nv == "" {
			continue
		}
		name, value, _ := strings.Cut(nv, "=")
		out = append(out, [2]string{
			pyUnquote(strings.ReplaceAll(name, "+", " ")),
			pyUnquote(strings.ReplaceAll(value, "+", " ")),
		})
	}
	return out
}

// splitResult is urllib.parse.SplitResult, without the fragment.
type splitResult struct {
	scheme, netloc, path, query string
}

func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// pyURLSplit is urllib.parse.urlsplit(url) of CPython 3.11.7. Its check
// that a non-ASCII netloc has no characters that NFKC normalization turns
// into "/?#@:" is not reproduced.
func pyURLSplit(url string) (splitResult, error) {
	var r splitResult
	url = strings.TrimLeft(url, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
	url = strings.NewReplacer("\t", "", "\r", "", "\n", "").Replace(url)
	if i := strings.IndexByte(url, ':'); i > 0 && (url[0] >= 'a' && url[0] <= 'z' || url[0] >= 'A' && url[0] <= 'Z') {
		ok := true
		for j := 0; j < i; j++ {
			if !isSchemeChar(url[j]) {
				ok = false
				break
			}
		}
		if ok {
			r.scheme, url = strings.ToLower(url[:i]), url[i+1:]
		}
	}
	if strings.HasPrefix(url, "//") {
		end := len(url)
		if i := strings.IndexAny(url[2:], "/?#"); i >= 0 {
			end = i + 2
		}
		r.netloc, url = url[2:end], url[end:]
		open, closed := strings.Contains(r.netloc, "["), strings.Contains(r.netloc, "]")
		if open != closed {
			// The host part only: what comes before @ may hold a password.
			host := r.netloc[strings.LastIndex(r.netloc, "@")+1:]
			return r, fmt.Errorf("parsing connection URI: invalid IPv6 address in %q", host)
		}
		if open {
			_, after, _ := strings.Cut(r.netloc, "[")
			bracketed, _, _ := strings.Cut(after, "]")
			if err := checkBracketedHost(bracketed); err != nil {
				return r, err
			}
		}
	}
	url, _, _ = strings.Cut(url, "#")
	r.path, r.query, _ = strings.Cut(url, "?")
	return r, nil
}

var ipvFuture = regexp.MustCompile(`\Av[a-fA-F0-9]+\..+\z`)

func checkBracketedHost(host string) error {
	if strings.HasPrefix(host, "v") {
		if !ipvFuture.MatchString(host) {
			return fmt.Errorf("parsing connection URI: invalid IPvFuture address %q", host)
		}
		return nil
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("parsing connection URI: %q in brackets is not an IP address", host)
	}
	if addr.Is4() {
		return fmt.Errorf("parsing connection URI: IPv4 address %q cannot be in brackets", host)
	}
	return nil
}

// userinfo is SplitResult.username and .password: ok is false when the
// netloc has no "@", password is nil when the user information has no ":".
func (r splitResult) userinfo() (user string, password *string, ok bool) {
	i := strings.LastIndex(r.netloc, "@")
	if i < 0 {
		return "", nil, false
	}
	user, pw, hasPassword := strings.Cut(r.netloc[:i], ":")
	if hasPassword {
		password = &pw
	}
	return user, password, true
}

// hostinfo is SplitResult._hostinfo.
func (r splitResult) hostinfo() (host string, port string) {
	info := r.netloc
	if i := strings.LastIndex(info, "@"); i >= 0 {
		info = info[i+1:]
	}
	if _, bracketed, ok := strings.Cut(info, "["); ok {
		host, rest, _ := strings.Cut(bracketed, "]")
		_, port, _ = strings.Cut(rest, ":")
		return host, port
	}
	host, port, _ = strings.Cut(info, ":")
	return host, port
}

// port is SplitResult.port.
func (r splitResult) port() (*int64, error) {
	_, port := r.hostinfo()
	if port == "" {
		return nil, nil
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return nil, fmt.Errorf("parsing connection URI: port %q is not a number", port)
		}
	}
	digits := strings.TrimLeft(port, "0")
	if len(digits) > 5 {
		return nil, fmt.Errorf("parsing connection URI: port %s is outside 0-65535", port)
	}
	n, _ := strconv.ParseInt("0"+digits, 10, 64)
	if n > 65535 {
		return nil, fmt.Errorf("parsing connection URI: port %s is outside 0-65535", port)
	}
	return &n, nil
}
