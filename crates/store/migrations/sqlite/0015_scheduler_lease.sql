-- Which process schedules. Every `tentacle serve` / `tentacle worker` process offers to; one row
-- says who does, until when. The holder renews `lease_expires_ms` every poll; another process
-- takes the row over (an atomic upsert conditioned on the old lease having expired) once the
-- holder stopped renewing it, so a killed scheduler is replaced within one lease. `since_ms` is
-- when the holder took over (shown in /healthz).
CREATE TABLE scheduler_lease (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    owner             TEXT NOT NULL,
    since_ms          INTEGER NOT NULL,
    lease_expires_ms  INTEGER NOT NULL
);
