-- Orgs (tenants) and the append-only audit log.

CREATE TABLE orgs (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	display_name TEXT NOT NULL,
	version      BIGINT NOT NULL,
	created      TIMESTAMPTZ NOT NULL,
	updated      TIMESTAMPTZ NOT NULL,
	CONSTRAINT orgs_name_key UNIQUE (name)
);

CREATE TABLE audit_log (
	id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id  TEXT NOT NULL REFERENCES orgs (id),
	time    TIMESTAMPTZ NOT NULL,
	actor   TEXT NOT NULL,
	action  TEXT NOT NULL,
	target  TEXT NOT NULL,
	details JSONB NOT NULL
);

CREATE INDEX audit_log_by_org ON audit_log (org_id, id);

-- Append-only by construction: no statement may change or remove an entry.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit log is append-only';
END;
$$;

CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
