package fakegcp

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
)

// signingKey is an RSA key with its key ID: the server's ID-token key, a
// service account's system-managed key, or a user-managed key from
// CreateServiceAccountKey.
type signingKey struct {
	kid   string
	priv  *rsa.PrivateKey
	owner *account // nil for the issuer's keys
}

// keyPool holds RSA keys shared by all servers of the process: generating
// a 2048-bit key takes tens of milliseconds, and tests start many servers.
// Within one server every key is distinct (each takes the next index), and
// key IDs are random per server, so no server accepts another's JWTs.
var keyPool struct {
	mu   sync.Mutex
	keys []*rsa.PrivateKey
}

func pooledKey(i int) (*rsa.PrivateKey, error) {
	keyPool.mu.Lock()
	defer keyPool.mu.Unlock()
	for len(keyPool.keys) <= i {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("fakegcp: generating RSA key: %w", err)
		}
		keyPool.keys = append(keyPool.keys, k)
	}
	return keyPool.keys[i], nil
}

// newKeyLocked takes a key this server has not used yet, with a fresh
// 40-hex-digit key ID.
func (s *Server) newKeyLocked(owner *account) (*signingKey, error) {
	priv, err := pooledKey(s.keysTaken)
	if err != nil {
		return nil, err
	}
	s.keysTaken++
	return &signingKey{kid: randomHex(20), priv: priv, owner: owner}, nil
}

// issuerKeyLocked is the key that signs ID tokens, made on first use.
func (s *Server) issuerKeyLocked() (*signingKey, error) {
	if len(s.issuerKeys) == 0 {
		k, err := s.newKeyLocked(nil)
		if err != nil {
			return nil, err
		}
		s.issuerKeys = append(s.issuerKeys, k)
	}
	return s.issuerKeys[0], nil
}

// systemKeyLocked is an account's system-managed key, made on first use.
func (s *Server) systemKeyLocked(a *account) (*signingKey, error) {
	if a.systemKey == nil {
		k, err := s.newKeyLocked(a)
		if err != nil {
			return nil, err
		}
		a.systemKey = k
		s.keysByID[k.kid] = k
	}
	return a.systemKey, nil
}

var b64 = base64.RawURLEncoding

type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid,omitempty"`
	Typ string `json:"typ,omitempty"`
}

// signJWTPayload signs payload (a JSON object) with RS256.
func signJWTPayload(k *signingKey, payload []byte) (string, error) {
	h, err := json.Marshal(jwtHeader{Alg: "RS256", Kid: k.kid, Typ: "JWT"})
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(payload)
	sig, err := signRS256(k.priv, []byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}

func signClaims(k *signingKey, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return signJWTPayload(k, payload)
}

func signRS256(priv *rsa.PrivateKey, data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	return rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, sum[:])
}

// parsedJWT is a compact JWS split into its parts; nothing is verified.
type parsedJWT struct {
	header  jwtHeader
	payload []byte
	input   string // header.payload, what the signature covers
	sig     []byte
}

func parseJWT(tok string) (*parsedJWT, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	var h jwtHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	return &parsedJWT{header: h, payload: payload, input: parts[0] + "." + parts[1], sig: sig}, nil
}

func (p *parsedJWT) verify(pub *rsa.PublicKey) error {
	if p.header.Alg != "RS256" {
		return fmt.Errorf("unsupported alg %q", p.header.Alg)
	}
	sum := sha256.Sum256([]byte(p.input))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], p.sig)
}

// jwtClaims are the registered claims the fake reads from JWTs it is given.
// aud may be a string or an array.
type jwtClaims struct {
	Iss            string          `json:"iss"`
	Sub            string          `json:"sub"`
	Aud            json.RawMessage `json:"aud"`
	Scope          string          `json:"scope"`
	Iat            json.Number     `json:"iat"`
	Exp            json.Number     `json:"exp"`
	TargetAudience string          `json:"target_audience"`
}

func (c *jwtClaims) audiences() []string {
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		if one == "" {
			return nil
		}
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(c.Aud, &many)
	return many
}

func parseClaims(payload []byte) (*jwtClaims, error) {
	var c jwtClaims
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

// unixClaim reads an integer NumericDate; ok is false when absent or not an
// integer.
func unixClaim(n json.Number) (int64, bool) {
	if n == "" {
		return 0, false
	}
	v, err := n.Int64()
	return v, err == nil
}

// JWK is a public RSA key in JSON Web Key form.
type JWK struct {
	Kty string `json:"kty"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

func publicJWK(k *signingKey) JWK {
	pub := k.priv.PublicKey
	return JWK{
		Kty: "RSA", Alg: "RS256", Use: "sig", Kid: k.kid,
		N: b64.EncodeToString(pub.N.Bytes()),
		E: b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// PublicKey converts the JWK back to an RSA public key.
func (j JWK) PublicKey() (*rsa.PublicKey, error) {
	if j.Kty != "RSA" {
		return nil, fmt.Errorf("fakegcp: key %s has kty %q, want RSA", j.Kid, j.Kty)
	}
	n, err := b64.DecodeString(j.N)
	if err != nil {
		return nil, fmt.Errorf("fakegcp: key %s: n: %w", j.Kid, err)
	}
	e, err := b64.DecodeString(j.E)
	if err != nil {
		return nil, fmt.Errorf("fakegcp: key %s: e: %w", j.Kid, err)
	}
	ev := new(big.Int).SetBytes(e)
	if !ev.IsInt64() || ev.Int64() > 1<<31-1 {
		return nil, fmt.Errorf("fakegcp: key %s: exponent too large", j.Kid)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ev.Int64())}, nil
}

// VerifyJWT checks an RS256 JWT's signature against the key of keys with
// the JWT's kid and returns its decoded payload. It checks no claim.
func VerifyJWT(token string, keys JWKS) (map[string]any, error) {
	p, err := parseJWT(token)
	if err != nil {
		return nil, fmt.Errorf("fakegcp: %w", err)
	}
	for _, k := range keys.Keys {
		if k.Kid != p.header.Kid {
			continue
		}
		pub, err := k.PublicKey()
		if err != nil {
			return nil, err
		}
		if err := p.verify(pub); err != nil {
			return nil, fmt.Errorf("fakegcp: bad signature: %w", err)
		}
		claims := map[string]any{}
		if err := json.Unmarshal(p.payload, &claims); err != nil {
			return nil, fmt.Errorf("fakegcp: payload: %w", err)
		}
		return claims, nil
	}
	return nil, fmt.Errorf("fakegcp: no key with kid %q", p.header.Kid)
}
