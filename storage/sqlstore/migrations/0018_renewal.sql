-- Renewal of device identities (enroll.Renewal) and enrollment profiles
-- issued by an administrator: renewal sessions name the identity they renew, and one row per identity being renewed records its
-- attempts, the next attempt, the lease of the process working on it, and
-- the identity that completed it. Times are Unix microseconds (UTC); 0
-- means never.

ALTER TABLE {{.Table "enroll_sessions"}} ADD COLUMN renews {{.Text}} NOT NULL DEFAULT '';
-- Sessions an administrator issued (pre-staged profiles) name who did:
-- they do not count against the user's own cap of open sessions.
ALTER TABLE {{.Table "enroll_sessions"}} ADD COLUMN issued_by {{.Text}} NOT NULL DEFAULT '';

CREATE TABLE {{.Table "enroll_renewals"}} (
	org_id       {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	identity     {{.Text}} NOT NULL,
	device       {{.Text}} NOT NULL,
	not_after_us {{.Int}} NOT NULL,
	session      {{.Text}} NOT NULL DEFAULT '',
	command      {{.Text}} NOT NULL DEFAULT '',
	attempts     {{.Int}} NOT NULL DEFAULT 0,
	next_us      {{.Int}} NOT NULL,
	lease_us     {{.Int}} NOT NULL DEFAULT 0,
	successor    {{.Text}} NOT NULL DEFAULT '',
	completed_us {{.Int}} NOT NULL DEFAULT 0,
	created_us   {{.Int}} NOT NULL,
	updated_us   {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, identity)
){{.Strict}};

CREATE INDEX {{.Name "enroll_renewals_due"}} ON {{.Table "enroll_renewals"}} (org_id, completed_us, next_us);
CREATE INDEX {{.Name "enroll_identities_by_renews"}} ON {{.Table "enroll_identities"}} (org_id, renews);
