-- Sharing APIs across workgroups (issue 18): marketplace listings, the one table of requests
-- that wait for someone's decision (listing, delisting, applications for access, publishing to
-- and taking offline from prod), and each workgroup's approval settings. Keep in step with
-- ../postgres/0008_marketplace.sql: same tables, columns and constraints.

-- Workgroup settings as JSON (`WorkgroupSettings`): whether publishing to prod and taking
-- offline from prod need a workgroup admin's approval.
ALTER TABLE workgroups ADD COLUMN settings_json TEXT NOT NULL DEFAULT '{}';

-- An API's marketplace listing. `draft_json` is what its team edits; `listed_json` what the
-- marketplace shows, copied from the draft when a platform admin approves. Only `listed`
-- rows are in the marketplace.
CREATE TABLE listings (
    api_id       BIGINT  PRIMARY KEY REFERENCES apis (id) ON DELETE CASCADE,
    workgroup_id BIGINT  NOT NULL REFERENCES workgroups (id),
    state        TEXT    NOT NULL DEFAULT 'draft'
        CHECK (state IN ('draft', 'pending', 'listed', 'rejected', 'delisted')),
    draft_json   TEXT    NOT NULL,
    listed_json  TEXT,
    -- Of the listed metadata, for filters and search: the category, and name, summary and
    -- tags lower-cased in one text.
    category     TEXT    NOT NULL DEFAULT '',
    search_text  TEXT    NOT NULL DEFAULT '',
    listed_at    BIGINT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);

CREATE INDEX listings_state ON listings (state, category);

-- The listed tags, for the marketplace's tag filter.
CREATE TABLE listing_tags (
    api_id BIGINT NOT NULL REFERENCES listings (api_id) ON DELETE CASCADE,
    tag    TEXT   NOT NULL,
    PRIMARY KEY (api_id, tag)
);

-- Requests that wait for a decision. `workgroup_id` is the API's workgroup; for applications
-- `app_id` and `applicant_workgroup_id` say who asked for access. `request_json` holds what
-- the kind needs (listing metadata, QPS and validity wanted, the version to publish).
-- `effective_at` is when an approved offline takes effect; `applied_at` when it did.
CREATE TABLE approvals (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                   TEXT    NOT NULL
        CHECK (kind IN ('listing', 'delisting', 'application', 'publish', 'offline')),
    state                  TEXT    NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'approved', 'rejected', 'withdrawn', 'cancelled')),
    workgroup_id           BIGINT  NOT NULL REFERENCES workgroups (id),
    api_id                 BIGINT  REFERENCES apis (id) ON DELETE SET NULL,
    api_name               TEXT    NOT NULL,
    app_id                 BIGINT  REFERENCES apps (id) ON DELETE SET NULL,
    applicant_workgroup_id BIGINT  REFERENCES workgroups (id),
    requested_by           TEXT    NOT NULL,
    reason                 TEXT    NOT NULL DEFAULT '',
    request_json           TEXT    NOT NULL DEFAULT '{}',
    notify_json            TEXT    NOT NULL DEFAULT '[]',
    effective_at           BIGINT,
    applied_at             BIGINT,
    decided_by             TEXT,
    decided_at             BIGINT,
    comment                TEXT    NOT NULL DEFAULT '',
    grant_id               BIGINT,
    created_at             BIGINT  NOT NULL
);

-- One pending request per kind, API and app: a second is a conflict, also between racing
-- requests.
CREATE UNIQUE INDEX approvals_one_pending ON approvals (kind, api_id, COALESCE(app_id, 0))
    WHERE state = 'pending';
CREATE INDEX approvals_workgroup ON approvals (workgroup_id, state);
CREATE INDEX approvals_requested_by ON approvals (requested_by, state);
CREATE INDEX approvals_applicant ON approvals (applicant_workgroup_id, state);
CREATE INDEX approvals_due ON approvals (kind, state, effective_at);

-- A grant made by approving an application names it.
ALTER TABLE grants ADD COLUMN application_id BIGINT;
