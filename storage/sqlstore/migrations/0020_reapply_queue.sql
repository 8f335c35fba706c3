-- Re-applications of policies still to be done (policy.ReapplyQueue): one
-- row per org and user ('' for every device of the org), written in the
-- transaction of the change that asks for it, deleted by the process that
-- completed it. seq grows with each request while the row waits or runs;
-- claim is '' while nobody runs it. Times are Unix microseconds (UTC).

CREATE TABLE {{.Table "reapply_queue"}} (
	org_id         {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	user_id        {{.Text}} NOT NULL,
	seq            {{.Int}} NOT NULL,
	requested_us   {{.Int}} NOT NULL,
	claim          {{.Text}} NOT NULL,
	claim_until_us {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, user_id)
){{.Strict}};
