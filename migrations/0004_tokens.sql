-- Subscribers' secret tokens for private feeds (/t/<token>/...). Only a digest is kept.
CREATE TABLE tokens (
    name            TEXT PRIMARY KEY,
    hash            TEXT NOT NULL UNIQUE,
    hint            TEXT NOT NULL,      -- the token's first characters, to tell tokens apart
    created_at      INTEGER NOT NULL
);
