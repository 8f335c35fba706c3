-- The app catalog (package catalog): apps, their assignments to directory
-- groups, and the latest install or removal of each app on each device.
-- The managed configuration is one JSON list in config, validated before
-- it is written. Times are Unix microseconds (UTC).

CREATE TABLE catalog_apps (
	org_id           TEXT NOT NULL REFERENCES orgs (id),
	id               TEXT NOT NULL,
	kind             TEXT NOT NULL,
	family           TEXT NOT NULL, -- 'apple' or 'android': identifiers are unique per family
	identifier       TEXT NOT NULL,
	store_id         INTEGER NOT NULL,
	manifest_url     TEXT NOT NULL,
	bundle_version   TEXT NOT NULL,
	name             TEXT NOT NULL,
	icon_url         TEXT NOT NULL,
	description      TEXT NOT NULL,
	config           TEXT NOT NULL,
	keep_on_unenroll INTEGER NOT NULL,
	allow_backup     INTEGER NOT NULL,
	version          INTEGER NOT NULL,
	created_us       INTEGER NOT NULL,
	updated_us       INTEGER NOT NULL,
	PRIMARY KEY (org_id, id),
	CONSTRAINT catalog_apps_identifier_key UNIQUE (org_id, family, identifier)
) STRICT;

CREATE INDEX catalog_apps_by_name ON catalog_apps (org_id, name, id);

-- An app with assignments cannot be deleted (no cascade): unassigning is
-- what removes it from devices.
CREATE TABLE catalog_assignments (
	org_id     TEXT NOT NULL,
	app_id     TEXT NOT NULL,
	group_id   TEXT NOT NULL,
	mode       TEXT NOT NULL,
	version    INTEGER NOT NULL,
	created_us INTEGER NOT NULL,
	updated_us INTEGER NOT NULL,
	PRIMARY KEY (org_id, app_id, group_id),
	FOREIGN KEY (org_id, app_id) REFERENCES catalog_apps (org_id, id)
) STRICT;

-- The store view asks by the user's groups.
CREATE INDEX catalog_assignments_by_group ON catalog_assignments (org_id, group_id);

CREATE TABLE catalog_installs (
	org_id         TEXT NOT NULL,
	device_id      TEXT NOT NULL,
	app_id         TEXT NOT NULL,
	command        TEXT NOT NULL,
	progress       TEXT NOT NULL,
	reason         TEXT NOT NULL,
	take_over      INTEGER NOT NULL,
	bundle_version TEXT NOT NULL,
	updated_us     INTEGER NOT NULL,
	PRIMARY KEY (org_id, device_id, app_id),
	CONSTRAINT catalog_installs_command_key UNIQUE (org_id, device_id, command),
	FOREIGN KEY (org_id, app_id) REFERENCES catalog_apps (org_id, id) ON DELETE CASCADE
) STRICT;
