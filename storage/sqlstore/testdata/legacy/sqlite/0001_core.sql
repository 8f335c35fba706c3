-- Orgs (tenants) and the append-only audit log.
-- Times are Unix microseconds (UTC).

CREATE TABLE orgs (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,
	display_name TEXT NOT NULL,
	version      INTEGER NOT NULL,
	created_us   INTEGER NOT NULL,
	updated_us   INTEGER NOT NULL
) STRICT;

CREATE TABLE audit_log (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	org_id  TEXT NOT NULL REFERENCES orgs (id),
	time_us INTEGER NOT NULL,
	actor   TEXT NOT NULL,
	action  TEXT NOT NULL,
	target  TEXT NOT NULL,
	details TEXT NOT NULL -- JSON object of strings
) STRICT;

CREATE INDEX audit_log_by_org ON audit_log (org_id, id);

-- Append-only by construction: no statement may change or remove an entry.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit log is append-only');
END;
