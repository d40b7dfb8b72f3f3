-- The store's own marker and the platform's settings. Same on both backends.

-- Marks a database as a Sluice metadata store: a datasource connection that sees a table of
-- this name is refused, wherever the database is and whatever it is called.
CREATE TABLE sluice_store (
    id INTEGER PRIMARY KEY CHECK (id = 1)
);
INSERT INTO sluice_store (id) VALUES (1);

-- Settings only platform admins change, one JSON document: hosts and networks datasources and
-- registered upstreams may reach although they are private, and SQLite dataset roots. The
-- configuration file's values apply as well.
CREATE TABLE platform_settings (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    settings_json TEXT    NOT NULL
);
INSERT INTO platform_settings (id, settings_json) VALUES (1, '{}');

-- One row every write that claims a path takes first (publish, saving an API's path), so two
-- writes cannot both find the path free and both take it.
CREATE TABLE route_space (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    touched BIGINT  NOT NULL
);
INSERT INTO route_space (id, touched) VALUES (1, 0);
