-- Enrollment sessions (OTA and direct), the identities the SCEP CAs issued,
-- and each org's generated SCEP CA.

CREATE TABLE enroll_sessions (
	org_id         TEXT NOT NULL REFERENCES orgs (id),
	id             TEXT NOT NULL,
	kind           TEXT NOT NULL,
	user_id        TEXT NOT NULL,
	policy         TEXT NOT NULL,
	requirements   TEXT NOT NULL, -- policy.Requirements as JSON
	phase          TEXT NOT NULL,
	challenge_hash BLOB,          -- SHA-256 of the outstanding challenge
	expires_us     INTEGER NOT NULL,
	udid           TEXT NOT NULL DEFAULT '',
	attributes     TEXT NOT NULL DEFAULT '{}',
	identity       TEXT NOT NULL DEFAULT '',
	version        INTEGER NOT NULL,
	created_us     INTEGER NOT NULL,
	updated_us     INTEGER NOT NULL,
	PRIMARY KEY (org_id, id)
) STRICT;

CREATE TABLE enroll_identities (
	org_id       TEXT NOT NULL REFERENCES orgs (id),
	fingerprint  TEXT NOT NULL,
	serial       TEXT NOT NULL,
	session      TEXT NOT NULL,
	user_id      TEXT NOT NULL,
	policy       TEXT NOT NULL,
	device       TEXT NOT NULL DEFAULT '',
	issued_us    INTEGER NOT NULL,
	not_after_us INTEGER NOT NULL,
	renews       TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (org_id, fingerprint)
) STRICT;

CREATE INDEX enroll_identities_by_device ON enroll_identities (org_id, device);

CREATE TABLE enroll_scep_cas (
	org_id      TEXT NOT NULL PRIMARY KEY REFERENCES orgs (id),
	certificate BLOB NOT NULL,
	private_key BLOB NOT NULL, -- PKCS #8; only for generated CAs
	created_us  INTEGER NOT NULL
) STRICT;
