-- The MDM command queue: a command's body once, one queue row per device.

CREATE TABLE {{.Table "enroll_commands"}} (
	org_id       {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	uuid         {{.Text}} NOT NULL,
	request_type {{.Text}} NOT NULL,
	body         {{.Bytes}} NOT NULL,
	queued_us    {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, uuid)
){{.Strict}};

CREATE TABLE {{.Table "enroll_queue"}} (
	id         {{.Serial}}, -- queue order
	org_id     {{.Text}} NOT NULL,
	device     {{.Text}} NOT NULL,
	uuid       {{.Text}} NOT NULL,
	status     {{.Text}} NOT NULL,
	deliveries {{.Int}} NOT NULL DEFAULT 0,
	detail     {{.Text}} NOT NULL DEFAULT '',
	updated_us {{.Int}} NOT NULL,
	FOREIGN KEY (org_id, uuid) REFERENCES {{.Table "enroll_commands"}} (org_id, uuid),
	UNIQUE (org_id, device, uuid)
){{.Strict}};

-- The next open command is found without reading a device's history.
CREATE INDEX {{.Name "enroll_queue_open"}} ON {{.Table "enroll_queue"}} (org_id, device, id) WHERE status IN ('Pending', 'NotNow');
CREATE INDEX {{.Name "enroll_queue_by_device"}} ON {{.Table "enroll_queue"}} (org_id, device, id);
