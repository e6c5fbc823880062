-- Entries are matched by link in memory, per feed: these indexes only slowed every insert.
DROP INDEX entries_by_link;
DROP INDEX entries_by_link_any;
