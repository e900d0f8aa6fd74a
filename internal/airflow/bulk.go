package airflow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bulk writes on Airflow 3. Creates, updates and deletes issued at the same
// time (Terraform applies up to ten resources at once) are gathered for
// a few milliseconds (bulkQuiet, bulkMaxWait) and sent as one PATCH /api/v2/connections, whose body is a
// list of actions (create, update, delete), each with its entities, and
// whose answer gives, per action, the ids that succeeded and the errors.
// The shapes are Airflow's BulkBody and BulkResponse
// (https://github.com/apache/airflow/blob/3.3.2/airflow-core/src/airflow/api_fastapi/core_api/datamodels/common.py)
// served by bulk_connections
// (https://github.com/apache/airflow/blob/3.3.2/airflow-core/src/airflow/api_fastapi/core_api/routes/public/connections.py).
//
// Airflow judges an action as a whole
// (https://github.com/apache/airflow/blob/3.3.2/airflow-core/src/airflow/api_fastapi/core_api/services/public/connections.py):
// with action_on_existence "fail", one existing connection fails the whole
// create action, and likewise one missing connection an update or delete
// action, before any entity is written. So an entity that is not among an
// action's successes is sent again on its own, and gets Airflow's own
// answer for it alone: one bad entity fails only its resource. A bulk
// request that fails as a whole (an entity Airflow cannot parse fails the
// body's validation, 422) falls back to single requests the same way; a
// server without the endpoint (404, 405), or that does not let this user
// write connections in bulk (403), is not asked again.
//
// A lost answer is resolved as for single creates (adopt.go): when an
// attempt of the bulk request may have reached Airflow, each create that
// is not confirmed is settled by reading the connection; updates and
// deletes are repeated, which is harmless.
//
// Airflow answers a bulk write with ids only; the connection each resource
// gets is the one it sent as the single answer would show it: the password
// masked, an empty extra stored as "{}" (ConnectionBody.validate_extra).
// Extra stays unmasked, which is what the resource makes of a masked
// answer with the configuration it sent.

const (
	// Terraform hands writes over at the pace of its own work, whatever
	// the provider does: measured at N = 1,000 with the no-op plugin floor
	// (make bench), about one create every 35 ms and one delete every
	// 50 ms, in bursts. So a batch waits for its writes: it goes when all
	// of Terraform's parallel writes are waiting on it (bulker.callers),
	// else bulkQuiet after its last write or bulkMaxWait after its first,
	// or at once when it holds maxBulkEntities. At Terraform's default
	// parallelism batches then hold ten writes. A lone write, as in a plan
	// that changes one connection, waits bulkQuiet.
	bulkQuiet   = 150 * time.Millisecond
	bulkMaxWait = 500 * time.Millisecond
	// maxBulkEntities sends a batch at once when it is this large.
	maxBulkEntities = 100
)

const (
	bulkCreate = "create"
	bulkUpdate = "update"
	bulkDelete = "delete"
)

// bulkOp is one write waiting for its batch.
type bulkOp struct {
	ctx  context.Context
	kind string
	conn *Connection // create and update
	id   string
	mask []string // update

	done chan struct{}
	// alone is set when the op was sent alone (its batch had no other),
	// with its answer in result and err.
	alone  bool
	result *Connection
	err    error
	// confirmed is set when Airflow listed the entity among the successes.
	confirmed bool
	// uncertain is set when an attempt of the bulk request may have acted
	// on the entity without saying so.
	uncertain bool
}

// bulker gathers the writes of one client.
type bulker struct {
	mu      sync.Mutex
	pending []*bulkOp
	first   time.Time   // when the pending batch's first write came
	timer   *time.Timer // sends the pending batch
	// waiting counts the writes handed over whose batch is not yet
	// answered, queued or in flight. callers is the most that were ever
	// waiting at once: as many writes as Terraform hands over at once (its
	// -parallelism), as far as this process has seen. When that many are
	// waiting again, no other write can come until one is answered, so the
	// batch goes at once instead of waiting out its timer. A write that
	// makes a new most does not send its batch: more may come, and the
	// timer decides. (A most learnt only when a timer fired could stick
	// low: learnt as 2 in a slow start, it sent every second write, and an
	// apply of 1,000 connections in a noisy make bench made 656 requests.)
	waiting, callers int
	// quiet and maxWait replace bulkQuiet and bulkMaxWait when set (tests).
	quiet, maxWait time.Duration
	// unsupported is set once Airflow answered the bulk endpoint 404, 405
	// or 403: every later write goes alone.
	unsupported atomic.Bool
}

// bulkAction is one action of a BulkBody.
type bulkAction struct {
	Action              string   `json:"action"`
	Entities            []any    `json:"entities"`
	ActionOnExistence   string   `json:"action_on_existence,omitempty"`
	ActionOnNonExistent string   `json:"action_on_non_existence,omitempty"`
	UpdateMask          []string `json:"update_mask,omitempty"`
}

type bulkBody struct {
	Actions []bulkAction `json:"actions"`
}

// bulkActionResponse is one action's answer: the ids that succeeded, and
// errors ({"error": ..., "status_code": ...}) that name no entity.
type bulkActionResponse struct {
	Success []string         `json:"success"`
	Errors  []map[string]any `json:"errors"`
}

type bulkResponse struct {
	Create *bulkActionResponse `json:"create"`
	Update *bulkActionResponse `json:"update"`
	Delete *bulkActionResponse `json:"delete"`
}

// bulkOn reports whether this write goes through a batch: bulk writes are
// enabled, the server is Airflow 3, and it has the endpoint.
func (c *Client) bulkOn(ctx context.Context) bool {
	if !c.bulkWrites || c.bulk.unsupported.Load() || ctx.Value(aloneKey{}) != nil {
		return false
	}
	version, err := c.APIVersion(ctx)
	return err == nil && version == VersionV2
}

// bulkWrite queues op, waits for its batch and returns its result, sending
// it alone when the batch did not confirm it.
func (c *Client) bulkWrite(ctx context.Context, op *bulkOp) (*Connection, error) {
	op.ctx, op.done = ctx, make(chan struct{})
	c.bulk.add(c, op)
	select {
	case <-op.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	switch {
	case op.alone:
		return op.result, op.err
	case op.confirmed:
		return bulkAnswer(op), nil
	}
	return c.writeAlone(ctx, op)
}

func (b *bulker) add(c *Client, op *bulkOp) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if slices.ContainsFunc(b.pending, func(p *bulkOp) bool { return p.id == op.id }) {
		// Two writes of one connection never share a batch: the first
		// batch goes now.
		go c.sendBatch(b.take())
	}
	b.pending = append(b.pending, op)
	b.waiting++
	now := time.Now()
	if len(b.pending) == 1 {
		b.first = now
	}
	allWaiting := b.callers > 1 && b.waiting == b.callers
	b.callers = max(b.callers, b.waiting)
	if len(b.pending) >= maxBulkEntities || allWaiting {
		go c.sendBatch(b.take())
		return
	}
	quiet, maxWait := cmp.Or(b.quiet, bulkQuiet), cmp.Or(b.maxWait, bulkMaxWait)
	wait := max(0, min(quiet, b.first.Add(maxWait).Sub(now)))
	if b.timer == nil {
		b.timer = time.AfterFunc(wait, func() {
			b.mu.Lock()
			batch := b.take()
			b.mu.Unlock()
			c.sendBatch(batch)
		})
		return
	}
	b.timer.Reset(wait)
}

// answered counts the writes of a batch answered, all at once: a caller
// answered first that hands over its next write at once must not find its
// batch's other writes still counted as waiting.
func (b *bulker) answered(n int) {
	b.mu.Lock()
	b.waiting -= n
	b.mu.Unlock()
}

// take empties the pending batch; b.mu is held.
func (b *bulker) take() []*bulkOp {
	batch := b.pending
	b.pending = nil
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	return batch
}

// sendBatch sends one bulk request for batch and marks each op confirmed,
// or not (to be sent alone), and whether its fate is uncertain.
func (c *Client) sendBatch(batch []*bulkOp) {
	if len(batch) == 0 {
		return
	}
	defer func() {
		c.bulk.answered(len(batch))
		for _, op := range batch {
			close(op.done)
		}
	}()
	if len(batch) == 1 {
		// Alone in its batch, it is sent alone, with Airflow's own answer.
		op := batch[0]
		op.result, op.err = c.writeAlone(op.ctx, op)
		op.alone = true
		return
	}
	// The request outlives any one caller's cancellation; each caller
	// stops waiting on its own.
	ctx := context.WithoutCancel(batch[0].ctx)
	var resp bulkResponse
	uncertain, err := c.do(ctx, http.MethodPatch, "/connections", nil, bulkRequest(batch), &resp, true)
	c.log(ctx, "sent a bulk write of connections", map[string]any{"entities": len(batch), "failed": err != nil})
	if err != nil {
		if hasStatus(err, http.StatusNotFound) || hasStatus(err, http.StatusMethodNotAllowed) || hasStatus(err, http.StatusForbidden) {
			c.bulk.unsupported.Store(true)
		}
		var apiErr *APIError
		// An answer from Airflow (not a lost one) acted on nothing.
		lost := uncertain || !errors.As(err, &apiErr)
		for _, op := range batch {
			op.uncertain = lost
		}
		return
	}
	done := map[string]map[string]bool{}
	for kind, r := range map[string]*bulkActionResponse{bulkCreate: resp.Create, bulkUpdate: resp.Update, bulkDelete: resp.Delete} {
		if r != nil {
			done[kind] = map[string]bool{}
			for _, id := range r.Success {
				done[kind][id] = true
			}
		}
	}
	for _, op := range batch {
		op.confirmed = done[op.kind][op.id]
		op.uncertain = uncertain
	}
}

// bulkRequest is the body for batch: deletes, then one update action per
// update mask, then creates.
func bulkRequest(batch []*bulkOp) bulkBody {
	var body bulkBody
	var deletes, creates []any
	updates := map[string]*bulkAction{}
	var masks []string
	for _, op := range batch {
		switch op.kind {
		case bulkDelete:
			deletes = append(deletes, op.id)
		case bulkCreate:
			creates = append(creates, op.conn)
		case bulkUpdate:
			k := strings.Join(op.mask, ",")
			if updates[k] == nil {
				updates[k] = &bulkAction{Action: bulkUpdate, ActionOnNonExistent: "fail", UpdateMask: op.mask}
				masks = append(masks, k)
			}
			updates[k].Entities = append(updates[k].Entities, op.conn)
		}
	}
	if len(deletes) > 0 {
		body.Actions = append(body.Actions, bulkAction{Action: bulkDelete, Entities: deletes, ActionOnNonExistent: "fail"})
	}
	for _, k := range masks {
		body.Actions = append(body.Actions, *updates[k])
	}
	if len(creates) > 0 {
		body.Actions = append(body.Actions, bulkAction{Action: bulkCreate, Entities: creates, ActionOnExistence: "fail"})
	}
	return body
}

// bulkAnswer is the connection a confirmed write returns: what a single
// write's answer would have said.
func bulkAnswer(op *bulkOp) *Connection {
	if op.kind == bulkDelete {
		return nil
	}
	out := *op.conn
	if out.Password != nil {
		masked := MaskedValue
		out.Password = &masked
	}
	if out.Extra != nil && *out.Extra == "" {
		empty := "{}"
		out.Extra = &empty
	}
	return &out
}

// aloneKey marks the context of a write sent alone: what it writes in turn
// (an adopted create re-sends its secrets) goes alone too, never queued
// behind the batch in flight that may be this very write.
type aloneKey struct{}

// writeAlone sends an op the batch did not confirm as a single request. A
// create that a lost bulk answer may have made is settled by reading it.
func (c *Client) writeAlone(ctx context.Context, op *bulkOp) (*Connection, error) {
	ctx = context.WithValue(ctx, aloneKey{}, true)
	switch op.kind {
	case bulkDelete:
		err := c.deleteOne(ctx, op.id)
		if op.uncertain && IsNotFound(err) {
			return nil, nil // the bulk request deleted it
		}
		return nil, err
	case bulkUpdate:
		return c.updateOne(ctx, op.conn, op.mask)
	}
	if !op.uncertain {
		return c.createOne(ctx, op.conn)
	}
	_, err := c.GetConnection(ctx, op.id)
	if IsNotFound(err) {
		return c.createOne(ctx, op.conn)
	}
	lost := fmt.Errorf("creating Airflow connection %q: a bulk request whose answer was lost may have created it", op.id)
	return c.resolveCreate(ctx, op.conn, lost)
}
