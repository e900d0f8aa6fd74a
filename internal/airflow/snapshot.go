package airflow

import (
	"context"
	"errors"
	"sync"
)

// SnapshotAfter is how many connections ReadConnection reads one by one
// before it reads them all, a page of 100 at a time, into a snapshot: a
// refresh of N connections then costs at most SnapshotAfter + ceil(N/100)
// requests (plus the one login, and one for each connection the listing
// lacks) instead of N.
const SnapshotAfter = 2

// listPageSize is the largest page Airflow serves.
const listPageSize = 100

// snapshot is the connections this process listed, for refreshes. Any write
// the process makes drops it.
type snapshot struct {
	mu      sync.Mutex
	reads   int                    // one-by-one reads so far
	conns   map[string]*Connection // nil: no snapshot
	loading chan struct{}          // non-nil while a load is in progress
	failed  bool                   // a load failed: read one by one from now on
	gen     int                    // bumped by every write, so a load that raced one is dropped
}

// ReadConnection reads a connection for a refresh. On Airflow 3 it reads the
// first SnapshotAfter connections one by one and then all of them through
// the list endpoint, once, serving the rest from that snapshot; on Airflow 2,
// whose list leaves out extras, it always reads one by one. A connection the
// snapshot lacks is read by itself, so that only Airflow's own 404 says it
// is gone. The snapshot holds what Airflow returns, masked values included,
// exactly as GetConnection.
func (c *Client) ReadConnection(ctx context.Context, id string) (*Connection, error) {
	version, err := c.APIVersion(ctx)
	if err != nil {
		return nil, err
	}
	if version != VersionV2 {
		return c.GetConnection(ctx, id)
	}
	s := &c.snap
	for {
		s.mu.Lock()
		if s.conns != nil {
			conn, ok := s.conns[id]
			s.mu.Unlock()
			if !ok {
				// Missing from the listing: asked for by itself before it is
				// called gone, since a gone connection leaves the state.
				return c.GetConnection(ctx, id)
			}
			copied := *conn
			return &copied, nil
		}
		if s.failed || s.reads < SnapshotAfter {
			s.reads++
			s.mu.Unlock()
			return c.GetConnection(ctx, id)
		}
		if wait := s.loading; wait != nil {
			s.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		s.loading = done
		gen := s.gen
		s.mu.Unlock()

		conns, err := c.listAll(ctx)
		s.mu.Lock()
		switch {
		case err != nil:
			s.failed = true
			c.log(ctx, "listing connections failed; reading them one by one", map[string]any{"error": err.Error()})
		case gen == s.gen:
			s.conns = conns
			c.log(ctx, "read connections into a snapshot", map[string]any{"connections": len(conns)})
		}
		s.loading = nil
		close(done)
		s.mu.Unlock()
	}
}

// listConcurrency is how many list pages after the first are read at once.
const listConcurrency = 4

// listAll reads every connection through the list endpoint. A listing that
// does not add up (see listOnce) is read once more; a second one is an
// error, and the reads fall back to one by one.
func (c *Client) listAll(ctx context.Context) (map[string]*Connection, error) {
	for attempt := 1; ; attempt++ {
		conns, err := c.listOnce(ctx)
		if err == nil || attempt == 2 || !errors.Is(err, errListingMoved) {
			return conns, err
		}
		c.log(ctx, "the connection listing did not add up; listing again", map[string]any{"error": err.Error()})
	}
}

// errListingMoved is a listing whose pages do not add up to its total.
var errListingMoved = errors.New("the list pages did not add up to total_entries (connections created or deleted meanwhile)")

// listOnce reads every connection, the pages after the first
// listConcurrency at a time. The first page gives the total and the page
// size: Airflow clamps limit to its [api] maximum_page_limit (100 by
// default) while total_entries counts every connection
// (https://airflow.apache.org/docs/apache-airflow/stable/security/api.html#page-size-limit),
// so a page shorter than the limit asked for is not the last. Pages that
// disagree on the total, or a union smaller than it, mean the rows moved
// between pages: errListingMoved.
func (c *Client) listOnce(ctx context.Context) (map[string]*Connection, error) {
	first, err := c.ListConnections(ctx, listPageSize, 0)
	if err != nil {
		return nil, err
	}
	total, size := first.TotalEntries, len(first.Connections)
	pages := []*ConnectionList{first}
	if size > 0 && size < total {
		rest, err := c.listPages(ctx, size, (total-1)/size)
		if err != nil {
			return nil, err
		}
		pages = append(pages, rest...)
	}
	conns := make(map[string]*Connection, total)
	for _, page := range pages {
		if page.TotalEntries != total {
			return nil, errListingMoved
		}
		for i := range page.Connections {
			conn := page.Connections[i]
			conns[conn.ConnectionID] = &conn
		}
	}
	if len(conns) != total {
		return nil, errListingMoved
	}
	return conns, nil
}

// listPages reads the n pages of size after the first, listConcurrency at
// a time; the first error stops the rest.
func (c *Client) listPages(ctx context.Context, size, n int) ([]*ConnectionList, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make([]*ConnectionList, n)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	slots := make(chan struct{}, listConcurrency)
	for i := range pages {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			if ctx.Err() != nil {
				return
			}
			page, err := c.ListConnections(ctx, size, (i+1)*size)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				cancel()
				return
			}
			pages[i] = page
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return pages, firstErr
}

// invalidateSnapshot drops the snapshot: this process changed a connection.
func (c *Client) invalidateSnapshot() {
	c.snap.mu.Lock()
	defer c.snap.mu.Unlock()
	c.snap.conns = nil
	c.snap.gen++
}
