-- The state of the PULPO → Shopify type `returns`. Like shipment links, rows belong to the pair
-- of systems (the Shopify store and the PULPO instance), not to a configuration: deleting an
-- integration keeps them, and a credential they refer to cannot be deleted.

-- One Shopify return per PULPO customer return (an incoming good of document type `return`).
-- A row with `return_id IS NULL` is an intent written before `returnCreate`: if it is still
-- there on the next attempt, the return may exist, so look it up on the order's returns before
-- creating it again. A Shopify return belongs to one PULPO return at most (NULLs, the intents,
-- do not clash). `refund_id` is the Shopify refund of the returned goods, when the settings ask
-- for one and it was made (its idempotency key and note name the PULPO return, so a refund
-- whose answer was lost is found, not made twice).
CREATE TABLE return_links (
    shopify_credential_id  INTEGER NOT NULL REFERENCES credentials(id),
    pulpo_credential_id    INTEGER NOT NULL REFERENCES credentials(id),
    incoming_good_id       INTEGER NOT NULL,
    sales_order_id         INTEGER NOT NULL,
    shopify_order_id       TEXT NOT NULL,
    return_id              TEXT,
    refund_id              TEXT,
    updated_at             TEXT NOT NULL,
    PRIMARY KEY (shopify_credential_id, pulpo_credential_id, incoming_good_id)
);
-- Ends with `incoming_good_id`, so the links of an order come in receipt order from the index.
CREATE INDEX return_links_by_order ON return_links (shopify_credential_id, pulpo_credential_id, shopify_order_id, incoming_good_id);
CREATE UNIQUE INDEX return_links_by_return ON return_links (shopify_credential_id, pulpo_credential_id, return_id);
