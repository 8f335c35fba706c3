-- The user lifecycle: identities revoked before any device used them (their
-- user left), and lookups of a user's open enrollment credentials.
-- Times are Unix microseconds (UTC); 0 means never.

ALTER TABLE {{.Table "enroll_identities"}} ADD COLUMN revoked_us {{.Int}} NOT NULL DEFAULT 0;

CREATE INDEX {{.Name "enroll_sessions_by_user"}} ON {{.Table "enroll_sessions"}} (org_id, user_id);
CREATE INDEX {{.Name "enroll_identities_by_user"}} ON {{.Table "enroll_identities"}} (org_id, user_id);
CREATE INDEX {{.Name "android_tokens_by_user"}} ON {{.Table "android_tokens"}} (org_id, user_id);
