-- polyfeed's store on PostgreSQL: the SQLite schema (migrations/0001-0006) in PostgreSQL's types,
-- plus what several nodes sharing it need: who leased a job, who fetched a feed when, who
-- publishes, and the nodes themselves. Append-only: never edit a migration that has shipped.

CREATE TABLE feeds (
    name            TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    fetch_url       TEXT,
    etag            TEXT,
    last_modified   TEXT,
    body_hash       TEXT,
    title           TEXT,
    site_url        TEXT,
    authors         TEXT NOT NULL DEFAULT '[]',
    last_fetch_at   BIGINT,
    last_ok_at      BIGINT,
    last_result     TEXT,
    last_error      TEXT,
    failures        BIGINT NOT NULL DEFAULT 0,
    not_before      BIGINT,
    changed_at      BIGINT,
    claimed_by      TEXT,               -- the node that fetched it last
    claimed_at_ms   BIGINT              -- when (milliseconds): no other node fetches it for the same tick
);

CREATE TABLE entries (
    id              BIGSERIAL PRIMARY KEY,
    feed            TEXT NOT NULL REFERENCES feeds(name),
    key             TEXT NOT NULL,
    source_id       TEXT NOT NULL,
    link            TEXT,
    link_norm       TEXT,
    title           TEXT NOT NULL,
    content         TEXT NOT NULL,
    authors         TEXT NOT NULL,
    categories      TEXT NOT NULL,
    published       BIGINT,
    updated         BIGINT,
    text_hash       TEXT NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1,
    filtered        BOOLEAN NOT NULL DEFAULT FALSE,
    gone            BOOLEAN NOT NULL DEFAULT FALSE,
    first_seen      BIGINT NOT NULL,
    last_seen       BIGINT NOT NULL,
    changed_at      BIGINT NOT NULL,
    note            TEXT,
    UNIQUE (feed, key)
);

CREATE TABLE queue (
    entry_id        BIGINT NOT NULL REFERENCES entries(id),
    lang            TEXT NOT NULL,
    version         BIGINT NOT NULL,
    state           TEXT NOT NULL,      -- queued | leased | done | failed
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    lease_until     BIGINT,
    leased_by       TEXT,               -- the node holding the lease
    last_error      TEXT,
    enqueued_at     BIGINT NOT NULL,
    PRIMARY KEY (entry_id, lang)
);
CREATE INDEX queue_by_state ON queue (state, next_attempt_at);

CREATE TABLE memory (
    hash            TEXT NOT NULL,
    lang            TEXT NOT NULL,
    engine          TEXT NOT NULL,
    model           TEXT NOT NULL,
    prompt_version  BIGINT NOT NULL,
    source          TEXT NOT NULL,
    translation     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (hash, lang, engine, model, prompt_version)
);

CREATE TABLE translations (
    entry_id        BIGINT NOT NULL REFERENCES entries(id),
    lang            TEXT NOT NULL,
    version         BIGINT NOT NULL,
    title_src       TEXT NOT NULL,
    title           TEXT NOT NULL,
    content_src     TEXT NOT NULL,
    units           TEXT NOT NULL,
    complete        BOOLEAN NOT NULL,
    translated_at   BIGINT NOT NULL,
    seq             BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (entry_id, lang)
);
CREATE INDEX translations_by_seq ON translations (lang, seq);

CREATE TABLE usage (
    day             TEXT NOT NULL,
    feed            TEXT NOT NULL,
    entry_id        BIGINT NOT NULL,
    engine          TEXT NOT NULL,
    model           TEXT NOT NULL,
    requests        BIGINT NOT NULL,
    prompt_tokens   BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_usd        DOUBLE PRECISION NOT NULL,
    estimated       BOOLEAN NOT NULL,
    PRIMARY KEY (day, feed, entry_id, engine, model)
);

CREATE TABLE publish_marks (
    key             TEXT PRIMARY KEY,
    value           TEXT NOT NULL
);

CREATE TABLE tokens (
    name            TEXT PRIMARY KEY,
    hash            TEXT NOT NULL UNIQUE,
    hint            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE engines (
    engine          TEXT NOT NULL,
    model           TEXT NOT NULL,
    batch_tokens    BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (engine, model)
);

-- The polyfeed processes sharing this store, and what they hold.
CREATE TABLE nodes (
    name            TEXT PRIMARY KEY,
    started_at      BIGINT NOT NULL,
    last_seen       BIGINT NOT NULL
);

-- One node publishes at a time: whoever holds this lease.
CREATE TABLE publish_lease (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    node            TEXT,
    until           BIGINT NOT NULL DEFAULT 0
);
INSERT INTO publish_lease (id) VALUES (1);
