-- Sluice metadata store, SQLite flavour. Keep in step with ../postgres/0001_init.sql:
-- same tables, columns and constraints; only id and type spellings differ.
-- Timestamps are milliseconds since the Unix epoch; *_json columns hold JSON text. A registered
-- API's constants are sealed inside its draft_json / definition_json (`sealedValue`).

CREATE TABLE workgroups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL
);

CREATE TABLE datasources (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    workgroup_id    BIGINT  NOT NULL REFERENCES workgroups (id),
    name            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    -- ConnectionSettings without the password.
    settings_json   TEXT    NOT NULL,
    -- SecretBox output; NULL when the datasource has no password.
    password_sealed TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    UNIQUE (workgroup_id, name)
);

CREATE TABLE apis (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workgroup_id  BIGINT  NOT NULL REFERENCES workgroups (id),
    name          TEXT    NOT NULL,
    path          TEXT    NOT NULL,
    method        TEXT    NOT NULL,
    description   TEXT    NOT NULL DEFAULT '',
    -- The draft's datasourceId, kept as a column so the database itself refuses to delete
    -- a datasource that a draft still reads from. NULL for registered APIs, which forward
    -- calls to an upstream and read no datasource.
    datasource_id BIGINT  REFERENCES datasources (id),
    draft_json    TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    UNIQUE (workgroup_id, name)
);

CREATE INDEX apis_datasource_id ON apis (datasource_id);

CREATE TABLE api_versions (
    api_id          BIGINT  NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    number          BIGINT  NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    -- As for apis: a saved version keeps its datasource alive. NULL for registered APIs.
    datasource_id   BIGINT  REFERENCES datasources (id),
    definition_json TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (api_id, number)
);

CREATE INDEX api_versions_datasource_id ON api_versions (datasource_id);
