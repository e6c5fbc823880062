-- Publishing reads the newest translations of a language (the merged feed, the index): in the
-- order of this index, a few rows at a time, instead of sorting every entry (whose content, stored
-- before the dates, spills to overflow pages that a sort must read). The entry's time is copied
-- with each translation, so fetching, which writes entries only, pays nothing for it.
ALTER TABLE translations ADD COLUMN sort_at INTEGER;
UPDATE translations SET sort_at = (SELECT COALESCE(e.published, e.updated, e.first_seen) FROM entries e WHERE e.id = translations.entry_id);
CREATE INDEX translations_by_time_shown ON translations (lang, sort_at DESC, entry_id DESC);
