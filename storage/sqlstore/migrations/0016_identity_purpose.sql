-- What each device identity was issued for, and what its session attested:
-- check-in accepts only MDM identities, each from the device its OTA
-- session's phase 2 named and of the platform its policy decision was for.
-- Identities issued before are classified from their sessions: an OTA
-- session's identity that is not the one that completed it (nor a renewal)
-- is its phase-2 OTA identity.

ALTER TABLE {{.Table "enroll_sessions"}} ADD COLUMN platform {{.Text}} NOT NULL DEFAULT '';
ALTER TABLE {{.Table "enroll_identities"}} ADD COLUMN purpose {{.Text}} NOT NULL DEFAULT 'mdm';
ALTER TABLE {{.Table "enroll_identities"}} ADD COLUMN udid {{.Text}} NOT NULL DEFAULT '';
ALTER TABLE {{.Table "enroll_identities"}} ADD COLUMN platform {{.Text}} NOT NULL DEFAULT '';

UPDATE {{.Table "enroll_identities"}} SET purpose = 'ota'
WHERE renews = '' AND EXISTS (SELECT 1 FROM {{.Table "enroll_sessions"}} s
	WHERE s.org_id = {{.Table "enroll_identities"}}.org_id AND s.id = {{.Table "enroll_identities"}}.session AND s.kind = 'ota'
	AND NOT (s.phase = 'enrolled' AND s.identity = {{.Table "enroll_identities"}}.fingerprint));
