-- Enrollment sessions (OTA and direct), the identities the SCEP CAs issued,
-- and each org's generated SCEP CA.

CREATE TABLE {{.Table "enroll_sessions"}} (
	org_id         {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	id             {{.Text}} NOT NULL,
	kind           {{.Text}} NOT NULL,
	user_id        {{.Text}} NOT NULL,
	policy         {{.Text}} NOT NULL,
	requirements   {{.JSON}} NOT NULL, -- policy.Requirements as JSON
	phase          {{.Text}} NOT NULL,
	challenge_hash {{.Bytes}},          -- SHA-256 of the outstanding challenge
	expires_us     {{.Int}} NOT NULL,
	udid           {{.Text}} NOT NULL DEFAULT '',
	attributes     {{.JSON}} NOT NULL DEFAULT '{}',
	identity       {{.Text}} NOT NULL DEFAULT '',
	version        {{.Int}} NOT NULL,
	created_us     {{.Int}} NOT NULL,
	updated_us     {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, id)
){{.Strict}};

CREATE TABLE {{.Table "enroll_identities"}} (
	org_id       {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	fingerprint  {{.Text}} NOT NULL,
	serial       {{.Text}} NOT NULL,
	session      {{.Text}} NOT NULL,
	user_id      {{.Text}} NOT NULL,
	policy       {{.Text}} NOT NULL,
	device       {{.Text}} NOT NULL DEFAULT '',
	issued_us    {{.Int}} NOT NULL,
	not_after_us {{.Int}} NOT NULL,
	renews       {{.Text}} NOT NULL DEFAULT '',
	PRIMARY KEY (org_id, fingerprint)
){{.Strict}};

CREATE INDEX {{.Name "enroll_identities_by_device"}} ON {{.Table "enroll_identities"}} (org_id, device);

CREATE TABLE {{.Table "enroll_scep_cas"}} (
	org_id      {{.Text}} NOT NULL PRIMARY KEY REFERENCES {{.Table "orgs"}} (id),
	certificate {{.Bytes}} NOT NULL,
	private_key {{.Bytes}} NOT NULL, -- PKCS #8; only for generated CAs
	created_us  {{.Int}} NOT NULL
){{.Strict}};
