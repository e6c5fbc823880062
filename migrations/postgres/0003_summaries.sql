-- Summaries (`summary = true`): kept with the translation of the post they top, and their usage
-- apart from the translations' (they have a budget of their own).

ALTER TABLE translations ADD COLUMN summary TEXT;

ALTER TABLE usage ADD COLUMN kind TEXT NOT NULL DEFAULT 'translation';
ALTER TABLE usage DROP CONSTRAINT usage_pkey;
ALTER TABLE usage ADD PRIMARY KEY (day, feed, entry_id, engine, model, kind);
