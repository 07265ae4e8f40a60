-- Rows imported from the original (Python/Flask) Cost Guardian by `cost-guardian import-original`
-- remember the id they had there, so that running the import again adds nothing.
ALTER TABLE usage_log ADD COLUMN original_id INTEGER;
CREATE UNIQUE INDEX ux_usage_original_id ON usage_log(original_id) WHERE original_id IS NOT NULL;
