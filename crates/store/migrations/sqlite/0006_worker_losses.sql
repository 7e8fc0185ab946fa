-- How often the worker of a run was lost (its lease expired). The reaper resumes the run until
-- this reaches the retry limit, then fails it: a run that kills every worker it lands on must
-- not go round forever.
ALTER TABLE runs ADD COLUMN losses INTEGER NOT NULL DEFAULT 0;
