-- A reprice may also move a row stored under the default provider to the provider its model name
-- belongs to (claude-* sent without a provider, before the service inferred one). The audit keeps
-- both, so the move can be inspected and undone; NULL when a change did not move the row.
ALTER TABLE reprice_changes ADD COLUMN old_provider TEXT;
ALTER TABLE reprice_changes ADD COLUMN new_provider TEXT;
