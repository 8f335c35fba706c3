-- Sign-in (package auth): the built-in directory (users, groups,
-- memberships), each org's sign-on rule, MFA factors and codes, failure
-- counters for throttling and PIN lockout, and sessions.
-- Times are Unix microseconds (UTC); 0 stands for "not set".

CREATE TABLE {{.Table "auth_users"}} (
	org_id        {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	id            {{.Text}} NOT NULL,
	username      {{.Text}} NOT NULL,
	display_name  {{.Text}} NOT NULL,
	email         {{.Text}} NOT NULL,
	phone         {{.Text}} NOT NULL,
	status        {{.Text}} NOT NULL,
	password_hash {{.Text}} NOT NULL,
	version       {{.Int}} NOT NULL,
	created_us    {{.Int}} NOT NULL,
	updated_us    {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, id),
	UNIQUE (org_id, username)
){{.Strict}};

CREATE TABLE {{.Table "auth_groups"}} (
	org_id {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	id     {{.Text}} NOT NULL,
	name   {{.Text}} NOT NULL,
	PRIMARY KEY (org_id, id),
	UNIQUE (org_id, name)
){{.Strict}};

CREATE TABLE {{.Table "auth_group_members"}} (
	org_id   {{.Text}} NOT NULL,
	group_id {{.Text}} NOT NULL,
	user_id  {{.Text}} NOT NULL,
	PRIMARY KEY (org_id, group_id, user_id),
	FOREIGN KEY (org_id, group_id) REFERENCES {{.Table "auth_groups"}} (org_id, id),
	FOREIGN KEY (org_id, user_id) REFERENCES {{.Table "auth_users"}} (org_id, id)
){{.Strict}};

CREATE INDEX {{.Name "auth_group_members_by_user"}} ON {{.Table "auth_group_members"}} (org_id, user_id);

CREATE TABLE {{.Table "auth_sign_on"}} (
	org_id            {{.Text}} PRIMARY KEY REFERENCES {{.Table "orgs"}} (id),
	mfa_required      {{.Bool}} NOT NULL,
	pin_length        {{.Int}} NOT NULL,
	pin_alphanumeric  {{.Bool}} NOT NULL,
	pin_allow_simple  {{.Bool}} NOT NULL,
	pin_idle_timeout_s {{.Int}} NOT NULL,
	pin_max_age_s     {{.Int}} NOT NULL,
	version           {{.Int}} NOT NULL,
	updated_us        {{.Int}} NOT NULL
){{.Strict}};

-- The TOTP secret is a credential: never copy it into logs or audit rows.
CREATE TABLE {{.Table "auth_totp"}} (
	org_id     {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	user_id    {{.Text}} NOT NULL,
	secret     {{.Text}} NOT NULL,
	confirmed  {{.Bool}} NOT NULL,
	last_step  {{.Int}} NOT NULL,
	created_us {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, user_id)
){{.Strict}};

CREATE TABLE {{.Table "auth_failures"}} (
	org_id  {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	key     {{.Text}} NOT NULL,
	count   {{.Int}} NOT NULL,
	last_us {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, key)
){{.Strict}};

CREATE TABLE {{.Table "auth_sessions"}} (
	org_id      {{.Text}} NOT NULL REFERENCES {{.Table "orgs"}} (id),
	id          {{.Text}} NOT NULL,
	token_hash  {{.Bytes}} NOT NULL,
	user_id     {{.Text}} NOT NULL,
	state       {{.Text}} NOT NULL,
	pin_hash    {{.Text}} NOT NULL,
	pin_set_us  {{.Int}} NOT NULL,
	created_us  {{.Int}} NOT NULL,
	last_used_us {{.Int}} NOT NULL,
	expires_us  {{.Int}} NOT NULL,
	revoked     {{.Bool}} NOT NULL,
	version     {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, id),
	UNIQUE (org_id, token_hash)
){{.Strict}};

CREATE INDEX {{.Name "auth_sessions_by_user"}} ON {{.Table "auth_sessions"}} (org_id, user_id);

-- Only a salted hash of a phone code is kept.
CREATE TABLE {{.Table "auth_phone_codes"}} (
	org_id     {{.Text}} NOT NULL,
	session_id {{.Text}} NOT NULL,
	channel    {{.Text}} NOT NULL,
	salt       {{.Bytes}} NOT NULL,
	hash       {{.Bytes}} NOT NULL,
	sent_us    {{.Int}} NOT NULL,
	expires_us {{.Int}} NOT NULL,
	sends      {{.Int}} NOT NULL,
	PRIMARY KEY (org_id, session_id),
	FOREIGN KEY (org_id, session_id) REFERENCES {{.Table "auth_sessions"}} (org_id, id)
){{.Strict}};
