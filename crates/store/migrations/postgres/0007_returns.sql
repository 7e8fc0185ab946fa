-- The state of `returns`, the same table and columns as on SQLite (see
-- migrations/sqlite/0012_returns.sql for what each one means). Rows belong to the pair of
-- systems: an integration's deletion keeps them, a credential they refer to cannot be deleted.

-- One Shopify return per PULPO customer return; `return_id IS NULL` is an intent written
-- before `returnCreate`; `refund_id` the refund made for it, when the settings ask for one.
CREATE TABLE return_links (
    shopify_credential_id  BIGINT NOT NULL REFERENCES credentials(id),
    pulpo_credential_id    BIGINT NOT NULL REFERENCES credentials(id),
    incoming_good_id       BIGINT NOT NULL,
    sales_order_id         BIGINT NOT NULL,
    shopify_order_id       TEXT NOT NULL,
    return_id              TEXT,
    refund_id              TEXT,
    updated_at             TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (shopify_credential_id, pulpo_credential_id, incoming_good_id)
);
CREATE INDEX return_links_by_order ON return_links (shopify_credential_id, pulpo_credential_id, shopify_order_id, incoming_good_id);
CREATE UNIQUE INDEX return_links_by_return ON return_links (shopify_credential_id, pulpo_credential_id, return_id);
