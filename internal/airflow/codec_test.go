package airflow

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// The expected URIs below are what Airflow 3.3's Connection.get_uri()
// returns for the same fields (TestConnectionCodecConformance checks this
// against Airflow itself).
//
// The fuzz test runs on its seed corpus in every `go test`; `make test` also
// runs `go test -fuzz=FuzzConnectionURIRoundTrip -fuzztime=20s
// ./internal/airflow`.

func TestConnectionURI(t *testing.T) {
	s := func(v string) *string { return &v }
	p := func(v int64) *int64 { return &v }
	reserved := ":/@?#%+ "
	tests := []struct {
		name string
		conn Connection
		want string
	}{
		{"type only", Connection{ConnType: "http"}, "http://"},
		{"no type", Connection{Host: s("h"), Schema: s("s")}, "//h/s"},
		{"underscore in type", Connection{ConnType: "google_cloud_platform", Host: s("h")}, "google-cloud-platform://h"},
		{"upper-case type", Connection{ConnType: "HTTP", Host: s("Example.COM")}, "http://Example.COM"},
		{"login and password without host", Connection{ConnType: "postgres", Login: s("u"), Password: s("p")}, "postgres://u:p@"},
		{"login without host", Connection{ConnType: "http", Login: s("user")}, "http://user@"},
		{"password without login", Connection{ConnType: "http", Password: s("pw")}, "http://:pw@"},
		{"empty login and password", Connection{ConnType: "http", Login: s(""), Password: s("")}, "http://"},
		{"port only", Connection{ConnType: "http", Port: p(8080)}, "http://@:8080"},
		{"port with login", Connection{ConnType: "http", Login: s("u"), Port: p(65535)}, "http://u@:65535"},
		{"port zero", Connection{ConnType: "http", Host: s("h"), Port: p(0)}, "http://h"},
		{"host port schema", Connection{ConnType: "http", Host: s("h"), Port: p(1), Schema: s("s")}, "http://h:1/s"},
		{
			"reserved characters",
			Connection{ConnType: "http", Host: s(reserved), Login: s(reserved), Password: s(reserved), Schema: s(reserved)},
			"http://%3A%2F%40%3F%23%25%2B%20:%3A%2F%40%3F%23%25%2B%20@%3A%2F%40%3F%23%25%2B%20/%3A%2F%40%3F%23%25%2B%20",
		},
		{
			"non-ASCII",
			Connection{ConnType: "http", Host: s("héllo日本🙂"), Login: s("ü"), Password: s("密码"), Schema: s("ß")},
			"http://%C3%BC:%E5%AF%86%E7%A0%81@h%C3%A9llo%E6%97%A5%E6%9C%AC%F0%9F%99%82/%C3%9F",
		},
		{"host with other protocol", Connection{ConnType: "http", Host: s("https://example.com"), Port: p(443)}, "http://https://example.com:443"},
		{"host with protocol and credentials", Connection{ConnType: "http", Host: s("https://h"), Login: s("u"), Password: s("p:@"), Schema: s("db")}, "http://https://u:p%3A%40@h/db"},
		{"host with the type's protocol", Connection{ConnType: "http", Host: s("http://example.com"), Login: s("u")}, "http://u@http%3A%2F%2Fexample.com"},
		{"host with empty protocol", Connection{ConnType: "http", Host: s("://x")}, "http://x"},
		{"string extra", Connection{ConnType: "http", Extra: s(`{"a":"b"}`)}, "http:///?a=b"},
		{"string extra with schema", Connection{ConnType: "http", Schema: s("s"), Extra: s(`{"a":"b"}`)}, "http:///s?a=b"},
		{"extra reserved", Connection{ConnType: "http", Extra: s(`{"a b":"c&d=e+f%","":"","ü":"日本"}`)}, "http:///?a+b=c%26d%3De%2Bf%25&=&%C3%BC=%E6%97%A5%E6%9C%AC"},
		{"empty extra object", Connection{ConnType: "http", Extra: s(`{}`)}, "http:///?__extra__=%7B%7D"},
		{"empty extra string", Connection{ConnType: "http", Extra: s(``)}, "http://"},
		{"number extra", Connection{ConnType: "http", Extra: s(`{"a":1}`)}, "http:///?__extra__=%7B%22a%22%3A1%7D"},
		{"nested extra", Connection{ConnType: "http", Extra: s(`{"n":{"a":[1]}}`)}, "http:///?__extra__=%7B%22n%22%3A%7B%22a%22%3A%5B1%5D%7D%7D"},
		{"duplicate keys", Connection{ConnType: "http", Extra: s(` { "a" : "b" , "a" : "c", "d": "e" } `)}, "http:///?a=c&d=e"},
		{"extra kept as written", Connection{ConnType: "http", Extra: s(`{"a": 1.50}`)}, "http:///?__extra__=%7B%22a%22%3A+1.50%7D"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConnectionURI(&tt.conn)
			if err != nil {
				t.Fatalf("ConnectionURI: %v", err)
			}
			if got != tt.want {
				t.Errorf("ConnectionURI = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConnectionURIErrors(t *testing.T) {
	s := func(v string) *string { return &v }
	p := func(v int64) *int64 { return &v }
	tests := []struct {
		name string
		conn *Connection
		want string
	}{
		{"nil", nil, "nil"},
		{"extra not JSON", &Connection{ConnType: "http", Extra: s("{")}, "extra"},
		{"extra an array", &Connection{ConnType: "http", Extra: s("[1]")}, "extra is not a JSON object"},
		{"extra a string", &Connection{ConnType: "http", Extra: s(`"x"`)}, "extra is not a JSON object"},
		{"extra with trailing data", &Connection{ConnType: "http", Extra: s(`{} {}`)}, "extra"},
		{"conn_type with space", &Connection{ConnType: "my type"}, "conn_type"},
		{"conn_type starting with digit", &Connection{ConnType: "1http"}, "conn_type"},
		{"negative port", &Connection{ConnType: "http", Port: p(-1)}, "port"},
		{"port too large", &Connection{ConnType: "http", Port: p(65536)}, "port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConnectionURI(tt.conn)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ConnectionURI error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := ConnectionJSON(&Connection{ConnType: "http", Extra: s("[]")}); err == nil || !strings.Contains(err.Error(), "extra") {
		t.Errorf("ConnectionJSON error = %v, want one naming extra", err)
	}
}

func TestParseConnectionURI(t *testing.T) {
	s := func(v string) *string { return &v }
	p := func(v int64) *int64 { return &v }
	tests := []struct {
		uri  string
		want Connection
	}{
		{"http://", Connection{ConnType: "http", Host: s(""), Schema: s("")}},
		{"my-type://h", Connection{ConnType: "my_type", Host: s("h"), Schema: s("")}},
		{"postgresql://db/x", Connection{ConnType: "postgres", Host: s("db"), Schema: s("x")}},
		{"postgres://u:p@", Connection{ConnType: "postgres", Host: s(""), Login: s("u"), Password: s("p"), Schema: s("")}},
		{"http://:@h", Connection{ConnType: "http", Host: s("h"), Login: s(""), Schema: s("")}},
		{"http://@:8080", Connection{ConnType: "http", Host: s(""), Login: s(""), Schema: s(""), Port: p(8080)}},
		{"http://h:0", Connection{ConnType: "http", Host: s("h"), Schema: s(""), Port: p(0)}},
		{"HTTP://Example.COM", Connection{ConnType: "http", Host: s("example.com"), Schema: s("")}},
		{"http://AB%20CD", Connection{ConnType: "http", Host: s("ab CD"), Schema: s("")}},
		{"http://Ex%25ample%2FPath", Connection{ConnType: "http", Host: s("Ex%ample/Path"), Schema: s("")}},
		{"http://https://u:p%3A%40@Example.com:443/db", Connection{ConnType: "http", Host: s("https://example.com"), Login: s("u"), Password: s("p:@"), Schema: s("db"), Port: p(443)}},
		{"http://u@http%3A%2F%2Fexample.com", Connection{ConnType: "http", Host: s("http://example.com"), Login: s("u"), Schema: s("")}},
		{
			"http://%3A%2F%40%3F%23%25%2B%20:%3A%2F%40%3F%23%25%2B%20@h/%3A%2F%40%3F%23%25%2B%20",
			Connection{ConnType: "http", Host: s("h"), Login: s(":/@?#%+ "), Password: s(":/@?#%+ "), Schema: s(":/@?#%+ ")},
		},
		{"http://h/%E6%97%A5%zz%C3", Connection{ConnType: "http", Host: s("h"), Schema: s("日%zz\uFFFD")}},
		{"http:///?a=b&c=1&d=true&e=%5B1%5D&f=&g=x%20y+z&a=B", Connection{ConnType: "http", Host: s(""), Schema: s(""), Extra: s(`{"a":"B","c":1,"d":true,"e":[1],"f":"","g":"x y z"}`)}},
		{"http:///?n=12345678901234567890123&f=1.50", Connection{ConnType: "http", Host: s(""), Schema: s(""), Extra: s(`{"n":12345678901234567890123,"f":1.50}`)}},
		{"http:///?__extra__=%7B%22a%22%3A+1%7D&b=c", Connection{ConnType: "http", Host: s(""), Schema: s(""), Extra: s(`{"a": 1}`)}},
		{"http:///?__extra__=", Connection{ConnType: "http", Host: s(""), Schema: s("")}},
		{"//h/s", Connection{Host: s("h"), Schema: s("s")}},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			got, err := ParseConnectionURI(tt.uri)
			if err != nil {
				t.Fatalf("ParseConnectionURI: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("ParseConnectionURI =\n %s, want\n %s", dump(got), dump(&tt.want))
			}
		})
	}
}

func TestParseConnectionURIErrors(t *testing.T) {
	tests := []struct{ uri, want string }{
		{"", "empty"},
		{"a://b://c://d", `more than two "://"`},
		{"http://u@https://h", "protocol of the host"},
		{"http://h:port", `port "port" is not a number`},
		{"http://h:70000", "port 70000 is outside 0-65535"},
		{"http://h:99999999999999999999", "outside 0-65535"},
		{"http://[::1/x", "IPv6"},
		{"http://[1.2.3.4]/x", "IPv4"},
		{"http:///?__extra__=%5B1%5D", "extra is not a JSON object"},
		{"http:///?__extra__=abc", "extra is not valid JSON"},
		{"http:///?k=NaN", `extra parameter "k": NaN`},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			got, err := ParseConnectionURI(tt.uri)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseConnectionURI = %v, %v; want an error containing %q", got, err, tt.want)
			}
		})
	}
	// Airflow itself renders {"__extra__": "abc"} as a URI it cannot read.
	extra := `{"__extra__":"abc"}`
	uri, err := ConnectionURI(&Connection{ConnType: "http", Extra: &extra})
	if err != nil || uri != "http:///?__extra__=abc" {
		t.Fatalf("ConnectionURI = %q, %v", uri, err)
	}
	if _, err := ParseConnectionURI(uri); err == nil {
		t.Errorf("ParseConnectionURI(%q) succeeded", uri)
	}
}

func TestConnectionJSON(t *testing.T) {
	s := func(v string) *string { return &v }
	p := func(v int64) *int64 { return &v }
	tests := []struct {
		name string
		conn Connection
		want string
	}{
		{"type only", Connection{ConnectionID: "id", ConnType: "http"}, `{"conn_type":"http"}`},
		{
			"all fields",
			Connection{ConnType: "my_type", Description: s("d <&>"), Host: s("h"), Login: s("u"), Password: s("p"), Schema: s("s"), Port: p(5432), Extra: s(`{"b": {"n": 1.50}, "a": "x", "b": 12345678901234567890}`)},
			`{"conn_type":"my_type","description":"d <&>","extra":{"b":12345678901234567890,"a":"x"},"host":"h","login":"u","password":"p","port":5432,"schema":"s"}`,
		},
		{"empty strings", Connection{ConnType: "http", Host: s(""), Login: s(""), Password: s(""), Schema: s(""), Port: p(0)}, `{"conn_type":"http","host":"","login":"","port":0,"schema":""}`},
		{"empty extra", Connection{ConnType: "http", Extra: s(`{}`)}, `{"conn_type":"http"}`},
		{"non-ASCII", Connection{ConnType: "http", Host: s("日本"), Extra: s(`{"ü":"🙂"}`)}, `{"conn_type":"http","extra":{"ü":"🙂"},"host":"日本"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConnectionJSON(&tt.conn)
			if err != nil {
				t.Fatalf("ConnectionJSON: %v", err)
			}
			if got != tt.want {
				t.Errorf("ConnectionJSON = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestEdgeCaseConnectionsStable(t *testing.T) {
	// Airflow's URI form is lossy (see ConnectionURI), but once parsed, a
	// connection renders and parses to itself.
	for i, c := range edgeCaseConnections() {
		if _, err := ConnectionJSON(c); err != nil {
			t.Fatalf("case %d: ConnectionJSON: %v", i, err)
		}
		uri, err := ConnectionURI(c)
		if err != nil {
			t.Fatalf("case %d: ConnectionURI: %v", i, err)
		}
		parsed, err := ParseConnectionURI(uri)
		if err != nil {
			t.Fatalf("case %d: ParseConnectionURI(%q): %v", i, uri, err)
		}
		again, err := ConnectionURI(parsed)
		if err != nil {
			t.Fatalf("case %d: ConnectionURI(parsed): %v", i, err)
		}
		reparsed, err := ParseConnectionURI(again)
		if err != nil {
			t.Fatalf("case %d: ParseConnectionURI(%q): %v", i, again, err)
		}
		if !reflect.DeepEqual(reparsed, parsed) {
			t.Errorf("case %d: %q parses to %s; %q parses to %s", i, uri, dump(parsed), again, dump(reparsed))
		}
	}
}

// FuzzConnectionURIRoundTrip checks ParseConnectionURI(ConnectionURI(c)) ==
// c for connections in the form Airflow's URI keeps unchanged (see
// randomConnection and canonicalize).
func FuzzConnectionURIRoundTrip(f *testing.F) {
	for seed := range uint64(64) {
		f.Add(seed, seed*7919+1)
	}
	f.Fuzz(func(t *testing.T, a, b uint64) {
		rng := rand.New(rand.NewPCG(a, b))
		c := randomConnection(rng, true)
		uri, err := ConnectionURI(c)
		if err != nil {
			t.Fatalf("ConnectionURI(%s): %v", dump(c), err)
		}
		got, err := ParseConnectionURI(uri)
		if err != nil {
			t.Fatalf("ParseConnectionURI(%q) of %s: %v", uri, dump(c), err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip of %s through %q gives %s", dump(c), uri, dump(got))
		}
	})
}

// A parse error quotes the host, never the credentials before it.
func TestParseConnectionURIErrorHidesCredentials(t *testing.T) {
	_, err := ParseConnectionURI("postgres://user:s3cr3t@[::1/db")
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "IPv6") {
		t.Errorf("err = %v, want an IPv6 error without the password", err)
	}
}
