-- generate_shipments keeps the PULPO orders tentacle imported: it looks their links up by PULPO
-- order id, a page of ids at a time.
CREATE INDEX order_links_by_pulpo_order ON order_links (origin_credential_id, destination_credential_id, pulpo_order_id);
