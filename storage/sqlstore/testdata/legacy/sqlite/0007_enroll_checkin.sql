-- The MDM state of enrolled Apple devices (check-in protocol).
-- Times are Unix microseconds; 0 means never.

CREATE TABLE enroll_enrollments (
	org_id          TEXT NOT NULL REFERENCES orgs (id),
	device          TEXT NOT NULL,
	channel         TEXT NOT NULL,
	user_enrollment INTEGER NOT NULL,
	topic           TEXT NOT NULL,
	token           BLOB,
	push_magic      TEXT NOT NULL,
	unlock_token    BLOB,
	bootstrap_token BLOB,
	token_dead      INTEGER NOT NULL,
	enrolled_us     INTEGER NOT NULL,
	checked_out_us  INTEGER NOT NULL,
	updated_us      INTEGER NOT NULL,
	PRIMARY KEY (org_id, device)
) STRICT;
