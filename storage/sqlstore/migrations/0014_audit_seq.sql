-- Audit entry IDs count per org: an entry's ID is one more than the
-- previous entry of the same org, so that the gaps between an org's IDs say
-- nothing about other orgs' activity. Existing entries keep the IDs readers
-- have seen (seq = id), so that a cursor held across the upgrade stays
-- valid; each org's counter continues from its highest.

ALTER TABLE {{.Table "audit_log"}} ADD COLUMN seq {{.Int}} NOT NULL DEFAULT 0;

{{if .Postgres -}}
ALTER TABLE {{.Table "audit_log"}} DISABLE TRIGGER {{.Name "audit_log_no_change"}};
UPDATE {{.Table "audit_log"}} SET seq = id;
ALTER TABLE {{.Table "audit_log"}} ENABLE TRIGGER {{.Name "audit_log_no_change"}};
{{- else -}}
DROP TRIGGER {{.Name "audit_log_no_update"}};
UPDATE {{.Table "audit_log"}} SET seq = id;
CREATE TRIGGER {{.Name "audit_log_no_update"}} BEFORE UPDATE ON {{.Table "audit_log"}}
BEGIN
	SELECT RAISE(ABORT, 'audit log is append-only');
END;
{{- end}}

DROP INDEX {{if .Postgres}}{{.Table "audit_log_by_org"}}{{else}}{{.Name "audit_log_by_org"}}{{end}};
CREATE UNIQUE INDEX {{.Name "audit_log_by_org_seq"}} ON {{.Table "audit_log"}} (org_id, seq);

-- The last ID handed out per org. Its row is locked from the moment a
-- transaction numbers its entries (just before it commits) until it
-- commits, so that an org's entries become visible in ID order.
CREATE TABLE {{.Table "audit_seq"}} (
	org_id {{.Text}} NOT NULL PRIMARY KEY REFERENCES {{.Table "orgs"}} (id),
	last   {{.Int}} NOT NULL
){{.Strict}};

INSERT INTO {{.Table "audit_seq"}} (org_id, last) SELECT org_id, max(seq) FROM {{.Table "audit_log"}} GROUP BY org_id;
