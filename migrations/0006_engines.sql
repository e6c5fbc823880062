-- What each engine handles, learned: source tokens per request (smaller for a model that fails long ones).
CREATE TABLE engines (
    engine          TEXT NOT NULL,
    model           TEXT NOT NULL,
    batch_tokens    INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (engine, model)
);
