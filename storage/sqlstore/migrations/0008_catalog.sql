-- The app catalog (package catalog): apps, their assignments to directory
-- groups, and the latest install or removal of each app on each device.
-- The managed configuration is one JSON list in config, validated before
-- it is written. Times are Unix microseconds (UTC).

CREATE TABLE {{.Table "catalog_apps"}} (
	org_id           {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	id               {{.Text}} NOT NULL,
	kind             {{.Text}} NOT NULL,
	family           {{.Text}} NOT NULL, -- 'apple' or 'android': identifiers are unique per family
	identifier       {{.Text}} NOT NULL,
	store_id         {{.Int}} NOT NULL,
	manifest_url     {{.Text}} NOT NULL,
	bundle_version   {{.Text}} NOT NULL,
	name             {{.Text}} NOT NULL,
	icon_url         {{.Text}} NOT NULL,
	description      {{.Text}} NOT NULL,
	config           {{.JSON}} NOT NULL,
	keep_on_unenroll {{.Bool}} NOT NULL,
	allow_backup     {{.Bool}} NOT NULL,
	version          {{.Int}} NOT NULL,
	created_us       {{.Int}} NOT NULL,
	updated_us       {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, id),
	UNIQUE (org_id, family, identifier)
){{.Strict}};

CREATE INDEX {{.Name "catalog_apps_by_name"}} ON {{.Table "catalog_apps"}} (org_id, name, id);

-- An app with assignments cannot be deleted (no cascade): unassigning is
-- what removes it from devices.
CREATE TABLE {{.Table "catalog_assignments"}} (
	org_id     {{.Text}} NOT NULL,
	app_id     {{.Text}} NOT NULL,
	group_id   {{.Text}} NOT NULL,
	mode       {{.Text}} NOT NULL,
	version    {{.Int}} NOT NULL,
	created_us {{.Int}} NOT NULL,
	updated_us {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, app_id, group_id),
	FOREIGN KEY (org_id, app_id) REFERENCES {{.Table "catalog_apps"}} (org_id, id)
){{.Strict}};

-- The store view asks by the user's groups.
CREATE INDEX {{.Name "catalog_assignments_by_group"}} ON {{.Table "catalog_assignments"}} (org_id, group_id);

CREATE TABLE {{.Table "catalog_installs"}} (
	org_id         {{.Text}} NOT NULL,
	device_id      {{.Text}} NOT NULL,
	app_id         {{.Text}} NOT NULL,
	command        {{.Text}} NOT NULL,
	progress       {{.Text}} NOT NULL,
	reason         {{.Text}} NOT NULL,
	take_over      {{.Bool}} NOT NULL,
	bundle_version {{.Text}} NOT NULL,
	updated_us     {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, device_id, app_id),
	UNIQUE (org_id, device_id, command),
	FOREIGN KEY (org_id, app_id) REFERENCES {{.Table "catalog_apps"}} (org_id, id) ON DELETE CASCADE
){{.Strict}};
