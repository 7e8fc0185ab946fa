-- Alerts: the channels operators are told through, the incidents worth telling (one open
-- incident per configuration and kind, and per channel for "stale", whose threshold is the
-- channel's), and the outbox of messages to deliver. Incidents and their messages are written
-- in the transaction that ends the run, so an alert is never lost nor decided twice.
CREATE TABLE alert_channels (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    name               TEXT NOT NULL UNIQUE,
    kind               TEXT NOT NULL CHECK (kind IN ('webhook', 'email')),
    -- JSON: `url`, or `smtp_host`, `smtp_port`, `starttls`, `username`, `from`, `to`.
    config             TEXT NOT NULL,
    -- AES-256-GCM ciphertext of the SMTP password (JSON), never plaintext.
    secrets            BLOB NOT NULL,
    -- 1: every configuration, present and future; 0: those in alert_channel_integrations.
    covers_all         INTEGER NOT NULL DEFAULT 1,
    stale_after_hours  INTEGER NOT NULL CHECK (stale_after_hours BETWEEN 1 AND 720),
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);

CREATE TABLE alert_channel_integrations (
    channel_id      INTEGER NOT NULL REFERENCES alert_channels(id) ON DELETE CASCADE,
    integration_id  INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    PRIMARY KEY (channel_id, integration_id)
);

CREATE TABLE alert_incidents (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id  INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('failed', 'conflicts', 'stale', 'api_version')),
    -- Only for `stale`: the channel whose threshold was passed.
    channel_id      INTEGER REFERENCES alert_channels(id) ON DELETE CASCADE,
    opened_at       TEXT NOT NULL,
    opened_run_id   INTEGER,
    closed_at       TEXT,
    closed_run_id   INTEGER
);

-- One open incident per configuration, kind (and channel): what makes a configuration failing
-- every minute send one alert, whichever process ends its runs.
CREATE UNIQUE INDEX alert_incidents_one_open
    ON alert_incidents (integration_id, kind, COALESCE(channel_id, 0)) WHERE closed_at IS NULL;

CREATE TABLE alert_outbox (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id        INTEGER NOT NULL REFERENCES alert_channels(id) ON DELETE CASCADE,
    incident_id       INTEGER NOT NULL REFERENCES alert_incidents(id) ON DELETE CASCADE,
    -- The run whose end queued the message (none for a stale incident opening).
    run_id            INTEGER,
    integration_name  TEXT NOT NULL,
    kind              TEXT NOT NULL,
    event             TEXT NOT NULL CHECK (event IN ('opened', 'recovered')),
    subject           TEXT NOT NULL,
    body              TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms   INTEGER NOT NULL,
    lease_owner       TEXT,
    lease_expires_ms  INTEGER,
    delivered_at      TEXT,
    last_error        TEXT
);

CREATE INDEX alert_outbox_pending ON alert_outbox (next_attempt_ms) WHERE delivered_at IS NULL;
CREATE INDEX alert_outbox_by_channel ON alert_outbox (channel_id, id);
