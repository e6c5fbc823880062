-- A block being translated by one node: the others wait for it to land in the memory instead of
-- paying for it too (the same paragraph in two feeds, two jobs on two nodes).
CREATE TABLE unit_claims (
    hash            TEXT NOT NULL,
    lang            TEXT NOT NULL,
    prompt_version  BIGINT NOT NULL,
    node            TEXT NOT NULL,
    until           BIGINT NOT NULL,
    PRIMARY KEY (hash, lang, prompt_version)
);
