package airflow

import (
	"context"
	"fmt"
	"net/http"
	"sync"
)

// SnapshotAfter is how many connections ReadConnection reads one by one
// before it reads them all, a page of 100 at a time, into a snapshot: a
// refresh of N connections then costs at most SnapshotAfter + ceil(N/100)
// requests (plus the one login) instead of N.
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
// snapshot lacks is a 404, as GetConnection would say. The snapshot holds
// what Airflow returns, masked values included, exactly as GetConnection.
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
				return nil, &APIError{Method: http.MethodGet, URL: c.endpoint + "/api/v2" + connectionPath(id),
					StatusCode: http.StatusNotFound, Detail: fmt.Sprintf("The Connection with connection_id: `%s` was not found (in the listed connections)", id)}
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

// listAll reads every connection through the list endpoint.
func (c *Client) listAll(ctx context.Context) (map[string]*Connection, error) {
	conns := map[string]*Connection{}
	for offset := 0; ; offset += listPageSize {
		page, err := c.ListConnections(ctx, listPageSize, offset)
		if err != nil {
			return nil, err
		}
		for i := range page.Connections {
			conn := page.Connections[i]
			conns[conn.ConnectionID] = &conn
		}
		if len(page.Connections) < listPageSize || offset+len(page.Connections) >= page.TotalEntries {
			return conns, nil
		}
	}
}

// invalidateSnapshot drops the snapshot: this process changed a connection.
func (c *Client) invalidateSnapshot() {
	c.snap.mu.Lock()
	defer c.snap.mu.Unlock()
	c.snap.conns = nil
	c.snap.gen++
}
