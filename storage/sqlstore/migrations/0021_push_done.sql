-- The push outbox remembers when each device was last pushed: a done row
-- stays, unclaimable (claim_until_us at the largest integer), with the
-- time its push was claimed in pushed_us, so that a wake decided before
-- another replica pushed the device does not queue it again. A command
-- queued for the device makes the row due again. Unix microseconds (UTC).

ALTER TABLE {{.Table "push_outbox"}} ADD COLUMN pushed_us {{.Int}} NOT NULL DEFAULT 0;
