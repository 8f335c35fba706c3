-- What each enrolled device last got from its policy (policy.Applied):
-- the deciding policy, a fingerprint of the settings it was sent, and why
-- it is out of policy (empty while it is not). Written by the packages that
-- re-apply changed policies (enroll/ota, android).

CREATE TABLE policy_applied (
	org_id        TEXT NOT NULL REFERENCES orgs (id),
	device        TEXT NOT NULL,
	policy        TEXT NOT NULL,
	fingerprint   TEXT NOT NULL,
	out_of_policy TEXT NOT NULL,
	version       BIGINT NOT NULL,
	updated       TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (org_id, device)
);
