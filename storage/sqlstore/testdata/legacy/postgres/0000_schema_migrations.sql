-- How the code of 2026-11 created its migration table (not a migration file).
CREATE TABLE schema_migrations (
	version INTEGER PRIMARY KEY,
	name    TEXT NOT NULL,
	applied TIMESTAMPTZ NOT NULL
);
