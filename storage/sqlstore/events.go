package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/openomm/omm/events"
	"github.com/openomm/omm/storage"
)

// emit adds an event the transaction's change emits.
func (tx tx) emit(evs ...events.Event) {
	*tx.events = append(*tx.events, evs...)
}

// flushEvents writes the transaction's events, last thing before it
// commits: it takes the next seqs of each org from event_seqs, whose row
// stays locked until the commit, so that seq order is commit order and a
// reader that has seen seq n will never later find an event below n.
func (tx tx) flushEvents(ctx context.Context) error {
	evs := *tx.events
	if len(evs) == 0 {
		return nil
	}
	*tx.events = nil
	byOrg := map[storage.OrgID][]events.Event{}
	var orgs []storage.OrgID
	for _, e := range evs {
		e = e.Normalize()
		if err := e.Validate(); err != nil {
			return fmt.Errorf("sqlstore: event %s: %w", e.Kind, err)
		}
		if _, ok := byOrg[e.Org]; !ok {
			orgs = append(orgs, e.Org)
		}
		byOrg[e.Org] = append(byOrg[e.Org], e)
	}
	slices.Sort(orgs) // one lock order for every writer
	for _, org := range orgs {
		if err := tx.writeEvents(ctx, org, byOrg[org]); err != nil {
			if tx.s.foreignKey(err) {
				return fmt.Errorf("event: org %q: %w", org, storage.ErrNotFound)
			}
			return tx.s.fail("write events", err)
		}
	}
	return nil
}

// writeEvents gives org's events their seqs and stores them; an event
// about a device without a user gets the device's. The usual case, one
// event, is one statement on PostgreSQL (a round trip to the database
// each, at the end of a transaction that holds the org's seq row).
func (tx tx) writeEvents(ctx context.Context, org storage.OrgID, list []events.Event) error {
	datas := make([]string, len(list))
	for i, e := range list {
		datas[i] = "{}"
		if e.Data != nil {
			b, err := json.Marshal(e.Data)
			if err != nil {
				return fmt.Errorf("event data: %w", err)
			}
			datas[i] = string(b)
		}
	}
	if tx.s.d.postgres && len(list) == 1 {
		e := list[0]
		_, err := tx.exec(ctx, `WITH s AS (INSERT INTO {event_seqs} AS c (org_id, last) VALUES (?, 1)
				ON CONFLICT (org_id) DO UPDATE SET last = c.last + 1 RETURNING last)
			INSERT INTO {events} (org_id, seq, id, kind, time_us, device_id, user_id, actor, data)
			SELECT CAST(? AS TEXT), s.last, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS TEXT),
				coalesce(nullif(CAST(? AS TEXT), ''), (SELECT user_id FROM {devices} WHERE org_id = CAST(? AS TEXT) AND id = CAST(? AS TEXT)), ''),
				CAST(? AS TEXT), CAST(? AS JSONB) FROM s`,
			org, org, e.ID, e.Kind, micros(e.Time), e.Device, e.User, org, e.Device, e.Actor, datas[0])
		return err
	}
	var last int64
	if err := tx.queryRow(ctx, `INSERT INTO {event_seqs} AS c (org_id, last) VALUES (?, ?)
		ON CONFLICT (org_id) DO UPDATE SET last = c.last + excluded.last RETURNING last`, org, len(list)).Scan(&last); err != nil {
		return err
	}
	// The events in one statement (a transaction's are few: an answer
	// records two), in chunks that keep it within the parameter limit.
	first := last - int64(len(list)) + 1
	for start := 0; start < len(list); start += maxEventRows {
		chunk := list[start:min(start+maxEventRows, len(list))]
		args := make([]any, 0, 11*len(chunk))
		for i, e := range chunk {
			args = append(args, org, first+int64(start+i), e.ID, e.Kind, micros(e.Time), e.Device, e.User, org, e.Device, e.Actor, datas[start+i])
		}
		if _, err := tx.exec(ctx, `INSERT INTO {events} (org_id, seq, id, kind, time_us, device_id, user_id, actor, data) VALUES `+
			valuesRows(eventRow, len(chunk)), args...); err != nil {
			return err
		}
	}
	return nil
}

// eventRow is one row of writeEvents' INSERT: the event's user, when it
// names none, is its device's.
const eventRow = "(?, ?, ?, ?, ?, ?, coalesce(nullif(?, ''), (SELECT user_id FROM {devices} WHERE org_id = ? AND id = ?), ''), ?, ?)"

// maxEventRows bounds the rows of one writeEvents statement (eleven
// parameters each).
const maxEventRows = 50

const eventColumns = "seq, id, org_id, kind, time_us, device_id, user_id, actor, data"

func scanEvent(r rowScanner) (events.Event, error) {
	var e events.Event
	var data string
	if err := r.Scan(&e.Seq, &e.ID, &e.Org, &e.Kind, us{&e.Time}, &e.Device, &e.User, &e.Actor, &data); err != nil {
		return e, err
	}
	if err := json.Unmarshal([]byte(data), &e.Data); err != nil {
		return e, fmt.Errorf("event %d data: %w", e.Seq, err)
	}
	if len(e.Data) == 0 {
		e.Data = nil
	}
	return e, nil
}

// Events implements events.Store.
func (s *Store) Events(ctx context.Context, org storage.OrgID, q events.Query) (events.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return events.Page{}, err
	}
	where, order := "seq > ?", "seq"
	after := q.After
	if q.Newest {
		where, order = "seq < ?", "seq DESC"
		if after == 0 {
			after = 1<<63 - 1
		}
	}
	args := []any{org, after}
	if q.Device != "" {
		where += " AND device_id = ?"
		args = append(args, q.Device)
	}
	args = append(args, q.Limit+1)
	rows, err := s.query(ctx, "SELECT "+eventColumns+" FROM {events} WHERE org_id = ? AND "+where+" ORDER BY "+order+" LIMIT ?", args...)
	list, err := collect(rows, err, scanEvent)
	if err != nil {
		return events.Page{}, fmt.Errorf("sqlstore: events: %w", err)
	}
	page := events.Page{Events: list}
	if len(list) > q.Limit {
		page.Events = list[:q.Limit]
		page.Next = list[q.Limit-1].Seq
	}
	if page.Events == nil {
		page.Events = []events.Event{}
	}
	return page, nil
}

// AppendEvent implements events.Store.
func (s *Store) AppendEvent(ctx context.Context, e events.Event) (events.Event, error) {
	e = e.Normalize()
	if err := e.Validate(); err != nil {
		return e, err
	}
	err := s.write(ctx, func(tx tx) error {
		tx.emit(e)
		if err := tx.flushEvents(ctx); err != nil {
			return err
		}
		return tx.queryRow(ctx, "SELECT seq, user_id FROM {events} WHERE id = ?", e.ID).Scan(&e.Seq, &e.User)
	})
	return done(e, err)
}

// PurgeEvents implements events.Store.
func (s *Store) PurgeEvents(ctx context.Context, org storage.OrgID, before time.Time, limit int) (int, error) {
	if limit <= 0 || limit > events.MaxPage*10 {
		return 0, fmt.Errorf("%w: purge batch of %d", storage.ErrInvalid, limit)
	}
	var n int64
	err := s.write(ctx, func(tx tx) error {
		var err error
		n, err = tx.affected(ctx, `DELETE FROM {events} WHERE org_id = ? AND seq IN (
			SELECT seq FROM {events} WHERE org_id = ? AND time_us < ? ORDER BY seq LIMIT ?)`,
			org, org, micros(storage.Normalize(before)), limit)
		if err != nil {
			return s.fail("purge events", err)
		}
		return nil
	})
	return int(n), err
}

// EventCursor implements events.Store.
func (s *Store) EventCursor(ctx context.Context, org storage.OrgID, consumer string) (int64, error) {
	if err := checkConsumer(consumer); err != nil {
		return 0, err
	}
	var seq int64
	err := s.queryRow(ctx, "SELECT seq FROM {event_cursors} WHERE org_id = ? AND consumer = ?", org, consumer).Scan(&seq)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, s.fail("event cursor", err)
	}
	return seq, nil
}

// SetEventCursor implements events.Store.
func (s *Store) SetEventCursor(ctx context.Context, org storage.OrgID, consumer string, seq int64) error {
	if err := checkConsumer(consumer); err != nil {
		return err
	}
	if seq < 0 {
		return fmt.Errorf("%w: event cursor %d", storage.ErrInvalid, seq)
	}
	return s.write(ctx, func(tx tx) error {
		_, err := tx.exec(ctx, `INSERT INTO {event_cursors} AS c (org_id, consumer, seq, updated_us) VALUES (?, ?, ?, ?)
			ON CONFLICT (org_id, consumer) DO UPDATE SET seq = excluded.seq, updated_us = excluded.updated_us
			WHERE excluded.seq > c.seq`, org, consumer, seq, micros(s.clock()))
		if tx.s.foreignKey(err) {
			return fmt.Errorf("event cursor: org %q: %w", org, storage.ErrNotFound)
		}
		if err != nil {
			return s.fail("set event cursor", err)
		}
		return nil
	})
}

func checkConsumer(c string) error {
	if c == "" || len(c) > events.MaxConsumerLen {
		return fmt.Errorf("%w: event consumer %q: 1 to %d bytes", storage.ErrInvalid, c, events.MaxConsumerLen)
	}
	return nil
}
