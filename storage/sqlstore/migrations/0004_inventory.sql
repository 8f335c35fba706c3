-- The inventory package's device registry and the inventory it stores:
-- only attributes of the privacy contract (the store refuses any other key)
-- and app lists reduced to what the contract allows.
-- Times are Unix microseconds (UTC); NULL means never.

CREATE TABLE {{.Table "devices"}} (
	org_id           {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	id               {{.Text}} NOT NULL,
	user_id          {{.Text}} NOT NULL,
	platform         {{.Text}} NOT NULL,
	ownership        {{.Text}} NOT NULL,
	enrollment_type  {{.Text}} NOT NULL,
	state            {{.Text}} NOT NULL,
	identifier       {{.Text}} NOT NULL,
	enrollment_id    {{.Text}} NOT NULL,
	serial_number    {{.Text}} NOT NULL,
	last_seen_us     {{.Int}},
	last_inventory_us {{.Int}},
	version          {{.Int}} NOT NULL,
	created_us       {{.Int}} NOT NULL,
	updated_us       {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, id)
){{.Strict}};

-- A platform identifier names one active device per org; a deprovisioned
-- or wiped record keeps it so that the device can enroll again.
CREATE UNIQUE INDEX {{.Name "devices_active_identifier"}} ON {{.Table "devices"}} (org_id, identifier)
	WHERE state NOT IN ('deprovisioned', 'wiped');

CREATE INDEX {{.Name "devices_by_user"}} ON {{.Table "devices"}} (org_id, user_id, id);

-- The refresh schedule: enrolled devices by last inventory time.
CREATE INDEX {{.Name "devices_due_for_refresh"}} ON {{.Table "devices"}} (org_id, state, last_inventory_us, id);

CREATE TABLE {{.Table "device_values"}} (
	org_id       {{.Text}} NOT NULL,
	device_id    {{.Text}} NOT NULL,
	key          {{.Text}} NOT NULL,
	value        {{.Text}} NOT NULL,
	source       {{.Text}} NOT NULL,
	collected_us {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, device_id, key),
	FOREIGN KEY (org_id, device_id) REFERENCES {{.Table "devices"}} (org_id, id)
){{.Strict}};

CREATE TABLE {{.Table "device_apps"}} (
	org_id     {{.Text}} NOT NULL,
	device_id  {{.Text}} NOT NULL,
	identifier {{.Text}} NOT NULL,
	name       {{.Text}} NOT NULL,
	managed    {{.Bool}} NOT NULL,
	version    {{.Text}} NOT NULL,
	state      {{.Text}} NOT NULL,
	PRIMARY KEY (org_id, device_id, identifier),
	FOREIGN KEY (org_id, device_id) REFERENCES {{.Table "devices"}} (org_id, id),
	-- Personal apps carry identifier and name only.
	CHECK (managed OR (version = '' AND state = ''))
){{.Strict}};
