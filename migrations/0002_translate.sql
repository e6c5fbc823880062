-- The translation memory, finished translations, and what they cost.

-- One row per translated unit: a unit seen before is never sent again.
CREATE TABLE memory (
    hash            TEXT NOT NULL,      -- digest of the normalized source unit
    lang            TEXT NOT NULL,
    engine          TEXT NOT NULL,
    model           TEXT NOT NULL,
    prompt_version  INTEGER NOT NULL,
    source          TEXT NOT NULL,
    translation     TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (hash, lang, engine, model, prompt_version)
);

-- The finished translation of one entry version: what publishing reads.
CREATE TABLE translations (
    entry_id        INTEGER NOT NULL REFERENCES entries(id),
    lang            TEXT NOT NULL,
    version         INTEGER NOT NULL,   -- the entry version translated
    title_src       TEXT NOT NULL,
    title           TEXT NOT NULL,      -- translated title, plain text
    content_src     TEXT NOT NULL,      -- the HTML that was segmented
    units           TEXT NOT NULL,      -- JSON array: translated HTML per unit, null where kept original
    complete        INTEGER NOT NULL,   -- 0 when published partially (allow_partial)
    translated_at   INTEGER NOT NULL,
    PRIMARY KEY (entry_id, lang)
);
CREATE INDEX translations_by_time ON translations (translated_at);

-- Tokens and money, per day, feed, entry and engine.
CREATE TABLE usage (
    day             TEXT NOT NULL,      -- YYYY-MM-DD in the configured time zone
    feed            TEXT NOT NULL,
    entry_id        INTEGER NOT NULL,
    engine          TEXT NOT NULL,
    model           TEXT NOT NULL,
    requests        INTEGER NOT NULL,
    prompt_tokens   INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd        REAL NOT NULL,
    estimated       INTEGER NOT NULL,   -- 1 when the server reported no usage
    PRIMARY KEY (day, feed, entry_id, engine, model)
);
