-- Each workgroup's function library (issue 17): Python functions that workflows of the
-- workgroup call by name. A saved version copies the sources it calls into its definition, so
-- versions never read this table. Keep in step with the other backend's 0007_functions.sql.
CREATE TABLE functions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workgroup_id BIGINT  NOT NULL REFERENCES workgroups (id),
    name         TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    source       TEXT    NOT NULL,
    -- SHA-256 (hex) of `source`: which source a version carries, without reading it.
    digest       TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    UNIQUE (workgroup_id, name)
);
