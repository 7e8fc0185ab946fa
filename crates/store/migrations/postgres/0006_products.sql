-- The state of the `products` type (Shopify → PULPO): which PULPO product each Shopify variant
-- is. Like shipment links, rows belong to the pair of systems, not to a configuration. A
-- variant is one PULPO product and a PULPO product one variant: the database refuses a second
-- link either way, so a SKU is never created twice and never claimed by two variants.
-- `sku` is the SKU the link was last written with, to find what links a SKU.
CREATE TABLE product_links (
    shopify_credential_id  BIGINT NOT NULL REFERENCES credentials(id),
    pulpo_credential_id    BIGINT NOT NULL REFERENCES credentials(id),
    variant_id             TEXT NOT NULL,
    pulpo_product_id       BIGINT NOT NULL,
    sku                    TEXT NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (shopify_credential_id, pulpo_credential_id, variant_id)
);
CREATE UNIQUE INDEX product_links_by_product ON product_links (shopify_credential_id, pulpo_credential_id, pulpo_product_id);
CREATE INDEX product_links_by_sku ON product_links (shopify_credential_id, pulpo_credential_id, sku);
