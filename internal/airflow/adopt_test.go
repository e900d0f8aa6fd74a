package airflow

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// loseFirst loses the answer of the first request with the given method
// (after the fake has acted on it), answering it with lost instead.
func loseFirst(method string, lost step) func(r *http.Request) step {
	done := false
	return func(r *http.Request) step {
		if r.Method != method || done {
			return nil
		}
		done = true
		return lost
	}
}

var lostAnswers = map[string]step{
	"reset":       hangUp(true),
	"closed":      hangUp(false),
	"503 after":   status(http.StatusServiceUnavailable, `{"detail":"upstream went away"}`),
	"502 after":   status(http.StatusBadGateway, `bad gateway`),
	"500 after":   status(http.StatusInternalServerError, `{"detail":"internal"}`),
	"truncated":   truncatedBody,
	"429 (proxy)": status(http.StatusTooManyRequests, `{"detail":"slow down"}`),
}

// truncatedBody promises more bytes than it sends.
func truncatedBody(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "500")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(`{"connection_id":`))
}

func TestCreateAfterLostAnswerAdoptsOwnConnection(t *testing.T) {
	for _, version := range []string{VersionV2, VersionV1} {
		for name, lost := range lostAnswers {
			t.Run(version+"/"+name, func(t *testing.T) {
				f := newFakeAirflow(t, version)
				f.loseAnswer = loseFirst(http.MethodPost, lost)
				c := f.client(t)
				sent := &Connection{ConnectionID: "c1", ConnType: "postgres", Host: ptr("db"), Port: ptr(int64(5432)),
					Login: ptr("u"), Password: ptr("ours"), Extra: ptr(`{"sslmode":"require"}`)}
				got, err := c.CreateConnection(context.Background(), sent)
				if err != nil {
					t.Fatalf("CreateConnection after a lost answer: %v", err)
				}
				if got.ConnectionID != "c1" || got.Host == nil || *got.Host != "db" {
					t.Fatalf("got %+v", got)
				}
				want := []string{http.MethodPost, http.MethodPost, http.MethodGet, http.MethodPatch}
				if m := f.methods(); !slices.Equal(m, want) {
					t.Fatalf("requests = %v; want %v (create, repeat answered 409, read, re-send the password)", m, want)
				}
				patch := f.lastRequest(http.MethodPatch)
				if mask := strings.Join(patch.Query["update_mask"], ","); mask != FieldPassword {
					t.Fatalf("update_mask = %q; want only the password", mask)
				}
				if stored := f.stored("c1"); stored.Password == nil || *stored.Password != "ours" {
					t.Fatalf("stored password = %v; want ours", stored.Password)
				}
			})
		}
	}
}

func TestCreateAfterLostAnswerWithoutSecretsSendsNoPatch(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.loseAnswer = loseFirst(http.MethodPost, hangUp(true))
	c := f.client(t)
	if _, err := c.CreateConnection(context.Background(), &Connection{ConnectionID: "c1", ConnType: "http", Host: ptr("h")}); err != nil {
		t.Fatal(err)
	}
	if m, want := f.methods(), []string{http.MethodPost, http.MethodPost, http.MethodGet}; !slices.Equal(m, want) {
		t.Fatalf("requests = %v; want %v", m, want)
	}
}

// Masked extra values cannot be compared: an equal non-secret part is
// enough, and the extra is re-sent so that its secrets are exactly ours.
func TestCreateAfterLostAnswerResendsMaskedExtra(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.maskExtra = true
	f.loseAnswer = loseFirst(http.MethodPost, hangUp(true))
	c := f.client(t)
	sent := &Connection{ConnectionID: "c1", ConnType: "http", Extra: ptr(`{"api_key":"k-ours","region":"eu"}`)}
	if _, err := c.CreateConnection(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	patch := f.lastRequest(http.MethodPatch)
	if mask := strings.Join(patch.Query["update_mask"], ","); mask != FieldExtra {
		t.Fatalf("update_mask = %q; want extra", mask)
	}
	if stored := f.stored("c1"); stored.Extra == nil || *stored.Extra != *sent.Extra {
		t.Fatalf("stored extra = %v; want %s", stored.Extra, *sent.Extra)
	}
}

func TestCreateAfterLostAnswerFindingAnotherConnectionIsAConflict(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Connection)
		field  string
	}{
		{"host", func(c *Connection) { c.Host = ptr("elsewhere") }, FieldHost},
		{"extra", func(c *Connection) { c.Extra = ptr(`{"sslmode":"disable"}`) }, FieldExtra},
		{"description", func(c *Connection) { c.Description = ptr("someone else's") }, FieldDescription},
		{"a password where none was sent", func(c *Connection) { c.Password = ptr("theirs") }, FieldPassword},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAirflow(t, VersionV2)
			lost := false
			f.loseAnswer = func(r *http.Request) step {
				if r.Method != http.MethodPost || lost {
					return nil
				}
				lost = true
				return func(w http.ResponseWriter, r *http.Request) {
					// Someone else rewrote it before the repeat came.
					f.mu.Lock()
					tc.change(f.conns["c1"])
					f.mu.Unlock()
					hangUp(true)(w, r)
				}
			}
			c := f.client(t)
			_, err := c.CreateConnection(context.Background(), &Connection{ConnectionID: "c1", ConnType: "postgres",
				Host: ptr("db"), Extra: ptr(`{"sslmode":"require"}`)})
			if !IsConflict(err) {
				t.Fatalf("error = %v; want a conflict", err)
			}
			if want := "differs from the one sent in " + tc.field; !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not contain %q", err, want)
			}
			if m := f.methods(); slices.Contains(m, http.MethodPatch) {
				t.Fatalf("requests = %v; another's connection must not be changed", m)
			}
		})
	}
}

func TestCreateConflictOnFirstAttemptIsNotResolved(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.seed(Connection{ConnectionID: "c1", ConnType: "http", Host: ptr("h")})
	c := f.client(t)
	// Even the very same connection: a 409 to a first attempt is a
	// connection this create did not make.
	_, err := c.CreateConnection(context.Background(), &Connection{ConnectionID: "c1", ConnType: "http", Host: ptr("h")})
	if !IsConflict(err) {
		t.Fatalf("error = %v; want a conflict", err)
	}
	if m, want := f.methods(), []string{http.MethodPost}; !slices.Equal(m, want) {
		t.Fatalf("requests = %v; want %v (no read)", m, want)
	}
}

func TestCreateGivingUpIsResolvedByReading(t *testing.T) {
	t.Run("every answer lost, the connection is there", func(t *testing.T) {
		f := newFakeAirflow(t, VersionV2)
		f.loseAnswer = func(r *http.Request) step {
			if r.Method == http.MethodPost {
				return hangUp(true)
			}
			return nil
		}
		c := f.client(t)
		if _, err := c.CreateConnection(context.Background(), &Connection{ConnectionID: "c1", ConnType: "http"}); err != nil {
			t.Fatalf("CreateConnection: %v", err)
		}
		if n := strings.Count(strings.Join(f.methods(), " "), http.MethodPost); n != 1+defaultMaxRetries {
			t.Fatalf("POSTs = %d; want %d", n, 1+defaultMaxRetries)
		}
	})
	t.Run("every attempt refused, nothing created", func(t *testing.T) {
		f := newFakeAirflow(t, VersionV2)
		f.before = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodPost {
				return false
			}
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"detail": "maintenance"})
			return true
		}
		c := f.client(t)
		_, err := c.CreateConnection(context.Background(), &Connection{ConnectionID: "c1", ConnType: "http"})
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("error = %v; want the last 503", err)
		}
		for _, want := range []string{"gave up after 5 attempts", "last answer: 503 Service Unavailable: maintenance", `Airflow has no connection "c1", so it was not created`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
	})
}

func TestDeleteAfterLostAnswer(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.seed(Connection{ConnectionID: "c1", ConnType: "http"})
	f.loseAnswer = loseFirst(http.MethodDelete, hangUp(true))
	c := f.client(t)
	if err := c.DeleteConnection(context.Background(), "c1"); err != nil {
		t.Fatalf("DeleteConnection after a lost answer: %v", err)
	}
	if m, want := f.methods(), []string{http.MethodDelete, http.MethodDelete}; !slices.Equal(m, want) {
		t.Fatalf("requests = %v; want %v", m, want)
	}
	// Without a lost attempt, a 404 is a 404.
	if err := c.DeleteConnection(context.Background(), "c1"); !IsNotFound(err) {
		t.Fatalf("second delete = %v; want not found", err)
	}
}

// A failed login or probe sends no POST, so there is nothing to resolve.
func TestCreateFailingBeforeItsPostIsNotResolved(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.answerPath(tokenPath, hangUp(true))
	c := f.client(t)
	_, err := c.CreateConnection(context.Background(), &Connection{ConnectionID: "c1", ConnType: "http"})
	var retryErr *RetryError
	if !errors.As(err, &retryErr) || retryErr.URL != f.srv.URL+"/auth/token" {
		t.Fatalf("error = %v; want the login's failure", err)
	}
	if strings.Contains(err.Error(), "c1") {
		t.Fatalf("error %q speaks of the connection; the create was never sent", err)
	}
	f.wantCalls(t, -1, -1, 0)
}
