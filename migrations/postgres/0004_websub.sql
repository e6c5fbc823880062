-- WebSub subscriptions ([server] websub): one per feed whose source advertises a hub. The
-- callback's secret is never stored: it is derived from POLYFEED_WEBSUB_SECRET and the token.
CREATE TABLE subscriptions (
    feed            TEXT PRIMARY KEY,
    hub             TEXT NOT NULL,
    topic           TEXT NOT NULL,      -- the feed's self URL, as the hub knows it
    token           TEXT NOT NULL UNIQUE, -- the callback's last path segment
    state           TEXT NOT NULL,      -- wanted, requested, active, denied
    lease_seconds   BIGINT,
    lease_until     BIGINT,
    requested_at    BIGINT,
    reason          TEXT
);
