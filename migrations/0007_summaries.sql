-- Summaries (`summary = true`): kept with the translation of the post they top, and their usage
-- apart from the translations' (they have a budget of their own).

ALTER TABLE translations ADD COLUMN summary TEXT;   -- plain text, NULL when the post has none

CREATE TABLE usage_by_kind (
    day             TEXT NOT NULL,
    feed            TEXT NOT NULL,
    entry_id        INTEGER NOT NULL,
    engine          TEXT NOT NULL,
    model           TEXT NOT NULL,
    kind            TEXT NOT NULL,      -- translation or summary
    requests        INTEGER NOT NULL,
    prompt_tokens   INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd        REAL NOT NULL,
    estimated       INTEGER NOT NULL,
    PRIMARY KEY (day, feed, entry_id, engine, model, kind)
);
INSERT INTO usage_by_kind
    SELECT day, feed, entry_id, engine, model, 'translation', requests, prompt_tokens, completion_tokens, cost_usd, estimated FROM usage;
DROP TABLE usage;
ALTER TABLE usage_by_kind RENAME TO usage;
