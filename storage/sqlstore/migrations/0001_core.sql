-- Orgs (tenants) and the append-only audit log.
-- Times are Unix microseconds (UTC) on every database.

CREATE TABLE {{.Table "orgs"}} (
	id           {{.Text}} PRIMARY KEY,
	name         {{.Text}} NOT NULL UNIQUE,
	display_name {{.Text}} NOT NULL,
	version      {{.Int}} NOT NULL,
	created_us   {{.Int}} NOT NULL,
	updated_us   {{.Int}} NOT NULL
){{.Strict}};

CREATE TABLE {{.Table "audit_log"}} (
	id      {{.Serial}},
	org_id  {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	time_us {{.Int}} NOT NULL,
	actor   {{.Text}} NOT NULL,
	action  {{.Text}} NOT NULL,
	target  {{.Text}} NOT NULL,
	details {{.JSON}} NOT NULL -- JSON object of strings
){{.Strict}};

CREATE INDEX {{.Name "audit_log_by_org"}} ON {{.Table "audit_log"}} (org_id, id);

-- Append-only by construction: no statement may change or remove an entry.
{{if .Postgres -}}
CREATE OR REPLACE FUNCTION {{.Table "audit_log_append_only"}}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit log is append-only';
END;
$$;

CREATE TRIGGER {{.Name "audit_log_no_change"}} BEFORE UPDATE OR DELETE ON {{.Table "audit_log"}}
	FOR EACH ROW EXECUTE FUNCTION {{.Table "audit_log_append_only"}}();

CREATE TRIGGER {{.Name "audit_log_no_truncate"}} BEFORE TRUNCATE ON {{.Table "audit_log"}}
	FOR EACH STATEMENT EXECUTE FUNCTION {{.Table "audit_log_append_only"}}();
{{- else -}}
CREATE TRIGGER {{.Name "audit_log_no_update"}} BEFORE UPDATE ON {{.Table "audit_log"}}
BEGIN
	SELECT RAISE(ABORT, 'audit log is append-only');
END;

CREATE TRIGGER {{.Name "audit_log_no_delete"}} BEFORE DELETE ON {{.Table "audit_log"}}
BEGIN
	SELECT RAISE(ABORT, 'audit log is append-only');
END;
{{- end}}
