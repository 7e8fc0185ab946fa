-- The state of `generate_shipments` and `status_updates`, the same tables and columns as on
-- SQLite (see migrations/sqlite/0008 for what each one means). Rows belong to the pair of
-- systems, like order links: an integration's deletion keeps them, a credential they refer to
-- cannot be deleted.

-- One Shopify fulfillment per PULPO packing box; `fulfillment_id IS NULL` is an intent written
-- before `fulfillmentCreate`; `tracking` is the fingerprint of the tracking last sent.
CREATE TABLE shipment_links (
    shopify_credential_id  BIGINT NOT NULL REFERENCES credentials(id),
    pulpo_credential_id    BIGINT NOT NULL REFERENCES credentials(id),
    box_id                 BIGINT NOT NULL,
    packing_order_id       BIGINT NOT NULL,
    sales_order_id         BIGINT NOT NULL,
    fulfillment_order_id   TEXT NOT NULL,
    shopify_order_id       TEXT NOT NULL,
    fulfillment_id         TEXT,
    tracking               TEXT NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (shopify_credential_id, pulpo_credential_id, box_id)
);
CREATE INDEX shipment_links_by_order ON shipment_links (shopify_credential_id, pulpo_credential_id, shopify_order_id, box_id);
CREATE UNIQUE INDEX shipment_links_by_fulfillment ON shipment_links (shopify_credential_id, pulpo_credential_id, fulfillment_id);

-- When the tag was added (kept once set) and the note lines appended (a JSON array of strings).
CREATE TABLE status_marks (
    shopify_credential_id  BIGINT NOT NULL REFERENCES credentials(id),
    pulpo_credential_id    BIGINT NOT NULL REFERENCES credentials(id),
    shopify_order_id       TEXT NOT NULL,
    tagged_at              TIMESTAMPTZ,
    note_lines             TEXT NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (shopify_credential_id, pulpo_credential_id, shopify_order_id)
);
