-- Attention is kept per configuration, record kind and record id, so every integration type can
-- flag its own records (an order, a SKU, later a box, a product, a return), not only orders.
-- The flags of orders move over as records of kind `order`: the Shopify order id becomes the
-- record id and the order name its label. `record_kind` has no CHECK: a new kind must not need
-- a table rebuild; the store refuses to read a kind it does not know.
CREATE TABLE attention (
    integration_id  INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    record_kind     TEXT NOT NULL,
    record_id       TEXT NOT NULL,
    record_label    TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('failed', 'conflict')),
    reason          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 1,
    run_id          INTEGER,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (integration_id, record_kind, record_id)
);

INSERT INTO attention (integration_id, record_kind, record_id, record_label, kind, reason, attempts, run_id, updated_at)
SELECT integration_id, 'order', shopify_order_id, order_name, kind, reason, attempts, run_id, updated_at
FROM order_attention;

DROP TABLE order_attention;
