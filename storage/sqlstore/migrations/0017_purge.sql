-- The purge sweep (omm.SDK.Purge) finds expired records by org and time.

CREATE INDEX {{.Name "auth_sessions_by_expiry"}} ON {{.Table "auth_sessions"}} (org_id, expires_us);
CREATE INDEX {{.Name "auth_failures_by_last"}} ON {{.Table "auth_failures"}} (org_id, last_us);
CREATE INDEX {{.Name "enroll_sessions_by_expiry"}} ON {{.Table "enroll_sessions"}} (org_id, expires_us);
CREATE INDEX {{.Name "android_tokens_by_expiry"}} ON {{.Table "android_tokens"}} (org_id, expires_us);
