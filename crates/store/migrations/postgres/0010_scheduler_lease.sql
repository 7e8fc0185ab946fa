-- Which process schedules. On PostgreSQL the election itself is a session-level advisory lock
-- held on a connection of its own (its holder's death frees it at once); this row only says who
-- holds it and since when, for /healthz, written by each new holder and renewed as it ticks.
CREATE TABLE scheduler_lease (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    owner             TEXT NOT NULL,
    since_ms          BIGINT NOT NULL,
    lease_expires_ms  BIGINT NOT NULL
);
