-- Runs become durable jobs: QUEUED → RUNNING → FINISHED | FINISHED_PARTIALLY | FAILED.
-- Scheduling times are epoch milliseconds (BIGINT on PostgreSQL) so claims can compare and add
-- them in SQL the same way on both backends.
--
-- `due_ms`: when the run may start. `attempts`: how often a worker claimed it (0 = never
-- started; a resumed run has more). `lease_owner` / `lease_expires_ms`: the worker that runs it
-- and until when its heartbeat holds the lease; every write of a running run checks both.
-- `exclusion_key` / `exclusion_role` / `exclusion_gap_ms`: the daily re-fetch of a Shopify store
-- (`daily`) never runs alongside a regular sales orders run of the same store (`regular`), and
-- keeps its time difference (carried by the daily run) after the other one ends (`ended_ms`).
ALTER TABLE runs ADD COLUMN due_ms INTEGER;
ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lease_owner TEXT;
ALTER TABLE runs ADD COLUMN lease_expires_ms INTEGER;
ALTER TABLE runs ADD COLUMN ended_ms INTEGER;
ALTER TABLE runs ADD COLUMN exclusion_key TEXT;
ALTER TABLE runs ADD COLUMN exclusion_role TEXT CHECK (exclusion_role IN ('daily', 'regular'));
ALTER TABLE runs ADD COLUMN exclusion_gap_ms INTEGER NOT NULL DEFAULT 0;

-- Runs left RUNNING by a process that ended before leases existed have no worker any more.
UPDATE runs SET status = 'FAILED', finished_at = started_at,
    error = 'interrupted: tentacle stopped during the run (before this version recorded leases)'
WHERE status = 'RUNNING';

-- A scheduled due time makes one run, whatever the number of schedulers and restarts.
CREATE UNIQUE INDEX runs_once_per_due_time ON runs (integration_id, due_ms)
    WHERE trigger IN ('schedule', 'daily');
-- One configuration never runs twice at once.
CREATE UNIQUE INDEX runs_one_running_per_integration ON runs (integration_id)
    WHERE status = 'RUNNING';
CREATE INDEX runs_queued_by_due ON runs (due_ms, id) WHERE status = 'QUEUED';
CREATE INDEX runs_running_by_lease ON runs (lease_expires_ms) WHERE status = 'RUNNING';
CREATE INDEX runs_by_exclusion ON runs (exclusion_key, status);
