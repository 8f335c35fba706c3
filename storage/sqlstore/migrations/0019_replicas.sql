-- Work shared by the replicas of a deployment (several server processes
-- on one database): leases on periodic jobs (storage.Leases) and the push
-- outbox (enroll.PushOutbox), written in the same transaction as every
-- queued command. Times are Unix microseconds (UTC).

CREATE TABLE {{.Table "leases"}} (
	org_id   {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	name     {{.Text}} NOT NULL,
	holder   {{.Text}} NOT NULL,
	until_us {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, name)
){{.Strict}};

-- One row per device to wake; claim is '' while nobody pushes it.
CREATE TABLE {{.Table "push_outbox"}} (
	org_id         {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	device         {{.Text}} NOT NULL,
	queued_us      {{.Int}} NOT NULL,
	claim          {{.Text}} NOT NULL,
	claim_until_us {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, device)
){{.Strict}};

CREATE INDEX {{.Name "push_outbox_due"}} ON {{.Table "push_outbox"}} (org_id, claim_until_us, queued_us);
