-- Mobile policies (package policy). Target groups, user agreement and the
-- per-platform rules are one JSON document in body, validated before it is
-- written; the columns are what queries order and check by.
-- Times are Unix microseconds (UTC).

CREATE TABLE {{.Table "policies"}} (
	org_id      {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	id          {{.Text}} NOT NULL,
	name        {{.Text}} NOT NULL,
	description {{.Text}} NOT NULL,
	priority    {{.Int}} NOT NULL,
	body        {{.JSON}} NOT NULL,
	version     {{.Int}} NOT NULL,
	created_us  {{.Int}} NOT NULL,
	updated_us  {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, id),
	UNIQUE (org_id, priority)
){{.Strict}};

-- One counter per org, bumped by every change to its policies, so that a
-- cached compilation can tell cheaply that it is stale.
CREATE TABLE {{.Table "policy_revisions"}} (
	org_id   {{.Text}} PRIMARY KEY REFERENCES {{.Table "orgs"}} (id),
	revision {{.Int}} NOT NULL
){{.Strict}};
