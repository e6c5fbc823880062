-- Publishing reads the newest translated entries (the merged feed, the index): in the order of
-- this index, a few rows at a time, instead of sorting every entry (whose content, stored before
-- the dates, spills to overflow pages that a sort must read).
CREATE INDEX entries_by_time ON entries (COALESCE(published, updated, first_seen) DESC, id DESC);
