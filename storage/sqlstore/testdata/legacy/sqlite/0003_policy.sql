-- Mobile policies (package policy). Target groups, user agreement and the
-- per-platform rules are one JSON document in body, validated before it is
-- written; the columns are what queries order and check by.
-- Times are Unix microseconds (UTC).

CREATE TABLE policies (
	org_id      TEXT NOT NULL REFERENCES orgs (id),
	id          TEXT NOT NULL,
	name        TEXT NOT NULL,
	description TEXT NOT NULL,
	priority    INTEGER NOT NULL,
	body        TEXT NOT NULL,
	version     INTEGER NOT NULL,
	created_us  INTEGER NOT NULL,
	updated_us  INTEGER NOT NULL,
	PRIMARY KEY (org_id, id),
	CONSTRAINT policies_priority_key UNIQUE (org_id, priority)
) STRICT;

-- One counter per org, bumped by every change to its policies, so that a
-- cached compilation can tell cheaply that it is stale.
CREATE TABLE policy_revisions (
	org_id   TEXT PRIMARY KEY REFERENCES orgs (id),
	revision INTEGER NOT NULL
) STRICT;
