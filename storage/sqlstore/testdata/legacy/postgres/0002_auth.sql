-- Sign-in (package auth): the built-in directory (users, groups,
-- memberships), each org's sign-on rule, MFA factors and codes, failure
-- counters for throttling and PIN lockout, and sessions.

CREATE TABLE auth_users (
	org_id        TEXT NOT NULL REFERENCES orgs (id),
	id            TEXT NOT NULL,
	username      TEXT NOT NULL,
	display_name  TEXT NOT NULL,
	email         TEXT NOT NULL,
	phone         TEXT NOT NULL,
	status        TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	version       BIGINT NOT NULL,
	created       TIMESTAMPTZ NOT NULL,
	updated       TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (org_id, id),
	CONSTRAINT auth_users_username_key UNIQUE (org_id, username)
);

CREATE TABLE auth_groups (
	org_id TEXT NOT NULL REFERENCES orgs (id),
	id     TEXT NOT NULL,
	name   TEXT NOT NULL,
	PRIMARY KEY (org_id, id),
	CONSTRAINT auth_groups_name_key UNIQUE (org_id, name)
);

CREATE TABLE auth_group_members (
	org_id   TEXT NOT NULL,
	group_id TEXT NOT NULL,
	user_id  TEXT NOT NULL,
	PRIMARY KEY (org_id, group_id, user_id),
	FOREIGN KEY (org_id, group_id) REFERENCES auth_groups (org_id, id),
	FOREIGN KEY (org_id, user_id) REFERENCES auth_users (org_id, id)
);

CREATE INDEX auth_group_members_by_user ON auth_group_members (org_id, user_id);

CREATE TABLE auth_sign_on (
	org_id           TEXT PRIMARY KEY REFERENCES orgs (id),
	mfa_required     BOOLEAN NOT NULL,
	pin_length       INTEGER NOT NULL,
	pin_alphanumeric BOOLEAN NOT NULL,
	pin_allow_simple BOOLEAN NOT NULL,
	pin_idle_timeout_s BIGINT NOT NULL,
	pin_max_age_s    BIGINT NOT NULL,
	version          BIGINT NOT NULL,
	updated          TIMESTAMPTZ NOT NULL
);

-- The TOTP secret is a credential: never copy it into logs or audit rows.
CREATE TABLE auth_totp (
	org_id    TEXT NOT NULL REFERENCES orgs (id),
	user_id   TEXT NOT NULL,
	secret    TEXT NOT NULL,
	confirmed BOOLEAN NOT NULL,
	last_step BIGINT NOT NULL,
	created   TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (org_id, user_id)
);

CREATE TABLE auth_failures (
	org_id TEXT NOT NULL REFERENCES orgs (id),
	key    TEXT NOT NULL,
	count  BIGINT NOT NULL,
	last   TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (org_id, key)
);

CREATE TABLE auth_sessions (
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	id         TEXT NOT NULL,
	token_hash BYTEA NOT NULL,
	user_id    TEXT NOT NULL,
	state      TEXT NOT NULL,
	pin_hash   TEXT NOT NULL,
	pin_set    TIMESTAMPTZ,
	created    TIMESTAMPTZ NOT NULL,
	last_used  TIMESTAMPTZ NOT NULL,
	expires    TIMESTAMPTZ NOT NULL,
	revoked    BOOLEAN NOT NULL,
	version    BIGINT NOT NULL,
	PRIMARY KEY (org_id, id),
	CONSTRAINT auth_sessions_token_key UNIQUE (org_id, token_hash)
);

CREATE INDEX auth_sessions_by_user ON auth_sessions (org_id, user_id);

-- Only a salted hash of a phone code is kept.
CREATE TABLE auth_phone_codes (
	org_id     TEXT NOT NULL,
	session_id TEXT NOT NULL,
	channel    TEXT NOT NULL,
	salt       BYTEA NOT NULL,
	hash       BYTEA NOT NULL,
	sent       TIMESTAMPTZ NOT NULL,
	expires    TIMESTAMPTZ NOT NULL,
	sends      INTEGER NOT NULL,
	PRIMARY KEY (org_id, session_id),
	FOREIGN KEY (org_id, session_id) REFERENCES auth_sessions (org_id, id)
);
