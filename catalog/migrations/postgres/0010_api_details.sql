-- API details users expect to see (issue 18 §7). Keep in step with the other backend's
-- 0010_api_details.sql: the same statements on both.
--
-- Who created an API and who last changed it (user names; '' when not known: rows from
-- before this migration whose creation the audit log does not record). `created_at` and
-- `updated_at` exist since 0001.
ALTER TABLE apis ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE apis ADD COLUMN updated_by TEXT NOT NULL DEFAULT '';
UPDATE apis SET created_by = COALESCE((
    SELECT l.actor FROM audit_log l
    WHERE l.action IN ('api.create', 'api.copy') AND l.target = 'api:' || CAST(apis.id AS TEXT)
    ORDER BY l.id LIMIT 1
), '');
UPDATE apis SET updated_by = created_by;

-- Result samples: `{"success": <JSON>, "failure": <JSON>}`, either key absent. The draft's
-- are on the API row; saving a version copies them to the version.
ALTER TABLE apis ADD COLUMN draft_samples_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE api_versions ADD COLUMN samples_json TEXT NOT NULL DEFAULT '{}';
-- Who saved the version ('' when not known).
ALTER TABLE api_versions ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
