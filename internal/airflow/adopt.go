package airflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// outcomeUnknown reports whether a create ended with an unknown effect:
// an attempt before the last may have reached Airflow (uncertain, from
// Client.do) and the last one was answered 409 (possibly our own
// connection, made by the lost attempt) or the attempts ran out.
func outcomeUnknown(uncertain bool, err error) bool {
	if !uncertain {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode == http.StatusConflict || apiErr.Attempts > 1
	}
	var retryErr *RetryError
	return errors.As(err, &retryErr)
}

// resolveCreate settles a create that ended with createErr after an
// attempt whose answer was lost, by reading the connection: when it
// equals what was sent it is ours and is adopted (its secrets re-sent so
// that they are exactly ours); when it differs, or is missing, createErr
// stands, with what the read showed.
func (c *Client) resolveCreate(ctx context.Context, sent *Connection, createErr error) (*Connection, error) {
	id := sent.ConnectionID
	existing, err := c.GetConnection(ctx, id)
	switch {
	case IsNotFound(err):
		return nil, fmt.Errorf("%w; Airflow has no connection %q, so it was not created", createErr, id)
	case err != nil:
		return nil, fmt.Errorf("%w; an earlier attempt may have created connection %q, and reading it back failed: %w", createErr, id, err)
	}
	field, masked := differsFromSent(existing, sent)
	if field != "" {
		c.log(ctx, "a retried create found a different connection", map[string]any{"connection_id": id, "differing_field": field})
		return nil, fmt.Errorf("%w (the create was sent again after a lost answer, and the existing connection differs from the one sent in %s, so it is not this one)",
			createErr, field)
	}
	c.log(ctx, "a retried create found the connection it sent; adopting it", map[string]any{"connection_id": id})

	var mask []string
	if sent.Password != nil {
		mask = append(mask, FieldPassword)
	}
	if masked {
		mask = append(mask, FieldExtra)
	}
	if len(mask) == 0 {
		return existing, nil
	}
	updated, err := c.UpdateConnection(ctx, sent, mask)
	if err != nil {
		return nil, fmt.Errorf("adopting connection %q, which an earlier attempt of this create made: re-sending its %s: %w",
			id, strings.Join(mask, " and "), err)
	}
	return updated, nil
}

// differsFromSent compares a connection read from Airflow with the one a
// create sent, as Airflow sees them (a missing string equals "", a missing
// port 0, extras as JSON values), and returns the first field that differs,
// or "". The secret parts cannot be compared: the password is masked
// (Airflow 3) or left out (Airflow 2), so only its presence is checked
// where it shows; a masked value in extra takes the sent value. masked
// reports that extra held masked values.
func differsFromSent(existing, sent *Connection) (field string, masked bool) {
	got := *existing
	if got.Extra != nil && *got.Extra != "" {
		unmasked, err := UnmaskExtra(*got.Extra, strOrEmpty(sent.Extra))
		if err == nil {
			masked = strings.Contains(*got.Extra, `"`+MaskedValue+`"`)
			got.Extra = &unmasked
		}
	}
	if sent.Password == nil && got.Password != nil {
		return FieldPassword, masked
	}
	if f := DifferingField(&got, sent, false); f != "" {
		return f, masked
	}
	if strOrEmpty(got.Description) != strOrEmpty(sent.Description) {
		return FieldDescription, masked
	}
	return "", masked
}
