-- Enrollment sessions (OTA and direct), the identities the SCEP CAs issued,
-- and each org's generated SCEP CA.

CREATE TABLE enroll_sessions (
	org_id         TEXT NOT NULL REFERENCES orgs (id),
	id             TEXT NOT NULL,
	kind           TEXT NOT NULL,
	user_id        TEXT NOT NULL,
	policy         TEXT NOT NULL,
	requirements   JSONB NOT NULL,
	phase          TEXT NOT NULL,
	challenge_hash BYTEA, -- SHA-256 of the outstanding challenge
	expires        TIMESTAMPTZ NOT NULL,
	udid           TEXT NOT NULL DEFAULT '',
	attributes     JSONB NOT NULL DEFAULT '{}',
	identity       TEXT NOT NULL DEFAULT '',
	version        BIGINT NOT NULL,
	created        TIMESTAMPTZ NOT NULL,
	updated        TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (org_id, id)
);

CREATE TABLE enroll_identities (
	org_id      TEXT NOT NULL REFERENCES orgs (id),
	fingerprint TEXT NOT NULL,
	serial      TEXT NOT NULL,
	session     TEXT NOT NULL,
	user_id     TEXT NOT NULL,
	policy      TEXT NOT NULL,
	device      TEXT NOT NULL DEFAULT '',
	issued      TIMESTAMPTZ NOT NULL,
	not_after   TIMESTAMPTZ NOT NULL,
	renews      TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (org_id, fingerprint)
);

CREATE INDEX enroll_identities_by_device ON enroll_identities (org_id, device);

CREATE TABLE enroll_scep_cas (
	org_id      TEXT NOT NULL PRIMARY KEY REFERENCES orgs (id),
	certificate BYTEA NOT NULL,
	private_key BYTEA NOT NULL, -- PKCS #8; only for generated CAs
	created     TIMESTAMPTZ NOT NULL
);
