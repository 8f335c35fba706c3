-- What each enrolled device last got from its policy (policy.Applied):
-- the deciding policy, a fingerprint of the settings it was sent, and why
-- it is out of policy (empty while it is not). Written by the packages that
-- re-apply changed policies (enroll/ota, android). Times are Unix
-- microseconds (UTC).

CREATE TABLE {{.Table "policy_applied"}} (
	org_id        {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	device        {{.Text}} NOT NULL,
	policy        {{.Text}} NOT NULL,
	fingerprint   {{.Text}} NOT NULL,
	out_of_policy {{.Text}} NOT NULL,
	version       {{.Int}} NOT NULL,
	updated_us    {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, device)
){{.Strict}};
