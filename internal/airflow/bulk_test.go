package airflow

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveBulk makes the Airflow 3 fake answer PATCH /api/v2/connections as
// Airflow 3.3.2's BulkConnectionService does
// (https://github.com/apache/airflow/blob/3.3.2/airflow-core/src/airflow/api_fastapi/core_api/services/public/connections.py):
// each action is judged as a whole: with "fail", one existing connection
// fails a create action and one missing connection an update or delete
// action, with one error naming no entity, before any entity is written.
// lost, when set, answers the first bulk request instead once it is
// applied, as when its answer is lost.
func (f *fakeAirflow) serveBulk(lost step) *int {
	var calls int
	f.before = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPatch || r.URL.Path != "/api/v2/connections" {
			return false
		}
		raw, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		calls++
		var body struct {
			Actions []struct {
				Action     string            `json:"action"`
				Entities   []json.RawMessage `json:"entities"`
				UpdateMask []string          `json:"update_mask"`
			} `json:"actions"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			f.mu.Unlock()
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": err.Error()})
			return true
		}
		out := map[string]any{}
		for _, a := range body.Actions {
			out[a.Action] = f.bulkAction(a.Action, a.Entities, a.UpdateMask)
		}
		first := calls == 1
		f.mu.Unlock()
		if lost != nil && first {
			lost(w, r)
			return true
		}
		writeJSON(w, http.StatusOK, out)
		return true
	}
	return &calls
}

// bulkAction applies one action; f.mu is held.
func (f *fakeAirflow) bulkAction(action string, entities []json.RawMessage, mask []string) map[string]any {
	res := map[string]any{"success": []string{}, "errors": []any{}}
	var conns []Connection
	var ids []string
	for _, e := range entities {
		var c Connection
		if action == bulkDelete {
			_ = json.Unmarshal(e, &c.ConnectionID)
		} else {
			_ = json.Unmarshal(e, &c)
		}
		conns, ids = append(conns, c), append(ids, c.ConnectionID)
	}
	var clash []string
	for _, id := range ids {
		if _, exists := f.conns[id]; exists == (action == bulkCreate) {
			clash = append(clash, id)
		}
	}
	if len(clash) > 0 {
		status, what := http.StatusNotFound, "were not found"
		if action == bulkCreate {
			status, what = http.StatusConflict, "already exist"
		}
		res["errors"] = []any{map[string]any{"error": fmt.Sprintf("The connections with these connection_ids: %v %s.", clash, what), "status_code": status}}
		return res
	}
	success := []string{}
	for i, c := range conns {
		switch action {
		case bulkCreate:
			stored := c
			f.conns[c.ConnectionID] = &stored
		case bulkDelete:
			delete(f.conns, c.ConnectionID)
		case bulkUpdate:
			applyMask(f.conns[c.ConnectionID], &c, mask)
		}
		success = append(success, ids[i])
	}
	res["success"] = success
	return res
}

func bulkClient(t *testing.T, f *fakeAirflow) *Client {
	return f.client(t, func(c *Config) { c.BulkWrites = true })
}

func sampleConn(i int) *Connection {
	return &Connection{ConnectionID: fmt.Sprintf("c%d", i), ConnType: "postgres", Host: ptr(fmt.Sprintf("db-%d", i)),
		Port: ptr(int64(5432)), Password: ptr(fmt.Sprintf("pw-%d", i)), Extra: ptr(`{"api_token":"t","sslmode":"require"}`)}
}

// atOnce runs f for 0..n-1 at once and returns the errors in order.
func atOnce(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	return errs
}

func countMethod(f *fakeAirflow, method, path string) int {
	n := 0
	for _, r := range f.recorded() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// Ten creates issued at once go in one bulk request, and each returns what
// a single create would have: compared with a second fake written one by
// one.
func TestBulk_concurrentCreatesShareOneRequest(t *testing.T) {
	bulkFake, singleFake := newFakeAirflow(t, VersionV2), newFakeAirflow(t, VersionV2)
	calls := bulkFake.serveBulk(nil)
	bulk, single := bulkClient(t, bulkFake), singleFake.client(t)
	got := make([]*Connection, 10)
	errs := atOnce(10, func(i int) (err error) {
		got[i], err = bulk.CreateConnection(t.Context(), sampleConn(i))
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		want, err := single.CreateConnection(t.Context(), sampleConn(i))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("create %d returned %+v, a single create %+v", i, got[i], want)
		}
		if b, s := bulkFake.stored(want.ConnectionID), singleFake.stored(want.ConnectionID); !reflect.DeepEqual(b, s) {
			t.Errorf("stored %+v by bulk, %+v one by one", b, s)
		}
	}
	if *calls != 1 || countMethod(bulkFake, http.MethodPost, "/api/v2/connections") != 0 {
		t.Errorf("%d bulk requests and %d POSTs, want 1 and 0", *calls, countMethod(bulkFake, http.MethodPost, "/api/v2/connections"))
	}
}

// One existing connection fails Airflow's whole create action; each create
// is then sent alone, and only the clashing one fails, with Airflow's own
// conflict.
func TestBulk_oneConflictFailsOnlyItsWrite(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.serveBulk(nil)
	f.seed(Connection{ConnectionID: "c2", ConnType: "http"})
	c := bulkClient(t, f)
	errs := atOnce(5, func(i int) error { _, err := c.CreateConnection(t.Context(), sampleConn(i)); return err })
	for i, err := range errs {
		if i == 2 {
			if !IsConflict(err) || !strings.Contains(err.Error(), "already exists") {
				t.Errorf("create c2: %v, want Airflow's conflict", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("create c%d: %v", i, err)
		}
	}
	if got := f.stored("c2"); got.ConnType != "http" {
		t.Errorf("c2 was overwritten: %+v", got)
	}
}

// A bulk request refused as a whole falls back to single requests; a
// server without the endpoint is not asked again.
func TestBulk_refusedBulkFallsBackToSingles(t *testing.T) {
	for _, tc := range []struct {
		status     int
		bulkAgain  bool
		wantBulks2 int
	}{
		{http.StatusUnprocessableEntity, true, 2},
		{http.StatusMethodNotAllowed, false, 1},
	} {
		f := newFakeAirflow(t, VersionV2)
		bulks := 0
		f.before = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodPatch && r.URL.Path == "/api/v2/connections" {
				bulks++
				writeJSON(w, tc.status, map[string]any{"detail": "no"})
				return true
			}
			return false
		}
		c := bulkClient(t, f)
		for round := range 2 {
			for i, err := range atOnce(3, func(i int) error {
				_, err := c.CreateConnection(t.Context(), sampleConn(10*round+i))
				return err
			}) {
				if err != nil {
					t.Errorf("status %d, round %d, create %d: %v", tc.status, round, i, err)
				}
			}
		}
		if bulks != tc.wantBulks2 || countMethod(f, http.MethodPost, "/api/v2/connections") != 6 {
			t.Errorf("status %d: %d bulk requests, %d POSTs; want %d and 6", tc.status, bulks,
				countMethod(f, http.MethodPost, "/api/v2/connections"), tc.wantBulks2)
		}
	}
}

// A bulk request whose answer is lost is retried; the retry's create
// action fails on the connections the first attempt made, and each is
// read and adopted as its own, not reported as a conflict.
func TestBulk_lostAnswerIsResolvedByReading(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.serveBulk(hangUp(true))
	c := bulkClient(t, f)
	got := make([]*Connection, 3)
	for i, err := range atOnce(3, func(i int) (err error) {
		got[i], err = c.CreateConnection(t.Context(), sampleConn(i))
		return err
	}) {
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		if s := f.stored(got[i].ConnectionID); *s.Password != fmt.Sprintf("pw-%d", i) || *s.Host != fmt.Sprintf("db-%d", i) {
			t.Errorf("stored %+v", s)
		}
	}
	if n := countMethod(f, http.MethodPost, "/api/v2/connections"); n != 0 {
		t.Errorf("%d single creates after the lost answer, want 0 (adopted)", n)
	}
}

// Updates that set the password and deletes go in the same batch; a
// delete of a missing connection fails alone with Airflow's 404.
func TestBulk_updatesAndDeletes(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	calls := f.serveBulk(nil)
	for i := range 4 {
		f.seed(*sampleConn(i))
	}
	c := bulkClient(t, f)
	errs := atOnce(5, func(i int) error {
		switch i {
		case 0, 1:
			conn := sampleConn(i)
			conn.Password = ptr("new")
			got, err := c.UpdateConnection(t.Context(), conn, []string{FieldPassword})
			if err == nil && *got.Password != MaskedValue {
				return fmt.Errorf("answer's password %q, want masked", *got.Password)
			}
			return err
		case 4:
			return c.DeleteConnection(t.Context(), "missing")
		}
		return c.DeleteConnection(t.Context(), fmt.Sprintf("c%d", i))
	})
	for i, err := range errs[:4] {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if !IsNotFound(errs[4]) {
		t.Errorf("delete of a missing connection: %v, want 404", errs[4])
	}
	if *f.stored("c0").Password != "new" || *f.stored("c1").Password != "new" {
		t.Error("passwords not updated")
	}
	f.mu.Lock()
	_, c2 := f.conns["c2"]
	_, c3 := f.conns["c3"]
	f.mu.Unlock()
	if c2 || c3 {
		t.Error("c2 or c3 not deleted")
	}
	if *calls != 1 {
		t.Errorf("%d bulk requests, want 1", *calls)
	}
}

// Airflow 2 has no bulk endpoint: writes stay single.
func TestBulk_airflow2WritesAlone(t *testing.T) {
	f := newFakeAirflow(t, VersionV1)
	c := bulkClient(t, f)
	for i, err := range atOnce(3, func(i int) error { _, err := c.CreateConnection(t.Context(), sampleConn(i)); return err }) {
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	if n := countMethod(f, http.MethodPost, "/api/v1/connections"); n != 3 {
		t.Errorf("%d POSTs, want 3", n)
	}
	if n := countMethod(f, http.MethodPatch, "/api/v1/connections"); n != 0 {
		t.Errorf("%d bulk requests on Airflow 2", n)
	}
}

// The body has Airflow's shape: deletes, updates per mask, then creates,
// each with its existence policy.
func TestBulkRequest_shape(t *testing.T) {
	batch := []*bulkOp{
		{kind: bulkCreate, id: "a", conn: &Connection{ConnectionID: "a", ConnType: "http"}},
		{kind: bulkDelete, id: "b"},
		{kind: bulkUpdate, id: "c", conn: &Connection{ConnectionID: "c", ConnType: "http", Password: ptr("p")}, mask: []string{FieldPassword}},
	}
	raw, err := json.Marshal(bulkRequest(batch))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"actions":[{"action":"delete","entities":["b"],"action_on_non_existence":"fail"},` +
		`{"action":"update","entities":[{"connection_id":"c","conn_type":"http","description":null,"host":null,"login":null,"schema":null,"port":null,"password":"p","extra":null}],"action_on_non_existence":"fail","update_mask":["password"]},` +
		`{"action":"create","entities":[{"connection_id":"a","conn_type":"http","description":null,"host":null,"login":null,"schema":null,"port":null,"extra":null}],"action_on_existence":"fail"}]}`
	if string(raw) != want {
		t.Errorf("body\n got %s\nwant %s", raw, want)
	}
}

// A write alone in its batch whose answer is lost is adopted: re-sending
// its password goes alone too, not queued behind its own flight.
func TestBulk_loneCreateWithLostAnswerIsAdopted(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.serveBulk(nil)
	f.loseAnswer = loseFirst(http.MethodPost, hangUp(true))
	c := bulkClient(t, f)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := c.CreateConnection(ctx, sampleConn(0)); err != nil {
		t.Fatalf("create: %v", err)
	}
	if got := f.stored("c0"); *got.Password != "pw-0" {
		t.Errorf("stored %+v", got)
	}
}

// Writes handed over one every 15 ms share requests: they gather in the
// window.
func TestBulk_writesHandedOverSlowlyShareRequests(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	calls := f.serveBulk(nil)
	f.intercept = func(_ http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			time.Sleep(40 * time.Millisecond)
		}
		return false
	}
	c := bulkClient(t, f)
	const n = 20
	errs := atOnce(n, func(i int) error {
		time.Sleep(time.Duration(i) * 15 * time.Millisecond)
		_, err := c.CreateConnection(t.Context(), sampleConn(i))
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	requests := *calls + countMethod(f, http.MethodPost, "/api/v2/connections")
	if requests > n/2 {
		t.Errorf("%d requests for %d writes, want at most %d", requests, n, n/2)
	}
	t.Logf("%d requests (%d bulk) for %d writes", requests, *calls, n)
}

// Once a batch's timer has shown how many writes come at once (Terraform's
// -parallelism), a batch holding that many is sent without waiting out its
// timer: no other write can come until one is answered.
func TestBulk_batchOfAllCallersGoesAtOnce(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	calls := f.serveBulk(nil)
	c := bulkClient(t, f)
	c.bulk.quiet, c.bulk.maxWait = 200*time.Millisecond, 200*time.Millisecond
	const callers = 5
	for i, err := range atOnce(callers, func(i int) error {
		_, err := c.CreateConnection(t.Context(), sampleConn(i))
		return err
	}) {
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	// From now on a batch would wait an hour for its timer.
	c.bulk.mu.Lock()
	c.bulk.quiet, c.bulk.maxWait = time.Hour, time.Hour
	c.bulk.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i, err := range atOnce(callers, func(i int) error {
		_, err := c.CreateConnection(ctx, sampleConn(callers+i))
		return err
	}) {
		if err != nil {
			t.Fatalf("create %d of the second wave (it waited for its timer): %v", i, err)
		}
	}
	if *calls != 2 {
		t.Errorf("%d bulk requests for two waves of %d, want 2", *calls, callers)
	}
}

// A slow start does not set the batch size for good: two writes alone at
// first, then ten writers each handing over its next write once the last is
// answered (as Terraform's ten slots do) still share batches of about ten (at most 30 requests for 100 writes).
// Learnt only when a timer fired, the most waiting stuck at two; counted
// down as each caller returned, a writer answered first found its batch's
// other writes still waiting and sent its next write alone.
func TestBulk_slowStartDoesNotShrinkBatches(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	calls := f.serveBulk(nil)
	c := bulkClient(t, f)
	c.bulk.quiet, c.bulk.maxWait = 50*time.Millisecond, 50*time.Millisecond
	for i, err := range atOnce(2, func(i int) error {
		_, err := c.CreateConnection(t.Context(), sampleConn(i))
		return err
	}) {
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	const writers, each = 10, 10
	for w, err := range atOnce(writers, func(w int) error {
		for k := range each {
			if _, err := c.CreateConnection(t.Context(), sampleConn(100+w*each+k)); err != nil {
				return err
			}
		}
		return nil
	}) {
		if err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
	}
	alone := countMethod(f, http.MethodPost, "/api/v2/connections")
	t.Logf("%d bulk requests, %d alone", *calls, alone)
	if total := *calls + alone; total > 30 {
		t.Errorf("%d requests (%d bulk, %d alone) for %d writes by %d writers, want at most 30", total, *calls, alone, writers*each, writers)
	}
}
