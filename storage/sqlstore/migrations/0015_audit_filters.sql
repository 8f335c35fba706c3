-- The audit log read newest first and filtered (storage.AuditQuery): by
-- actor, by target, and by either ("everything about this user"). Each
-- index ends with the per-org ID (seq, migration 14), so that a filtered page is read in ID order,
-- either way, without sorting.

CREATE INDEX {{.Name "audit_log_by_actor"}} ON {{.Table "audit_log"}} (org_id, actor, seq);
CREATE INDEX {{.Name "audit_log_by_target"}} ON {{.Table "audit_log"}} (org_id, target, seq);
