-- Android enrollment (package android): enrollment tokens, the Android side
-- of enrolled devices, and commands with their pending → done/failed
-- states. A token's id is the SHA-256 (hex) of its secret and a device's
-- credential is kept as the SHA-256 of its secret: no secret is stored.
-- The requirements are the policy decision's, as JSON. Times are Unix
-- microseconds (UTC).

CREATE TABLE {{.Table "android_tokens"}} (
	org_id          {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	id              {{.Text}} NOT NULL,
	user_id         {{.Text}} NOT NULL,
	policy          {{.Text}} NOT NULL,
	mode            {{.Text}} NOT NULL,
	type            {{.Text}} NOT NULL,
	ownership       {{.Text}} NOT NULL,
	requirements    {{.JSON}} NOT NULL,
	one_time        {{.Bool}} NOT NULL,
	uses            {{.Int}} NOT NULL,
	expires_us      {{.Int}} NOT NULL,
	provider_policy {{.Text}} NOT NULL,
	created_us      {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, id)
){{.Strict}};

CREATE TABLE {{.Table "android_devices"}} (
	org_id          {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	id              {{.Text}} NOT NULL,
	user_id         {{.Text}} NOT NULL,
	policy          {{.Text}} NOT NULL,
	mode            {{.Text}} NOT NULL,
	type            {{.Text}} NOT NULL,
	ownership       {{.Text}} NOT NULL,
	token_id        {{.Text}} NOT NULL,
	requirements    {{.JSON}} NOT NULL,
	credential_hash {{.Bytes}},
	provider_name   {{.Text}} NOT NULL,
	provider_policy {{.Text}} NOT NULL,
	created_us      {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, id)
){{.Strict}};

CREATE TABLE {{.Table "android_commands"}} (
	org_id     {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	id         {{.Text}} NOT NULL,
	device_id  {{.Text}} NOT NULL,
	kind       {{.Text}} NOT NULL,
	wipe       {{.Text}} NOT NULL,
	status     {{.Text}} NOT NULL,
	detail     {{.Text}} NOT NULL,
	created_us {{.Int}} NOT NULL,
	updated_us {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, id),
	FOREIGN KEY (org_id, device_id) REFERENCES {{.Table "android_devices"}} (org_id, id)
){{.Strict}};

CREATE INDEX {{.Name "android_commands_pending"}} ON {{.Table "android_commands"}} (org_id, device_id, created_us, id) WHERE status = 'pending';
