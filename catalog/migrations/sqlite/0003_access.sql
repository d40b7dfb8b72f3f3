-- Users, API tokens, workgroup members, folders and the audit log, SQLite flavour. Keep in
-- step with ../postgres/0003_access.sql: same tables, columns and constraints; only id spellings
-- differ. Flags are 0/1 integers on both backends: sqlx's Any driver reads no SQLite BOOLEAN.

-- People who use the management API. Names are unique whatever their case ("Admin" is "admin").
CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL,
    display_name   TEXT    NOT NULL DEFAULT '',
    platform_admin BIGINT  NOT NULL DEFAULT 0 CHECK (platform_admin IN (0, 1)),
    disabled       BIGINT  NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at     BIGINT  NOT NULL
);

CREATE UNIQUE INDEX users_name ON users (lower(name));

-- A user's API tokens. Only the SHA-256 of the token text is kept (hex), never the text; the
-- prefix is its first few characters, for telling tokens apart in a list.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT  NOT NULL REFERENCES users (id),
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   BIGINT  NOT NULL,
    -- NULL: never expires.
    expires_at   BIGINT,
    -- Updated at most once a minute by authentication.
    last_used_at BIGINT,
    revoked      BIGINT  NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);

CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

-- Who belongs to a workgroup and with which role.
CREATE TABLE workgroup_members (
    workgroup_id BIGINT  NOT NULL REFERENCES workgroups (id),
    user_id      BIGINT  NOT NULL REFERENCES users (id),
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'developer', 'viewer')),
    added_at     BIGINT  NOT NULL,
    PRIMARY KEY (workgroup_id, user_id)
);

CREATE INDEX workgroup_members_user_id ON workgroup_members (user_id);

-- A workgroup's folder tree for APIs: at most three levels under the root (the store checks
-- depth). Sibling names are unique (case-sensitive); a NULL parent is the root, indexed as 0.
CREATE TABLE folders (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workgroup_id BIGINT  NOT NULL REFERENCES workgroups (id),
    parent_id    BIGINT  REFERENCES folders (id),
    name         TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL
);

CREATE UNIQUE INDEX folders_sibling_name ON folders (workgroup_id, COALESCE(parent_id, 0), name);
CREATE INDEX folders_parent_id ON folders (parent_id);

-- The folder an API sits in; NULL is the workgroup's root.
ALTER TABLE apis ADD COLUMN folder_id BIGINT REFERENCES folders (id);

CREATE INDEX apis_folder_id ON apis (folder_id);

-- Who changed what, newest last. No foreign keys: entries outlive what they name.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           BIGINT  NOT NULL,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    workgroup_id BIGINT,
    target       TEXT    NOT NULL DEFAULT '',
    detail_json  TEXT    NOT NULL DEFAULT 'null'
);

CREATE INDEX audit_log_workgroup_id ON audit_log (workgroup_id, id);
