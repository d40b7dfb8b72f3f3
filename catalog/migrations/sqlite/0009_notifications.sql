-- Notifications (issue 18, part 6): each workgroup's webhook channels, the outbox of their
-- deliveries, and which grants were told they expire. The delivery worker reads the outbox;
-- nothing here is served by the edge. Keep in step with the other backend's
-- 0009_notifications.sql.
CREATE TABLE webhooks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workgroup_id  BIGINT  NOT NULL REFERENCES workgroups (id),
    name          TEXT    NOT NULL,
    url           TEXT    NOT NULL,
    -- Sealed with the store's secret box like datasource passwords; NULL: bodies go unsigned.
    secret_sealed TEXT,
    template      TEXT    NOT NULL CHECK (template IN ('json', 'lark', 'dingtalk', 'slack')),
    -- A JSON array of event names; empty: every event.
    events_json   TEXT    NOT NULL DEFAULT '[]',
    enabled       BIGINT  NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    UNIQUE (workgroup_id, name)
);

-- One row per notification and channel. The body is rendered for the channel's template when
-- enqueued, so every attempt sends (and signs) the same bytes.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id      BIGINT  NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event           TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    -- The last failure: a status code or a short reason, never a secret.
    last_error      TEXT    NOT NULL DEFAULT '',
    next_attempt_at BIGINT  NOT NULL,
    -- A worker that claimed the delivery owns it until then (milliseconds); 0: nobody.
    lease_until     BIGINT  NOT NULL DEFAULT 0,
    created_at      BIGINT  NOT NULL,
    sent_at         BIGINT
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_of ON webhook_deliveries (webhook_id, id);

-- A grant's expiry announced once: a grant renewed to a later expiry is announced again.
CREATE TABLE grant_expiry_notices (
    grant_id    BIGINT  NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    expires_at  BIGINT  NOT NULL,
    notified_at BIGINT  NOT NULL,
    PRIMARY KEY (grant_id, expires_at)
);
