-- A value encrypted with the master key when the database is first opened: every later open
-- decrypts it, so a missing, wrong or replaced key is refused at start-up, before anything is
-- written with it (and before a run fails on a secret it cannot read).
CREATE TABLE key_check (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    value       BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
