-- Declarative device management of enrolled Apple devices
-- (declarative.State): the enrollment the channel was turned on for, what
-- the device's declarations are built from (inputs, JSON), the secret of
-- its settings-profile URL, the declarations token it was last told, and
-- the status it last reported of its declarations (status, JSON, written
-- on its own with status_version). Times are Unix microseconds (UTC); 0
-- means never.

CREATE TABLE {{.Table "declarative_devices"}} (
	org_id         {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	device         {{.Text}} NOT NULL,
	enrollment_us  {{.Int}} NOT NULL,
	enabled_us     {{.Int}} NOT NULL,
	inputs         {{.JSON}} NOT NULL,
	profile_secret {{.Text}} NOT NULL,
	token          {{.Text}} NOT NULL,
	token_us       {{.Int}} NOT NULL,
	version        {{.Int}} NOT NULL,
	updated_us     {{.Int}} NOT NULL,
	status         {{.JSON}} NOT NULL,
	status_version {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, device)
){{.Strict}};
