-- Attention is kept per configuration, record kind and record id, so every integration type can
-- flag its own records (an order, a SKU, later a box, a product, a return), not only orders.
-- The flags of orders stay where they are as records of kind `order`: the Shopify order id is
-- the record id and the order name its label. `record_kind` has no CHECK, like on SQLite, where
-- a new kind would otherwise need a table rebuild; the store refuses to read a kind it does not
-- know.
ALTER TABLE order_attention RENAME TO attention;
ALTER TABLE attention RENAME COLUMN shopify_order_id TO record_id;
ALTER TABLE attention RENAME COLUMN order_name TO record_label;
ALTER TABLE attention ADD COLUMN record_kind TEXT NOT NULL DEFAULT 'order';
ALTER TABLE attention ALTER COLUMN record_kind DROP DEFAULT;
ALTER TABLE attention DROP CONSTRAINT order_attention_pkey;
ALTER TABLE attention ADD CONSTRAINT attention_pkey PRIMARY KEY (integration_id, record_kind, record_id);
