-- Android enrollment (package android): enrollment tokens, the Android side
-- of enrolled devices, and commands with their pending → done/failed
-- states. A token's id is the SHA-256 (hex) of its secret and a device's
-- credential is kept as the SHA-256 of its secret: no secret is stored.
-- The requirements are the policy decision's, as JSON. Times are Unix
-- microseconds (UTC).

CREATE TABLE android_tokens (
	org_id          TEXT NOT NULL REFERENCES orgs (id),
	id              TEXT NOT NULL,
	user_id         TEXT NOT NULL,
	policy          TEXT NOT NULL,
	mode            TEXT NOT NULL,
	type            TEXT NOT NULL,
	ownership       TEXT NOT NULL,
	requirements    TEXT NOT NULL,
	one_time        INTEGER NOT NULL,
	uses            INTEGER NOT NULL,
	expires_us      INTEGER NOT NULL,
	provider_policy TEXT NOT NULL,
	created_us      INTEGER NOT NULL,
	PRIMARY KEY (org_id, id)
) STRICT;

CREATE TABLE android_devices (
	org_id          TEXT NOT NULL REFERENCES orgs (id),
	id              TEXT NOT NULL,
	user_id         TEXT NOT NULL,
	policy          TEXT NOT NULL,
	mode            TEXT NOT NULL,
	type            TEXT NOT NULL,
	ownership       TEXT NOT NULL,
	token_id        TEXT NOT NULL,
	requirements    TEXT NOT NULL,
	credential_hash BLOB,
	provider_name   TEXT NOT NULL,
	provider_policy TEXT NOT NULL,
	created_us      INTEGER NOT NULL,
	PRIMARY KEY (org_id, id)
) STRICT;

CREATE TABLE android_commands (
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	id         TEXT NOT NULL,
	device_id  TEXT NOT NULL,
	kind       TEXT NOT NULL,
	wipe       TEXT NOT NULL,
	status     TEXT NOT NULL,
	detail     TEXT NOT NULL,
	created_us INTEGER NOT NULL,
	updated_us INTEGER NOT NULL,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, device_id) REFERENCES android_devices (org_id, id)
) STRICT;

CREATE INDEX android_commands_pending ON android_commands (org_id, device_id, created_us, id) WHERE status = 'pending';
