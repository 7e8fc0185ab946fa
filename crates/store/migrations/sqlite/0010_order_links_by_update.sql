-- status_updates pages through the links of one store and PULPO by their last change
-- (`confirmed_order_links_since`): without this index every run read all of a store's links.
CREATE INDEX order_links_by_update ON order_links (origin_credential_id, destination_credential_id, updated_at, fulfillment_order_id);
