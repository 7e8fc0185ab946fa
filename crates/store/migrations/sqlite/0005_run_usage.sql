-- What each run spent of the external APIs, for /metrics: Shopify requests, points and
-- throttles, PULPO requests and retries. Written as increments under the run's lease, so a
-- resumed run adds to what its first worker spent.
ALTER TABLE runs ADD COLUMN shopify_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN shopify_points INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN shopify_throttled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN pulpo_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN pulpo_retries INTEGER NOT NULL DEFAULT 0;
