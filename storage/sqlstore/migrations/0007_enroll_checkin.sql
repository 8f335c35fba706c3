-- The MDM state of enrolled Apple devices (check-in protocol).
-- Times are Unix microseconds; 0 means never.

CREATE TABLE {{.Table "enroll_enrollments"}} (
	org_id          {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	device          {{.Text}} NOT NULL,
	channel         {{.Text}} NOT NULL,
	user_enrollment {{.Bool}} NOT NULL,
	topic           {{.Text}} NOT NULL,
	token           {{.Bytes}},
	push_magic      {{.Text}} NOT NULL,
	unlock_token    {{.Bytes}},
	bootstrap_token {{.Bytes}},
	token_dead      {{.Bool}} NOT NULL,
	enrolled_us     {{.Int}} NOT NULL,
	checked_out_us  {{.Int}} NOT NULL,
	updated_us      {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, device)
){{.Strict}};
