package airflow

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestConnectionCRUDv2(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	c := f.client(t)
	ctx := context.Background()

	in := &Connection{
		ConnectionID: "pg",
		ConnType:     "postgres",
		Description:  ptr("db"),
		Host:         ptr("db.internal"),
		Login:        ptr("app"),
		Port:         ptr(int64(5432)),
		Password:     ptr("pg-secret"),
		Extra:        ptr(`{"sslmode": "require"}`),
	}
	created, err := c.CreateConnection(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := Connection{
		ConnectionID: "pg", ConnType: "postgres", Description: ptr("db"), Host: ptr("db.internal"),
		Login: ptr("app"), Port: ptr(int64(5432)), Password: ptr(MaskedValue), Extra: ptr(`{"sslmode": "require"}`),
	}
	if !reflect.DeepEqual(*created, want) {
		t.Fatalf("created = %s\nwant      %s", dump(created), dump(&want))
	}
	post := f.lastRequest(http.MethodPost)
	if post.Path != "/api/v2/connections" || post.ContentType != "application/json" {
		t.Fatalf("POST went to %s with Content-Type %q", post.Path, post.ContentType)
	}
	var sent map[string]any
	if err := json.Unmarshal(post.Body, &sent); err != nil {
		t.Fatal(err)
	}
	if sent["password"] != "pg-secret" || sent["schema"] != nil {
		t.Fatalf("sent body = %v", sent)
	}
	if _, present := sent["schema"]; !present {
		t.Fatalf("schema should be sent as null: %v", sent)
	}

	got, err := c.GetConnection(ctx, "pg")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("got = %s\nwant  %s", dump(got), dump(&want))
	}

	// Only the masked fields change, although the body has a new
	// description too.
	upd := *in
	upd.Host = ptr("db2.internal")
	upd.Password = ptr("new-secret")
	upd.Description = ptr("ignored")
	updated, err := c.UpdateConnection(ctx, &upd, []string{FieldHost, FieldPassword})
	if err != nil {
		t.Fatal(err)
	}
	patch := f.lastRequest(http.MethodPatch)
	if patch.Path != "/api/v2/connections/pg" {
		t.Fatalf("PATCH went to %s", patch.Path)
	}
	if m := patch.Query["update_mask"]; !reflect.DeepEqual(m, []string{"host", "password"}) {
		t.Fatalf("update_mask = %v; want [host password]", m)
	}
	if patch.ContentType != "application/json" || !strings.Contains(string(patch.Body), `"description":"ignored"`) {
		t.Fatalf("PATCH must send the full body: %s", patch.Body)
	}
	if *updated.Host != "db2.internal" || *updated.Description != "db" || *updated.Password != MaskedValue {
		t.Fatalf("updated = %s", dump(updated))
	}
	if stored := f.stored("pg"); *stored.Password != "new-secret" || *stored.Description != "db" {
		t.Fatalf("stored = %s", dump(&stored))
	}

	if err := c.DeleteConnection(ctx, "pg"); err != nil {
		t.Fatal(err)
	}
	del := f.lastRequest(http.MethodDelete)
	if del.ContentType != "" || len(del.Body) != 0 {
		t.Fatalf("DELETE sent Content-Type %q and body %q", del.ContentType, del.Body)
	}
	if _, err := c.GetConnection(ctx, "pg"); !IsNotFound(err) {
		t.Fatalf("GetConnection after delete: %v; want not found", err)
	}
	if err := c.DeleteConnection(ctx, "pg"); !IsNotFound(err) {
		t.Fatalf("second delete: %v; want not found", err)
	}
}

func TestCreateConflictV2(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.seed(Connection{ConnectionID: "c1", ConnType: "http"})
	c := f.client(t)
	_, err := c.CreateConnection(context.Background(), &Connection{ConnectionID: "c1", ConnType: "http"})
	if !IsConflict(err) {
		t.Fatalf("error = %v; want a conflict", err)
	}
	if !strings.Contains(err.Error(), "409 Conflict: Unique constraint violation: Connection with connection_id: `c1` already exists") {
		t.Fatalf("Error() = %q", err)
	}
}

func TestCreateValidationErrorV2(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	c := f.client(t)
	_, err := c.CreateConnection(context.Background(), &Connection{ConnectionID: "bad id", ConnType: "http"})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("error = %v; want 422", err)
	}
	if !strings.Contains(apiErr.Detail, "body.connection_id") || !strings.Contains(apiErr.Detail, "String should match pattern") {
		t.Fatalf("Detail = %q", apiErr.Detail)
	}
}

func TestConnectionCRUDv1(t *testing.T) {
	f := newFakeAirflow(t, VersionV1)
	c := f.client(t)
	ctx := context.Background()

	// No password: the key must be omitted, as Airflow 2 rejects null.
	created, err := c.CreateConnection(ctx, &Connection{ConnectionID: "c1", ConnType: "http", Host: ptr("h")})
	if err != nil {
		t.Fatalf("create without password: %v", err)
	}
	if created.ConnectionID != "c1" || *created.Host != "h" || created.Password != nil {
		t.Fatalf("created = %s", dump(created))
	}
	post := f.lastRequest(http.MethodPost)
	var sent map[string]json.RawMessage
	if err := json.Unmarshal(post.Body, &sent); err != nil {
		t.Fatal(err)
	}
	if _, present := sent["password"]; present {
		t.Fatalf("v1 body has a password key: %s", post.Body)
	}
	if string(sent["description"]) != "null" {
		t.Fatalf("description should be sent as null: %s", post.Body)
	}

	// With a password: sent, never returned.
	created, err = c.CreateConnection(ctx, &Connection{ConnectionID: "c2", ConnType: "http", Password: ptr("pw")})
	if err != nil {
		t.Fatal(err)
	}
	if created.Password != nil {
		t.Fatalf("Airflow 2 returned a password? %s", dump(created))
	}
	if stored := f.stored("c2"); stored.Password == nil || *stored.Password != "pw" {
		t.Fatalf("password not sent: %s", dump(&stored))
	}

	// Update without password in the mask and without a password value.
	updated, err := c.UpdateConnection(ctx, &Connection{ConnectionID: "c2", ConnType: "postgres", Host: ptr("h2"), Port: ptr(int64(5432))}, []string{FieldConnType, FieldHost, FieldPort})
	if err != nil {
		t.Fatal(err)
	}
	if *updated.Host != "h2" || updated.ConnType != "postgres" || updated.Port == nil || *updated.Port != 5432 {
		t.Fatalf("updated = %s", dump(updated))
	}
	if stored := f.stored("c2"); stored.Password == nil || *stored.Password != "pw" {
		t.Fatalf("password lost: %s", dump(&stored))
	}
	patch := f.lastRequest(http.MethodPatch)
	if patch.Path != "/api/v1/connections/c2" || !reflect.DeepEqual(patch.Query["update_mask"], []string{"conn_type,host,port"}) {
		t.Fatalf("PATCH %s %v", patch.Path, patch.Query)
	}
	if strings.Contains(string(patch.Body), "password") {
		t.Fatalf("PATCH body has a password key: %s", patch.Body)
	}

	_, err = c.CreateConnection(ctx, &Connection{ConnectionID: "c1", ConnType: "http"})
	if !IsConflict(err) || !strings.Contains(err.Error(), "Connection already exist. ID: c1") {
		t.Fatalf("duplicate create: %v", err)
	}

	// The fake answers an HTML 400 to a DELETE that claims a JSON body.
	if err := c.DeleteConnection(ctx, "c1"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if del := f.lastRequest(http.MethodDelete); del.ContentType != "" {
		t.Fatalf("DELETE sent Content-Type %q", del.ContentType)
	}
	_, err = c.GetConnection(ctx, "c1")
	if !IsNotFound(err) || !strings.Contains(err.Error(), "404 Not Found: The Connection with connection_id: `c1` was not found") {
		t.Fatalf("get after delete: %v", err)
	}
	if get := f.lastRequest(http.MethodGet); get.ContentType != "" {
		t.Fatalf("GET sent Content-Type %q", get.ContentType)
	}
}

func TestListConnections(t *testing.T) {
	for _, version := range []string{VersionV1, VersionV2} {
		t.Run(version, func(t *testing.T) {
			f := newFakeAirflow(t, version)
			for _, id := range []string{"a", "b", "c"} {
				f.seed(Connection{ConnectionID: id, ConnType: "http", Extra: ptr(`{"k": 1}`)})
			}
			c := f.client(t)
			list, err := c.ListConnections(context.Background(), 2, 1)
			if err != nil {
				t.Fatal(err)
			}
			r := f.lastRequest(http.MethodGet)
			if r.Query.Get("limit") != "2" || r.Query.Get("offset") != "1" || r.ContentType != "" {
				t.Fatalf("query = %v, Content-Type %q", r.Query, r.ContentType)
			}
			if list.TotalEntries != 3 || len(list.Connections) != 2 || list.Connections[0].ConnectionID != "b" || list.Connections[1].ConnectionID != "c" {
				t.Fatalf("list = %+v", list)
			}
			// Airflow 2 leaves extra out of list items.
			if gotExtra := list.Connections[0].Extra != nil; gotExtra != (version == VersionV2) {
				t.Fatalf("extra present = %v on %s", gotExtra, version)
			}

			if _, err := c.ListConnections(context.Background(), 0, 0); err != nil {
				t.Fatal(err)
			}
			if q := f.lastRequest(http.MethodGet).Query; len(q) != 0 {
				t.Fatalf("default page sent query %v", q)
			}
		})
	}
}

func TestConnectionIDIsPathEscaped(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	c := f.client(t)
	ctx := context.Background()
	_, err := c.GetConnection(ctx, "a b/c?d")
	if !IsNotFound(err) {
		t.Fatalf("error = %v; want not found", err)
	}
	r := f.lastRequest(http.MethodGet)
	if r.EscapedPath != "/api/v2/connections/a%20b%2Fc%3Fd" || r.Path != "/api/v2/connections/a b/c?d" || len(r.Query) != 0 {
		t.Fatalf("escaped path %q, path %q, query %v", r.EscapedPath, r.Path, r.Query)
	}

	f.seed(Connection{ConnectionID: "..", ConnType: "http"})
	if _, err := c.GetConnection(ctx, ".."); err != nil {
		t.Fatalf("GetConnection(..): %v", err)
	}
	if r := f.lastRequest(http.MethodGet); r.EscapedPath != "/api/v2/connections/%2E%2E" {
		t.Fatalf("escaped path %q", r.EscapedPath)
	}
}

func TestInvalidArgumentsSendNothing(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	c := f.client(t, func(cfg *Config) { cfg.APIVersion = VersionV2 })
	ctx := context.Background()
	checks := map[string]error{}
	_, checks["get empty id"] = c.GetConnection(ctx, "")
	_, checks["create nil"] = c.CreateConnection(ctx, nil)
	_, checks["create empty id"] = c.CreateConnection(ctx, &Connection{ConnType: "http"})
	_, checks["update nil"] = c.UpdateConnection(ctx, nil, nil)
	_, checks["update bad mask"] = c.UpdateConnection(ctx, &Connection{ConnectionID: "c1"}, []string{"host", "connection_id"})
	checks["delete empty id"] = c.DeleteConnection(ctx, "")
	_, checks["list negative offset"] = c.ListConnections(ctx, 10, -1)
	for name, err := range checks {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if !strings.Contains(checks["update bad mask"].Error(), `"connection_id"`) {
		t.Errorf("bad mask error = %v", checks["update bad mask"])
	}
	if n := f.apiCalls.Load() + f.tokenCalls.Load(); n != 0 {
		t.Fatalf("%d requests sent for invalid arguments", n)
	}
}

func TestUpdateWithEmptyMaskSendsNoMask(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.seed(Connection{ConnectionID: "c1", ConnType: "http", Host: ptr("h")})
	c := f.client(t)
	if _, err := c.UpdateConnection(context.Background(), &Connection{ConnectionID: "c1", ConnType: "http", Host: ptr("h2")}, nil); err != nil {
		t.Fatal(err)
	}
	r := f.lastRequest(http.MethodPatch)
	if _, present := r.Query["update_mask"]; present {
		t.Fatalf("query = %v; want no update_mask", r.Query)
	}
}

func dump(c *Connection) string {
	b, _ := json.Marshal(c)
	return string(b)
}
