-- Credentials: a named connection to Shopify or PULPO. `config` holds the non-secret fields as
-- JSON; `secrets` is the AES-256-GCM ciphertext of the secret fields (never plaintext).
CREATE TABLE credentials (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('shopify', 'pulpo')),
    config      TEXT NOT NULL,
    secrets     BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Integration configurations: one type, an origin and a destination, validated settings.
CREATE TABLE integrations (
    id                         INTEGER PRIMARY KEY AUTOINCREMENT,
    name                       TEXT NOT NULL UNIQUE,
    kind                       TEXT NOT NULL,
    origin_credential_id       INTEGER NOT NULL REFERENCES credentials(id),
    destination_credential_id  INTEGER NOT NULL REFERENCES credentials(id),
    settings                   TEXT NOT NULL,
    active                     INTEGER NOT NULL DEFAULT 1,
    created_at                 TEXT NOT NULL,
    updated_at                 TEXT NOT NULL
);

CREATE TABLE runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id  INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    trigger         TEXT NOT NULL,
    status          TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    fetched         INTEGER NOT NULL DEFAULT 0,
    created         INTEGER NOT NULL DEFAULT 0,
    updated         INTEGER NOT NULL DEFAULT 0,
    cancelled       INTEGER NOT NULL DEFAULT 0,
    skipped         INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    conflicts       INTEGER NOT NULL DEFAULT 0,
    error           TEXT
);
CREATE INDEX runs_by_integration ON runs (integration_id, id DESC);

CREATE TABLE run_logs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    at           TEXT NOT NULL,
    level        TEXT NOT NULL,
    record_kind  TEXT,
    record       TEXT,
    message      TEXT NOT NULL
);
CREATE INDEX run_logs_by_run ON run_logs (run_id, id);

-- Where an integration's incremental fetch continues: Shopify `updated_at` of the last order
-- whose handling is committed.
CREATE TABLE sync_cursors (
    integration_id  INTEGER PRIMARY KEY REFERENCES integrations(id) ON DELETE CASCADE,
    updated_at      TEXT NOT NULL
);

-- The exactly-once link: one PULPO sales order per Shopify fulfillment order, per (origin,
-- destination) pair so the regular and the daily configuration of one store share it.
-- A row with `pulpo_order_id IS NULL` is an intent written before the create call: if it is
-- still there on the next attempt, the create may have reached PULPO, so look it up by
-- `order_num` before creating again. `order_num` is unique per scope, like in PULPO.
CREATE TABLE order_links (
    origin_credential_id       INTEGER NOT NULL REFERENCES credentials(id),
    destination_credential_id  INTEGER NOT NULL REFERENCES credentials(id),
    fulfillment_order_id       TEXT NOT NULL,
    shopify_order_id           TEXT NOT NULL,
    order_name                 TEXT NOT NULL,
    order_num                  TEXT NOT NULL,
    warehouse_id               INTEGER NOT NULL,
    pulpo_order_id             INTEGER,
    fingerprint                TEXT NOT NULL,
    state                      TEXT NOT NULL, -- the PULPO state as last seen
    updated_at                 TEXT NOT NULL,
    PRIMARY KEY (origin_credential_id, destination_credential_id, fulfillment_order_id)
);
CREATE INDEX order_links_by_order ON order_links (origin_credential_id, destination_credential_id, shopify_order_id);
CREATE UNIQUE INDEX order_links_by_order_num ON order_links (origin_credential_id, destination_credential_id, order_num);

-- Orders whose last handling failed or ended in a conflict: later runs re-fetch them by id even
-- when the cursor has moved past them.
CREATE TABLE order_attention (
    integration_id    INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    shopify_order_id  TEXT NOT NULL,
    order_name        TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('failed', 'conflict')),
    reason            TEXT NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 1,
    run_id            INTEGER,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (integration_id, shopify_order_id)
);
