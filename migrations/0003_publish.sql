-- What was last published, so publishing redoes only what changed.
CREATE TABLE publish_marks (
    key             TEXT PRIMARY KEY,
    value           TEXT NOT NULL
);

-- A sequence number per translation change: publishing redoes the posts after the last one it saw.
ALTER TABLE translations ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX translations_by_seq ON translations (lang, seq);
