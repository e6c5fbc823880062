-- Publishing reads the newest translated entries in the order of this index.
CREATE INDEX entries_by_time ON entries (COALESCE(published, updated, first_seen) DESC, id DESC);
