-- The MDM state of enrolled Apple devices (check-in protocol).

CREATE TABLE enroll_enrollments (
	org_id          TEXT NOT NULL REFERENCES orgs (id),
	device          TEXT NOT NULL,
	channel         TEXT NOT NULL,
	user_enrollment BOOLEAN NOT NULL,
	topic           TEXT NOT NULL,
	token           BYTEA,
	push_magic      TEXT NOT NULL,
	unlock_token    BYTEA,
	bootstrap_token BYTEA,
	token_dead      BOOLEAN NOT NULL,
	enrolled        TIMESTAMPTZ,
	checked_out     TIMESTAMPTZ,
	updated         TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (org_id, device)
);
