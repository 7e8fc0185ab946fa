-- The state of the PULPO → Shopify types `generate_shipments` and `status_updates`. Like order
-- links, rows belong to the pair of systems (the Shopify store and the PULPO instance, named by
-- system because these types run from PULPO to Shopify), not to a configuration: deleting an
-- integration keeps them, and a credential they refer to cannot be deleted.

-- One Shopify fulfillment per PULPO packing box. A row with `fulfillment_id IS NULL` is an
-- intent written before `fulfillmentCreate`: if it is still there on the next attempt, the
-- fulfillment may exist, so look it up on the fulfillment order before creating it again.
-- `tracking` is the fingerprint of the tracking last sent, so a change in PULPO is sent once.
-- A Shopify fulfillment belongs to one box at most (NULLs, the intents, do not clash).
CREATE TABLE shipment_links (
    shopify_credential_id  INTEGER NOT NULL REFERENCES credentials(id),
    pulpo_credential_id    INTEGER NOT NULL REFERENCES credentials(id),
    box_id                 INTEGER NOT NULL,
    packing_order_id       INTEGER NOT NULL,
    sales_order_id         INTEGER NOT NULL,
    fulfillment_order_id   TEXT NOT NULL,
    shopify_order_id       TEXT NOT NULL,
    fulfillment_id         TEXT,
    tracking               TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    PRIMARY KEY (shopify_credential_id, pulpo_credential_id, box_id)
);
-- Ends with `box_id`, so the links of an order come in box order straight from the index.
CREATE INDEX shipment_links_by_order ON shipment_links (shopify_credential_id, pulpo_credential_id, shopify_order_id, box_id);
CREATE UNIQUE INDEX shipment_links_by_fulfillment ON shipment_links (shopify_credential_id, pulpo_credential_id, fulfillment_id);

-- What `status_updates` did to a Shopify order: when it added the tag (kept once set, so an
-- order the merchant untagged is not tagged again) and the lot/serial lines it appended to the
-- note (a JSON array of strings), so no line is appended twice.
CREATE TABLE status_marks (
    shopify_credential_id  INTEGER NOT NULL REFERENCES credentials(id),
    pulpo_credential_id    INTEGER NOT NULL REFERENCES credentials(id),
    shopify_order_id       TEXT NOT NULL,
    tagged_at              TEXT,
    note_lines             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    PRIMARY KEY (shopify_credential_id, pulpo_credential_id, shopify_order_id)
);
