-- Retention: runs and their logs older than a setting are deleted by a background job, so the
-- totals /metrics exports can no longer be sums over the runs table (they would go down, and a
-- Prometheus counter never does). `run_totals` keeps them per configuration and final status,
-- added to in the transaction that ends a run and never decreased by retention.
CREATE TABLE run_totals (
    integration_id     INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    status             TEXT NOT NULL CHECK (status IN ('FINISHED', 'FINISHED_PARTIALLY', 'FAILED')),
    runs               INTEGER NOT NULL DEFAULT 0,
    fetched            INTEGER NOT NULL DEFAULT 0,
    created            INTEGER NOT NULL DEFAULT 0,
    updated            INTEGER NOT NULL DEFAULT 0,
    cancelled          INTEGER NOT NULL DEFAULT 0,
    skipped            INTEGER NOT NULL DEFAULT 0,
    failed             INTEGER NOT NULL DEFAULT 0,
    conflicts          INTEGER NOT NULL DEFAULT 0,
    shopify_requests   INTEGER NOT NULL DEFAULT 0,
    shopify_points     INTEGER NOT NULL DEFAULT 0,
    shopify_throttled  INTEGER NOT NULL DEFAULT 0,
    pulpo_requests     INTEGER NOT NULL DEFAULT 0,
    pulpo_retries      INTEGER NOT NULL DEFAULT 0,
    finished_seconds   REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (integration_id, status)
);

-- Runs failed by the 0002 migration (before leases) have no end in milliseconds; retention and
-- the overview find ended runs by it.
UPDATE runs SET ended_ms = CAST(ROUND((julianday(finished_at) - 2440587.5) * 86400000.0) AS INTEGER)
WHERE ended_ms IS NULL AND finished_at IS NOT NULL
  AND status IN ('FINISHED', 'FINISHED_PARTIALLY', 'FAILED');

INSERT INTO run_totals (integration_id, status, runs, fetched, created, updated, cancelled, skipped,
    failed, conflicts, shopify_requests, shopify_points, shopify_throttled, pulpo_requests,
    pulpo_retries, finished_seconds)
SELECT integration_id, status, COUNT(*), SUM(fetched), SUM(created), SUM(updated), SUM(cancelled),
    SUM(skipped), SUM(failed), SUM(conflicts), SUM(shopify_requests), SUM(shopify_points),
    SUM(shopify_throttled), SUM(pulpo_requests), SUM(pulpo_retries),
    COALESCE(SUM((julianday(finished_at) - julianday(started_at)) * 86400.0), 0.0)
FROM runs WHERE status IN ('FINISHED', 'FINISHED_PARTIALLY', 'FAILED')
GROUP BY integration_id, status;

-- Ended runs by status and end: the retention job's batches (one status at a time, oldest
-- end first) and the overview's last 30 days.
CREATE INDEX runs_ended_by_status ON runs (status, ended_ms) WHERE ended_ms IS NOT NULL;
-- The runs an unresolved attention record points at are kept: looked up per candidate run.
CREATE INDEX attention_by_run ON attention (run_id) WHERE run_id IS NOT NULL;
