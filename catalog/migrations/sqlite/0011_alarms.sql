-- Alarms (issue 19, part 4): rules per API evaluated from the call rollups, each
-- workgroup's alarm template (the rules new APIs get), and the history of alarms fired and
-- resolved. Keep in step with the other backend's 0011_alarms.sql: only identity columns and
-- the floating-point type differ.
CREATE TABLE alarm_rules (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workgroup_id BIGINT  NOT NULL REFERENCES workgroups (id),
    api_id       BIGINT  NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
    metric       TEXT    NOT NULL CHECK (metric IN ('errorRate', 'p99Ms', 'throttled', 'noCalls')),
    environment  TEXT    NOT NULL CHECK (environment IN ('prod', 'test')),
    window_secs  BIGINT  NOT NULL,
    threshold    REAL    NOT NULL,
    -- How long the condition must hold before firing, and the clear condition before resolving.
    for_secs     BIGINT  NOT NULL,
    -- A JSON array of user names.
    receivers_json TEXT  NOT NULL DEFAULT '[]',
    enabled      BIGINT  NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    -- Written by the evaluator with conditional updates: ok → pending → firing → ok.
    state        TEXT    NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'pending', 'firing')),
    state_since  BIGINT  NOT NULL,
    -- While firing: since when the clear condition holds; NULL when it does not.
    clear_since  BIGINT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    created_by   TEXT    NOT NULL DEFAULT '',
    updated_by   TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX alarm_rules_of_api ON alarm_rules (api_id, id);

-- One row per workgroup that has saved a template; none: disabled, no rules.
CREATE TABLE alarm_templates (
    workgroup_id BIGINT  NOT NULL PRIMARY KEY REFERENCES workgroups (id),
    enabled      BIGINT  NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    -- A JSON array of rule specs without an API: {metric, env, windowSecs, threshold, forSecs}.
    rules_json   TEXT    NOT NULL DEFAULT '[]',
    updated_at   BIGINT  NOT NULL,
    updated_by   TEXT    NOT NULL DEFAULT ''
);

-- History: kept when the rule or the API is deleted (no foreign keys to them), so it names
-- the API as it was.
CREATE TABLE alarm_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workgroup_id BIGINT  NOT NULL REFERENCES workgroups (id),
    rule_id      BIGINT  NOT NULL,
    api_id       BIGINT  NOT NULL,
    api_name     TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('fired', 'resolved')),
    metric       TEXT    NOT NULL,
    environment  TEXT    NOT NULL,
    value        REAL    NOT NULL,
    threshold    REAL    NOT NULL,
    receivers_json TEXT  NOT NULL DEFAULT '[]',
    at           BIGINT  NOT NULL
);

CREATE INDEX alarm_events_of ON alarm_events (workgroup_id, id);
CREATE INDEX alarm_events_of_api ON alarm_events (api_id, id);
