-- API metadata and everything that decides who may call an API, SQLite flavour. Keep in step
-- with ../postgres/0004_callers.sql: same tables, columns and constraints; only id spellings
-- differ. Flags are 0/1 integers on both backends.

-- API metadata that applies to every version: who answers for it, the most calls per second
-- it takes from all callers together (NULL: no limit), the clearance an app needs to call it,
-- who may be granted it (`private`: apps of its own workgroup only) and how callers prove who
-- they are (`app`: an app's token or signature; `none`: anyone, for APIs meant to be public).
ALTER TABLE apis ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE apis ADD COLUMN tags_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE apis ADD COLUMN max_qps BIGINT CHECK (max_qps > 0);
ALTER TABLE apis ADD COLUMN security_level TEXT NOT NULL DEFAULT 'L1'
    CHECK (security_level IN ('L1', 'L2', 'L3', 'L4'));
ALTER TABLE apis ADD COLUMN visible_range TEXT NOT NULL DEFAULT 'private'
    CHECK (visible_range IN ('private', 'public'));
ALTER TABLE apis ADD COLUMN auth_mode TEXT NOT NULL DEFAULT 'app' CHECK (auth_mode IN ('app', 'none'));

-- An API's tags, for finding it: the index of `apis.tags_json`, written with it.
CREATE TABLE api_tags (
    api_id BIGINT NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    tag    TEXT   NOT NULL,
    PRIMARY KEY (api_id, tag)
);

CREATE INDEX api_tags_tag ON api_tags (tag);

-- App settings: the addresses calls may come from (a JSON array of CIDRs; empty: anywhere),
-- the highest security level of data it may see, and, while a secret is being rotated, the
-- previous secret with the time it stops working.
ALTER TABLE apps ADD COLUMN ip_allow_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE apps ADD COLUMN clearance TEXT NOT NULL DEFAULT 'L1' CHECK (clearance IN ('L1', 'L2', 'L3', 'L4'));
ALTER TABLE apps ADD COLUMN previous_secret_sealed TEXT;
ALTER TABLE apps ADD COLUMN previous_secret_expires_at BIGINT;
ALTER TABLE apps ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));

-- Bearer tokens of apps. As for user tokens only the SHA-256 (hex) of the text is kept.
CREATE TABLE app_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id     BIGINT  NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    prefix     TEXT    NOT NULL,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    revoked    BIGINT  NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);

CREATE INDEX app_tokens_app_id ON app_tokens (app_id);

-- Which app may call which API, until when (NULL: no end) and how often (NULL: only the API's
-- own limit applies). Revoking deletes the row.
CREATE TABLE grants (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    api_id     BIGINT  NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    app_id     BIGINT  NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    expires_at BIGINT,
    qps        BIGINT  CHECK (qps > 0),
    created_at BIGINT  NOT NULL,
    created_by TEXT    NOT NULL DEFAULT '',
    UNIQUE (api_id, app_id)
);

CREATE INDEX grants_app_id ON grants (app_id);

-- Gray release: per API and environment, the share of callers (0–100 %) that get another
-- saved version instead of the published one, while `enabled`.
CREATE TABLE gray_strategies (
    api_id      BIGINT  NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    environment TEXT    NOT NULL CHECK (environment IN ('test', 'prod')),
    version     BIGINT  NOT NULL,
    percent     BIGINT  NOT NULL CHECK (percent BETWEEN 0 AND 100),
    enabled     BIGINT  NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (api_id, environment),
    FOREIGN KEY (api_id, version) REFERENCES api_versions (api_id, number)
);
