-- Digests that tell what changed without reading definitions, and the index the API list
-- pages by. Keep in step with the other backend's 0006_scale.sql.

-- SHA-256 (hex) of the draft and of each saved version's definition as readers see them
-- (`ApiDefinition::digest`: constant values left out). Written with every draft and version;
-- rows written before this migration get theirs when the store is next opened.
ALTER TABLE apis ADD COLUMN draft_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE api_versions ADD COLUMN definition_hash TEXT NOT NULL DEFAULT '';

-- A workgroup's page of APIs, oldest first (`Store::find_apis`), read from the index rather
-- than by sorting every API of the workgroup.
CREATE INDEX apis_workgroup_id ON apis (workgroup_id, id);
