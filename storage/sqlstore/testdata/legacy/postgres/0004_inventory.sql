-- The inventory package's device registry and the inventory it stores:
-- only attributes of the privacy contract (the store refuses any other key)
-- and app lists reduced to what the contract allows. NULL times mean never.

CREATE TABLE devices (
	org_id          TEXT NOT NULL REFERENCES orgs (id),
	id              TEXT NOT NULL,
	user_id         TEXT NOT NULL,
	platform        TEXT NOT NULL,
	ownership       TEXT NOT NULL,
	enrollment_type TEXT NOT NULL,
	state           TEXT NOT NULL,
	identifier      TEXT NOT NULL,
	enrollment_id   TEXT NOT NULL,
	serial_number   TEXT NOT NULL,
	last_seen       TIMESTAMPTZ,
	last_inventory  TIMESTAMPTZ,
	version         BIGINT NOT NULL,
	created         TIMESTAMPTZ NOT NULL,
	updated         TIMESTAMPTZ NOT NULL,
	CONSTRAINT devices_pkey PRIMARY KEY (org_id, id)
);

-- A platform identifier names one active device per org; a deprovisioned
-- or wiped record keeps it so that the device can enroll again.
CREATE UNIQUE INDEX devices_active_identifier ON devices (org_id, identifier)
	WHERE state NOT IN ('deprovisioned', 'wiped');

CREATE INDEX devices_by_user ON devices (org_id, user_id, id);

-- The refresh schedule: enrolled devices by last inventory time.
CREATE INDEX devices_due_for_refresh ON devices (org_id, state, last_inventory NULLS FIRST, id);

CREATE TABLE device_values (
	org_id    TEXT NOT NULL,
	device_id TEXT NOT NULL,
	key       TEXT NOT NULL,
	value     TEXT NOT NULL,
	source    TEXT NOT NULL,
	collected TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (org_id, device_id, key),
	FOREIGN KEY (org_id, device_id) REFERENCES devices (org_id, id)
);

CREATE TABLE device_apps (
	org_id     TEXT NOT NULL,
	device_id  TEXT NOT NULL,
	identifier TEXT NOT NULL,
	name       TEXT NOT NULL,
	managed    BOOLEAN NOT NULL,
	version    TEXT NOT NULL,
	state      TEXT NOT NULL,
	PRIMARY KEY (org_id, device_id, identifier),
	FOREIGN KEY (org_id, device_id) REFERENCES devices (org_id, id),
	-- Personal apps carry identifier and name only.
	CHECK (managed OR (version = '' AND state = ''))
);
