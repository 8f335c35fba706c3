-- How far a bounded run of a re-application request got (policy.
-- ReapplyQueue.ReapplyProgress): the next run goes on after this device
-- ID. '' until a run stops part way, and again when the request is made
-- again.

ALTER TABLE {{.Table "reapply_queue"}} ADD COLUMN after_device {{.Text}} NOT NULL DEFAULT '';
