-- The price provenance of a usage row (the rates it was priced with, ~190 bytes of JSON) repeats
-- across every row priced from the same card: rows now point at one copy per distinct rate set.
-- Rows written before this migration keep their text in usage_log.pricing_rates (readers take
-- COALESCE(pricing_rates, the set's rates)); rewriting millions of rows here would hold the write
-- lock for minutes.
CREATE TABLE pricing_rate_sets (
  id    INTEGER PRIMARY KEY,
  rates TEXT NOT NULL UNIQUE
);

ALTER TABLE usage_log ADD COLUMN pricing_rates_id INTEGER REFERENCES pricing_rate_sets(id);
