-- Publishing, the change revision and apps, SQLite flavour. Keep in step with
-- ../postgres/0002_publish.sql: same tables, columns and constraints.

-- The number the API's next saved version gets. Kept on the API so that a deleted version's
-- number is never handed out again: a version number names one definition forever.
ALTER TABLE apis ADD COLUMN next_version BIGINT NOT NULL DEFAULT 0;
UPDATE apis SET next_version =
    COALESCE((SELECT MAX(v.number) + 1 FROM api_versions v WHERE v.api_id = apis.id), 0);

-- Which version of an API each environment serves; at most one per API and environment.
-- The reference to api_versions keeps a published version from being deleted.
CREATE TABLE publications (
    api_id       BIGINT  NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    environment  TEXT    NOT NULL CHECK (environment IN ('test', 'prod')),
    version      BIGINT  NOT NULL,
    published_at BIGINT  NOT NULL,
    PRIMARY KEY (api_id, environment),
    FOREIGN KEY (api_id, version) REFERENCES api_versions (api_id, number)
);

CREATE INDEX publications_environment ON publications (environment);

-- One row, bumped in the same transaction as every write, so a serving process can tell
-- cheaply whether anything changed since it last built its routes.
CREATE TABLE store_revision (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT  NOT NULL
);

INSERT INTO store_revision (id, value) VALUES (1, 0);

-- Callers' apps: a public key and a secret sealed with the store's SecretBox.
CREATE TABLE apps (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workgroup_id  BIGINT  NOT NULL REFERENCES workgroups (id),
    name          TEXT    NOT NULL,
    description   TEXT    NOT NULL DEFAULT '',
    app_key       TEXT    NOT NULL UNIQUE,
    secret_sealed TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    UNIQUE (workgroup_id, name)
);
