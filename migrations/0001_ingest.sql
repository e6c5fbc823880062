-- Feeds, their entries, and the translation queue.

CREATE TABLE feeds (
    name            TEXT PRIMARY KEY,
    url             TEXT NOT NULL,      -- as configured
    fetch_url       TEXT,               -- after a permanent redirect or autodiscovery
    etag            TEXT,
    last_modified   TEXT,
    body_hash       TEXT,               -- of the last body parsed: an identical body is not parsed again
    title           TEXT,
    site_url        TEXT,
    authors         TEXT NOT NULL DEFAULT '[]',
    last_fetch_at   INTEGER,
    last_ok_at      INTEGER,
    last_result     TEXT,               -- ok | not_modified | failed | deferred
    last_error      TEXT,
    failures        INTEGER NOT NULL DEFAULT 0,   -- consecutive
    not_before      INTEGER,            -- Retry-After / max-age: no fetch before this time
    changed_at      INTEGER             -- last time an entry was added or changed
);

CREATE TABLE entries (
    id              INTEGER PRIMARY KEY,
    feed            TEXT NOT NULL REFERENCES feeds(name),
    key             TEXT NOT NULL,      -- polyfeed's identity of the entry
    source_id       TEXT NOT NULL,
    link            TEXT,
    link_norm       TEXT,
    title           TEXT NOT NULL,
    content         TEXT NOT NULL,
    authors         TEXT NOT NULL,      -- JSON array
    categories      TEXT NOT NULL,      -- JSON array
    published       INTEGER,
    updated         INTEGER,
    text_hash       TEXT NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,   -- bumped on every update
    filtered        INTEGER NOT NULL DEFAULT 0,
    gone            INTEGER NOT NULL DEFAULT 0,   -- tombstone: absent from the source feed
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    changed_at      INTEGER NOT NULL,
    note            TEXT,                -- e.g. why full-text extraction fell back to the summary
    UNIQUE (feed, key)
);
CREATE INDEX entries_by_link ON entries (feed, link_norm);
CREATE INDEX entries_by_link_any ON entries (link_norm);

CREATE TABLE queue (
    entry_id        INTEGER NOT NULL REFERENCES entries(id),
    lang            TEXT NOT NULL,
    version         INTEGER NOT NULL,   -- the entry version to translate
    state           TEXT NOT NULL,      -- queued | leased | done | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    lease_until     INTEGER,
    last_error      TEXT,
    enqueued_at     INTEGER NOT NULL,
    PRIMARY KEY (entry_id, lang)
);
CREATE INDEX queue_by_state ON queue (state, next_attempt_at);
