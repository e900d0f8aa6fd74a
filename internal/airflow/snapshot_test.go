package airflow

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countRequests counts the API requests of f by method and path prefix.
func countRequests(f *fakeAirflow) (gets, lists, logins int) {
	for _, r := range f.recorded() {
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/connections"):
			lists++
		case r.Method == http.MethodGet && strings.Contains(r.Path, "/connections/"):
			gets++
		}
	}
	return gets, lists, int(f.tokenCalls.Load())
}

// Reading 250 connections concurrently on Airflow 3 costs SnapshotAfter
// reads one by one, three list pages and one login; each answer equals
// GetConnection's.
func TestReadConnection_snapshotOnAirflow3(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	const n = 250
	for i := range n {
		f.seed(Connection{ConnectionID: fmt.Sprintf("c%03d", i), ConnType: "http", Password: ptr("secret"),
			Extra: ptr(`{"token": "t", "region": "eu"}`)})
	}
	c := f.client(t)
	got := make([]*Connection, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			conn, err := c.ReadConnection(context.Background(), fmt.Sprintf("c%03d", i))
			if err != nil {
				errs <- err
			}
			got[i] = conn
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	gets, lists, logins := countRequests(f)
	if gets > SnapshotAfter || lists != 3 || logins != 1 {
		t.Errorf("one-by-one reads %d (max %d), list pages %d (want 3), logins %d (want 1)", gets, SnapshotAfter, lists, logins)
	}
	direct, err := c.GetConnection(context.Background(), "c123")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(got[123])
	b, _ := json.Marshal(direct)
	if string(a) != string(b) || *got[123].Password != MaskedValue {
		t.Errorf("snapshot gave %s, GetConnection %s", a, b)
	}

	// A connection the snapshot lacks is asked for by itself: a 404 is
	// Airflow's, and one created since the listing is found.
	if _, err := c.ReadConnection(context.Background(), "missing"); !IsNotFound(err) {
		t.Errorf("missing connection: %v, want a 404", err)
	}
	f.seed(Connection{ConnectionID: "created-since", ConnType: "http"})
	if conn, err := c.ReadConnection(context.Background(), "created-since"); err != nil || conn.ConnType != "http" {
		t.Errorf("connection created after the listing: %+v, %v", conn, err)
	}
	if gets2, _, _ := countRequests(f); gets2 != gets+3 {
		t.Errorf("one-by-one reads after the listing: %d, want 3 (the comparison and the two missing)", gets2-gets)
	}
}

// readAll reads the connections c000..c(n-1) concurrently, failing the
// test on an error.
func readAll(t *testing.T, c *Client, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if _, err := c.ReadConnection(context.Background(), fmt.Sprintf("c%03d", i)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// An Airflow whose [api] maximum_page_limit is below 100 serves shorter
// pages under the same total_entries; the listing steps by the page it
// gets, so no connection is missing from the snapshot.
func TestReadConnection_snapshotWithSmallerMaximumPageLimit(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	f.maxPageLimit = 30
	const n = 250
	for i := range n {
		f.seed(Connection{ConnectionID: fmt.Sprintf("c%03d", i), ConnType: "http"})
	}
	c := f.client(t)
	readAll(t, c, n)
	gets, lists, _ := countRequests(f)
	if gets > SnapshotAfter || lists != 9 {
		t.Errorf("one-by-one reads %d (max %d), list pages %d (want ceil(250/30) = 9)", gets, SnapshotAfter, lists)
	}
}

// The pages after the first are read at the same time.
func TestReadConnection_listPagesConcurrently(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	for i := range 500 {
		f.seed(Connection{ConnectionID: fmt.Sprintf("c%03d", i), ConnType: "http"})
	}
	var inFlight, most atomic.Int64
	f.before = func(_ http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/connections") && r.URL.Query().Get("offset") != "" {
			now := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
			}
			// Held until another page is asked for, or for a second.
			deadline := time.Now().Add(time.Second)
			for most.Load() < 2 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}
		return false
	}
	c := f.client(t)
	readAll(t, c, 500)
	if most.Load() < 2 {
		t.Errorf("at most %d list pages in flight, want several", most.Load())
	}
	if _, lists, _ := countRequests(f); lists != 5 {
		t.Errorf("list pages %d, want 5", lists)
	}
}

// A connection created before the page being read shifts the rows: the
// pages do not add up, the listing is read again, and nothing is missing.
func TestReadConnection_listingThatMovedIsReadAgain(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	const n = 250
	for i := range n {
		f.seed(Connection{ConnectionID: fmt.Sprintf("c%03d", i), ConnType: "http"})
	}
	var once sync.Once
	f.before = func(_ http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/connections") && r.URL.Query().Get("offset") == "200" {
			once.Do(func() { f.seed(Connection{ConnectionID: "a-first", ConnType: "http"}) })
		}
		return false
	}
	c := f.client(t)
	readAll(t, c, n)
	if _, lists, _ := countRequests(f); lists != 6 {
		t.Errorf("list pages %d, want 6 (two listings of 3)", lists)
	}
	if gets, _, _ := countRequests(f); gets > SnapshotAfter {
		t.Errorf("one-by-one reads %d, want at most %d", gets, SnapshotAfter)
	}
}

// A write drops the snapshot: the next reads see Airflow again.
func TestReadConnection_writesInvalidate(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	for i := range 5 {
		f.seed(Connection{ConnectionID: fmt.Sprintf("c%d", i), ConnType: "http"})
	}
	c := f.client(t)
	ctx := context.Background()
	for i := range 5 {
		if _, err := c.ReadConnection(ctx, fmt.Sprintf("c%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.UpdateConnection(ctx, &Connection{ConnectionID: "c4", ConnType: "postgres"}, []string{FieldConnType}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateConnection(ctx, &Connection{ConnectionID: "new", ConnType: "http"}); err != nil {
		t.Fatal(err)
	}
	conn, err := c.ReadConnection(ctx, "c4")
	if err != nil || conn.ConnType != "postgres" {
		t.Fatalf("after an update: %+v, %v", conn, err)
	}
	if _, err := c.ReadConnection(ctx, "new"); err != nil {
		t.Fatalf("after a create: %v", err)
	}
}

// Airflow 2's list leaves out extras, so every read is one by one.
func TestReadConnection_oneByOneOnAirflow2(t *testing.T) {
	f := newFakeAirflow(t, VersionV1)
	for i := range 10 {
		f.seed(Connection{ConnectionID: fmt.Sprintf("c%d", i), ConnType: "http", Extra: ptr(`{"a": "b"}`)})
	}
	c := f.client(t)
	for i := range 10 {
		conn, err := c.ReadConnection(context.Background(), fmt.Sprintf("c%d", i))
		if err != nil || conn.Extra == nil {
			t.Fatalf("c%d: %+v, %v", i, conn, err)
		}
	}
	if gets, lists, _ := countRequests(f); gets != 10 || lists != 0 {
		t.Errorf("gets %d, lists %d; want 10, 0", gets, lists)
	}
}

// A failed list falls back to one-by-one reads.
func TestReadConnection_listFailureFallsBack(t *testing.T) {
	f := newFakeAirflow(t, VersionV2)
	for i := range 6 {
		f.seed(Connection{ConnectionID: fmt.Sprintf("c%d", i), ConnType: "http"})
	}
	f.before = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/connections") && r.Method == http.MethodGet {
			writeProblem(w, http.StatusForbidden, "listing is forbidden here")
			return true
		}
		return false
	}
	c := f.client(t)
	for i := range 6 {
		if _, err := c.ReadConnection(context.Background(), fmt.Sprintf("c%d", i)); err != nil {
			t.Fatal(err)
		}
	}
}
