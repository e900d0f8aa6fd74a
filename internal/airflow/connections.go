package airflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// MaskedValue is what Airflow returns in place of a secret: the password on
// Airflow 3, and sensitive values inside extra.
const MaskedValue = "***"

// Field names accepted in the update mask of UpdateConnection.
const (
	FieldConnType    = "conn_type"
	FieldDescription = "description"
	FieldHost        = "host"
	FieldLogin       = "login"
	FieldSchema      = "schema"
	FieldPort        = "port"
	FieldPassword    = "password"
	FieldExtra       = "extra"
)

var updatableFields = map[string]bool{
	FieldConnType: true, FieldDescription: true, FieldHost: true, FieldLogin: true,
	FieldSchema: true, FieldPort: true, FieldPassword: true, FieldExtra: true,
}

// Connection is an Airflow connection as the REST API sends and receives
// it. Nil pointers are JSON null, except Password, which is omitted when
// nil because Airflow 2 rejects a null password.
//
// In answers, Password is MaskedValue (Airflow 3) when a password is set,
// nil when none is, and always nil on Airflow 2, which never returns it.
// Extra is a JSON object encoded as a string, with sensitive values
// replaced by MaskedValue; Airflow 2 leaves it out of list answers.
type Connection struct {
	ConnectionID string  `json:"connection_id"`
	ConnType     string  `json:"conn_type"`
	Description  *string `json:"description"`
	Host         *string `json:"host"`
	Login        *string `json:"login"`
	Schema       *string `json:"schema"`
	Port         *int64  `json:"port"`
	Password     *string `json:"password,omitempty"`
	Extra        *string `json:"extra"`
}

// ConnectionList is one page of connections.
type ConnectionList struct {
	Connections  []Connection `json:"connections"`
	TotalEntries int          `json:"total_entries"`
}

// connectionPath is the escaped path of one connection. "." and ".." are
// percent-encoded too, so that no client or proxy treats them as dot
// segments.
func connectionPath(id string) string {
	escaped := url.PathEscape(id)
	if id == "." || id == ".." {
		escaped = strings.ReplaceAll(escaped, ".", "%2E")
	}
	return "/connections/" + escaped
}

// GetConnection returns the connection with the given id. A missing
// connection is an *APIError for which IsNotFound is true.
func (c *Client) GetConnection(ctx context.Context, id string) (*Connection, error) {
	if id == "" {
		return nil, errors.New("getting Airflow connection: connection id is empty")
	}
	var conn Connection
	if err := c.call(ctx, http.MethodGet, connectionPath(id), nil, nil, &conn); err != nil {
		return nil, err
	}
	return &conn, nil
}

// CreateConnection creates conn and returns the connection as Airflow
// returned it. An existing connection with the same id is an *APIError for
// which IsConflict is true.
//
// The POST is retried like an idempotent request, and the repeat is
// resolved by reading: when an attempt whose answer was lost may have
// created the connection and the repeat is answered 409 (or the attempts
// run out), the connection is read and adopted when it is the one sent
// (see resolveCreate). A 409 to a first attempt is a real conflict.
func (c *Client) CreateConnection(ctx context.Context, conn *Connection) (*Connection, error) {
	defer c.invalidateSnapshot()
	if conn == nil || conn.ConnectionID == "" {
		return nil, errors.New("creating Airflow connection: connection id is empty")
	}
	if c.bulkOn(ctx) {
		return c.bulkWrite(ctx, &bulkOp{kind: bulkCreate, conn: conn, id: conn.ConnectionID})
	}
	return c.createOne(ctx, conn)
}

// createOne is CreateConnection as a single request.
func (c *Client) createOne(ctx context.Context, conn *Connection) (*Connection, error) {
	var created Connection
	uncertain, err := c.do(ctx, http.MethodPost, "/connections", nil, conn, &created, true)
	switch {
	case err == nil:
		return &created, nil
	case outcomeUnknown(uncertain, err):
		return c.resolveCreate(ctx, conn, err)
	default:
		return nil, err
	}
}

// UpdateConnection sends conn in full with PATCH and asks Airflow to change
// only the fields named in updateMask (see the Field constants). An empty
// mask sends no update_mask, which Airflow treats as "update every field".
// It returns the connection as Airflow returned it.
//
// The two APIs read the mask differently: Airflow 3 takes the parameter
// repeated (update_mask=a&update_mask=b), while Airflow 2 reads one
// comma-separated value and keeps only the last of repeated ones.
func (c *Client) UpdateConnection(ctx context.Context, conn *Connection, updateMask []string) (*Connection, error) {
	defer c.invalidateSnapshot()
	if conn == nil || conn.ConnectionID == "" {
		return nil, errors.New("updating Airflow connection: connection id is empty")
	}
	for _, field := range updateMask {
		if !updatableFields[field] {
			return nil, fmt.Errorf("updating Airflow connection %q: %q cannot be used in an update mask", conn.ConnectionID, field)
		}
	}
	if slices.Contains(updateMask, FieldPassword) && c.bulkOn(ctx) {
		// Only an update that sets the password knows what the answer
		// says of it; others go alone.
		return c.bulkWrite(ctx, &bulkOp{kind: bulkUpdate, conn: conn, id: conn.ConnectionID, mask: updateMask})
	}
	return c.updateOne(ctx, conn, updateMask)
}

// updateOne is UpdateConnection as a single request.
func (c *Client) updateOne(ctx context.Context, conn *Connection, updateMask []string) (*Connection, error) {
	query := url.Values{}
	if len(updateMask) > 0 {
		version, err := c.APIVersion(ctx)
		if err != nil {
			return nil, err
		}
		if version == VersionV1 {
			query.Set("update_mask", strings.Join(updateMask, ","))
		} else {
			query["update_mask"] = append([]string(nil), updateMask...)
		}
	}
	var updated Connection
	if err := c.call(ctx, http.MethodPatch, connectionPath(conn.ConnectionID), query, conn, &updated); err != nil {
		return nil, err
	}
	return &updated, nil
}

// DeleteConnection deletes the connection with the given id. A missing
// connection is an *APIError for which IsNotFound is true.
func (c *Client) DeleteConnection(ctx context.Context, id string) error {
	defer c.invalidateSnapshot()
	if id == "" {
		return errors.New("deleting Airflow connection: connection id is empty")
	}
	if c.bulkOn(ctx) {
		_, err := c.bulkWrite(ctx, &bulkOp{kind: bulkDelete, id: id})
		return err
	}
	return c.deleteOne(ctx, id)
}

// deleteOne is DeleteConnection as a single request.
func (c *Client) deleteOne(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, connectionPath(id), nil, nil, nil)
}

// ListConnections returns one page of connections. A limit of 0 or less
// leaves the page size to Airflow (which caps it at 100).
func (c *Client) ListConnections(ctx context.Context, limit, offset int) (*ConnectionList, error) {
	if offset < 0 {
		return nil, fmt.Errorf("listing Airflow connections: negative offset %d", offset)
	}
	query := url.Values{}
	if limit > 0 {
		query.Set("limit", strconv.Itoa(limit))
	}
	if offset > 0 {
		query.Set("offset", strconv.Itoa(offset))
	}
	var list ConnectionList
	if err := c.call(ctx, http.MethodGet, "/connections", query, nil, &list); err != nil {
		return nil, err
	}
	return &list, nil
}
