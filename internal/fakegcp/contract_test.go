package fakegcp

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

// The contract test holds the fake to the discovery documents shipped with
// google.golang.org/api, the same documents its Go clients are generated
// from.

type discoveryDoc struct {
	Name      string                     `json:"name"`
	Schemas   map[string]discoverySchema `json:"schemas"`
	Resources map[string]discoveryRes    `json:"resources"`
	methods   map[string]discoveryMethod
}

type discoveryRes struct {
	Methods   map[string]discoveryMethod `json:"methods"`
	Resources map[string]discoveryRes    `json:"resources"`
}

type discoveryMethod struct {
	ID         string                     `json:"id"`
	HTTPMethod string                     `json:"httpMethod"`
	FlatPath   string                     `json:"flatPath"`
	Parameters map[string]discoverySchema `json:"parameters"`
	Request    *discoverySchema           `json:"request"`
	Response   *discoverySchema           `json:"response"`
	Scopes     []string                   `json:"scopes"`
}

type discoverySchema struct {
	ID         string                     `json:"id"`
	Ref        string                     `json:"$ref"`
	Type       string                     `json:"type"`
	Format     string                     `json:"format"`
	Location   string                     `json:"location"`
	Properties map[string]discoverySchema `json:"properties"`
	Items      *discoverySchema           `json:"items"`
	// AdditionalProperties is the value schema of a map.
	AdditionalProperties *discoverySchema `json:"additionalProperties"`
}

// googleAPIDir finds google.golang.org/api in the module cache: with the go
// command when there is one, else from the build info and GOMODCACHE.
func googleAPIDir(t *testing.T) string {
	t.Helper()
	if out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "google.golang.org/api").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); dir != "" {
			return dir
		}
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build info and no go command: cannot find google.golang.org/api")
	}
	version := ""
	for _, d := range info.Deps {
		if d.Path == "google.golang.org/api" {
			version = d.Version
		}
	}
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		gopath := os.Getenv("GOPATH")
		if gopath == "" {
			home, _ := os.UserHomeDir()
			gopath = filepath.Join(home, "go")
		}
		cache = filepath.Join(gopath, "pkg", "mod")
	}
	dir := filepath.Join(cache, "google.golang.org", "api@"+version)
	if version == "" {
		t.Fatal("google.golang.org/api is not in the build info")
	}
	return dir
}

func loadDiscovery(t *testing.T, rel string) *discoveryDoc {
	t.Helper()
	path := filepath.Join(googleAPIDir(t), rel)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading discovery document: %v", err)
	}
	var d discoveryDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	d.methods = map[string]discoveryMethod{}
	var walk func(map[string]discoveryRes)
	walk = func(rs map[string]discoveryRes) {
		for _, r := range rs {
			for _, m := range r.Methods {
				d.methods[m.ID] = m
			}
			walk(r.Resources)
		}
	}
	walk(d.Resources)
	return &d
}

// requestSchemaOverrides names the schema of bodies the fake accepts where
// the discovery method has none: the Go client sends getIamPolicy's options
// as a query parameter, other clients as a GetIamPolicyRequest body.
var requestSchemaOverrides = map[string]string{
	"iam.projects.serviceAccounts.getIamPolicy": "GetIamPolicyRequest",
}

func TestContractDiscovery(t *testing.T) {
	docs := map[string]*discoveryDoc{
		apiIAM:             loadDiscovery(t, "iam/v1/iam-api.json"),
		apiIAMCredentials:  loadDiscovery(t, "iamcredentials/v1/iamcredentials-api.json"),
		apiSecretManager:   loadDiscovery(t, "secretmanager/v1/secretmanager-api.json"),
		apiResourceManager: loadDiscovery(t, "cloudresourcemanager/v1/cloudresourcemanager-api.json"),
		apiComposer:        loadDiscovery(t, "composer/v1/composer-api.json"),
	}
	apiRoutes := 0
	for _, rt := range routes {
		if rt.api == "" {
			if strings.HasPrefix(rt.id, "iam") || strings.HasPrefix(rt.id, "secretmanager") {
				t.Errorf("route %s %s: id %s looks like a discovery id but the route names no API", rt.method, rt.path, rt.id)
			}
			continue
		}
		apiRoutes++
		doc := docs[rt.api]
		m, ok := doc.methods[rt.id]
		if !ok {
			t.Errorf("route %s %s: method id %s is not in the %s discovery document", rt.method, rt.path, rt.id, rt.api)
			continue
		}
		if m.HTTPMethod != rt.method || m.FlatPath != rt.path {
			t.Errorf("%s: fake serves %s %s, discovery says %s %s", rt.id, rt.method, rt.path, m.HTTPMethod, m.FlatPath)
		}
		if !strings.HasPrefix(rt.id, doc.Name+".") {
			t.Errorf("%s: id does not start with the API name %s", rt.id, doc.Name)
		}
		if !slices.Contains(m.Scopes, scopeCloudPlatform) {
			t.Errorf("%s: discovery scopes %v lack %s, the scope the fake requires", rt.id, m.Scopes, scopeCloudPlatform)
		}
		for _, q := range rt.query {
			if p, ok := m.Parameters[q]; !ok || p.Location != "query" {
				t.Errorf("%s: the fake reads query parameter %s, not a query parameter in discovery", rt.id, q)
			}
		}
		// Request body.
		reqSchema := ""
		if m.Request != nil {
			reqSchema = m.Request.Ref
		} else if o, ok := requestSchemaOverrides[rt.id]; ok {
			if _, exists := doc.Schemas[o]; !exists {
				t.Errorf("%s: override schema %s not in discovery", rt.id, o)
			}
			reqSchema = o
		}
		switch {
		case rt.request == nil && reqSchema != "":
			t.Errorf("%s: discovery has request %s but the route declares no request type", rt.id, reqSchema)
		case rt.request != nil && reqSchema == "":
			t.Errorf("%s: the fake reads a body but discovery has no request schema", rt.id)
		case rt.request != nil:
			checkType(t, doc, rt.id+" request", reflect.TypeOf(rt.request), reqSchema)
		}
		// Response body.
		if m.Response == nil {
			t.Errorf("%s: discovery has no response", rt.id)
		} else if rt.response == nil {
			t.Errorf("%s: route declares no response type", rt.id)
		} else {
			checkType(t, doc, rt.id+" response", reflect.TypeOf(rt.response), m.Response.Ref)
		}
	}
	if apiRoutes < 25 {
		t.Errorf("only %d API routes checked", apiRoutes)
	}
}

// checkType walks a Go wire type's JSON fields and requires each in the
// discovery schema, with a compatible type, recursing into references.
func checkType(t *testing.T, doc *discoveryDoc, where string, typ reflect.Type, schemaName string) {
	t.Helper()
	schema, ok := doc.Schemas[schemaName]
	if !ok {
		t.Errorf("%s: schema %s not in discovery", where, schemaName)
		return
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		t.Errorf("%s: %s is not a struct", where, typ)
		return
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		prop, ok := schema.Properties[name]
		if !ok {
			t.Errorf("%s: field %q (%s.%s) is not a property of %s", where, name, typ.Name(), f.Name, schemaName)
			continue
		}
		checkField(t, doc, where+"."+name, f.Type, prop)
	}
}

var rawMessage = reflect.TypeFor[json.RawMessage]()

func checkField(t *testing.T, doc *discoveryDoc, where string, ft reflect.Type, prop discoverySchema) {
	t.Helper()
	for ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	if ft == rawMessage {
		return // passed through whatever it is
	}
	switch {
	case prop.Ref != "":
		checkType(t, doc, where, ft, prop.Ref)
	case prop.Type == "array":
		if ft.Kind() != reflect.Slice {
			t.Errorf("%s: discovery type array, Go type %s", where, ft)
			return
		}
		checkField(t, doc, where+"[]", ft.Elem(), *prop.Items)
	case prop.Type == "string":
		if ft.Kind() != reflect.String {
			t.Errorf("%s: discovery type string, Go type %s", where, ft)
		}
	case prop.Type == "integer":
		if k := ft.Kind(); k < reflect.Int || k > reflect.Uint64 {
			t.Errorf("%s: discovery type integer, Go type %s", where, ft)
		}
	case prop.Type == "object" && prop.AdditionalProperties != nil:
		if ft.Kind() != reflect.Map || ft.Key().Kind() != reflect.String {
			t.Errorf("%s: discovery type map, Go type %s", where, ft)
			return
		}
		checkField(t, doc, where+"{}", ft.Elem(), *prop.AdditionalProperties)
	case prop.Type == "boolean":
		if ft.Kind() != reflect.Bool {
			t.Errorf("%s: discovery type boolean, Go type %s", where, ft)
		}
	default:
		t.Errorf("%s: discovery type %q not checked", where, prop.Type)
	}
}

// TestContractRoutesMatchClientPaths expands each API route the way the Go
// clients do ("v1/{+name}:verb" with a full resource name) and checks that
// the fake routes it back to the same method.
func TestContractRoutesMatchClientPaths(t *testing.T) {
	samples := map[string]string{
		"projectsId":        "my-project",
		"serviceAccountsId": "sa-name@my-project.iam.gserviceaccount.com",
		"email":             "sa-name@my-project.iam.gserviceaccount.com",
		"secretsId":         "airflow-connections-my_db",
		"versionsId":        "3",
		"resource":          "my-project",
		"locationsId":       "europe-west1",
		"environmentsId":    "my-env",
		"account":           "default", // the metadata server's
	}
	for _, rt := range routes {
		path := "/" + placeholder.ReplaceAllStringFunc(rt.path, func(p string) string {
			return samples[strings.Trim(p, "{}")]
		})
		for _, alt := range []string{path, strings.ReplaceAll(path, "my-project/", "-/"), strings.ReplaceAll(path, "sa-name@my-project.iam.gserviceaccount.com", "123456789012345678901")} {
			got, _ := matchRoute(rt.method, alt)
			if got != rt {
				name := "<nil>"
				if got != nil {
					name = got.id
				}
				t.Errorf("%s %s routed to %s, want %s", rt.method, alt, name, rt.id)
			}
		}
	}
}

// TestContractCountedIDs checks that every id RequestCounts can report is a
// discovery method id or one of the documented pseudo ids.
func TestContractCountedIDs(t *testing.T) {
	docs := map[string]*discoveryDoc{
		"iam":                  loadDiscovery(t, "iam/v1/iam-api.json"),
		"iamcredentials":       loadDiscovery(t, "iamcredentials/v1/iamcredentials-api.json"),
		"secretmanager":        loadDiscovery(t, "secretmanager/v1/secretmanager-api.json"),
		"cloudresourcemanager": loadDiscovery(t, "cloudresourcemanager/v1/cloudresourcemanager-api.json"),
		"composer":             loadDiscovery(t, "composer/v1/composer-api.json"),
	}
	pseudo := []string{"oauth2.token", "oauth2.tokeninfo", "oidc.discovery", "oidc.jwks", "oidc.serviceAccountJwks"}
	for _, rt := range routes {
		api, _, _ := strings.Cut(rt.id, ".")
		if doc, ok := docs[api]; ok {
			if _, ok := doc.methods[rt.id]; !ok {
				t.Errorf("counted id %s is not in the %s discovery document", rt.id, api)
			}
			continue
		}
		if !slices.Contains(pseudo, rt.id) && !strings.HasPrefix(rt.id, "metadata.") {
			t.Errorf("counted id %s is neither a discovery id nor a documented pseudo id", rt.id)
		}
	}
}
