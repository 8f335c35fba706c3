-- The event stream (package events): an outbox written in the same
-- transaction as each change, with a per-org cursor (seq) that increases
-- by one per event in commit order, and the cursors of its consumers.
-- Times are Unix microseconds (UTC).

CREATE TABLE {{.Table "events"}} (
	org_id    {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	seq       {{.Int}} NOT NULL,
	id        {{.Text}} NOT NULL UNIQUE,
	kind      {{.Text}} NOT NULL,
	time_us   {{.Int}} NOT NULL,
	device_id {{.Text}} NOT NULL,
	user_id   {{.Text}} NOT NULL,
	actor     {{.Text}} NOT NULL,
	data      {{.JSON}} NOT NULL, -- JSON object of strings
	PRIMARY KEY (org_id, seq)
){{.Strict}};

CREATE INDEX {{.Name "events_by_device"}} ON {{.Table "events"}} (org_id, device_id, seq);
CREATE INDEX {{.Name "events_by_time"}} ON {{.Table "events"}} (org_id, time_us);

-- The last seq given out per org: the row is locked by the transaction
-- that writes events until it commits, so that seq order is commit order.
CREATE TABLE {{.Table "event_seqs"}} (
	org_id {{.Text}} PRIMARY KEY REFERENCES {{.Table "orgs"}} (id),
	last   {{.Int}} NOT NULL
){{.Strict}};

CREATE TABLE {{.Table "event_cursors"}} (
	org_id     {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	consumer   {{.Text}} NOT NULL,
	seq        {{.Int}} NOT NULL,
	updated_us {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, consumer)
){{.Strict}};
