-- The MDM command queue: a command's body once, one queue row per device.

CREATE TABLE enroll_commands (
	org_id       TEXT NOT NULL REFERENCES orgs (id),
	uuid         TEXT NOT NULL,
	request_type TEXT NOT NULL,
	body         BLOB NOT NULL,
	queued_us    INTEGER NOT NULL,
	PRIMARY KEY (org_id, uuid)
) STRICT;

CREATE TABLE enroll_queue (
	id         INTEGER PRIMARY KEY AUTOINCREMENT, -- queue order
	org_id     TEXT NOT NULL,
	device     TEXT NOT NULL,
	uuid       TEXT NOT NULL,
	status     TEXT NOT NULL,
	deliveries INTEGER NOT NULL DEFAULT 0,
	detail     TEXT NOT NULL DEFAULT '',
	updated_us INTEGER NOT NULL,
	FOREIGN KEY (org_id, uuid) REFERENCES enroll_commands (org_id, uuid),
	UNIQUE (org_id, device, uuid)
) STRICT;

-- The next open command is found without reading a device's history.
CREATE INDEX enroll_queue_open ON enroll_queue (org_id, device, id) WHERE status IN ('Pending', 'NotNow');
CREATE INDEX enroll_queue_by_device ON enroll_queue (org_id, device, id);
