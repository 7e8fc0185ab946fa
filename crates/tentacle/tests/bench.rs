//! `tentacle bench sales-orders` runs a whole import, `tentacle bench stock` a whole reconcile,
//! `tentacle bench shipments` a whole shipments run and `tentacle bench returns` a whole returns
//! run, each printing one JSON line with every figure. Measurements, not tests of speed: only the
//! shape of the line is checked, and what the stock, shipments and returns runs wrote.

use std::process::Command;

use serde_json::Value;

const FIELDS: [&str; 10] = [
    "orders",
    "wall_s",
    "orders_per_s",
    "shopify_points",
    "points_per_order",
    "pulpo_requests",
    "bound_s",
    "efficiency",
    "peak_rss_mb",
    "cpu_s",
];

const STOCK_FIELDS: [&str; 13] = [
    "items",
    "changed",
    "wall_s",
    "items_per_s",
    "shopify_points",
    "points_per_item",
    "shopify_mutations",
    "pulpo_requests",
    "bound_s",
    "efficiency",
    "peak_rss_mb",
    "cpu_s",
    "catalog_compared",
];

fn bench(extra: &[&str]) -> Value {
    bench_line(
        &[
            &["bench", "sales-orders", "--orders", "50"][..],
            &["--pulpo-latency-ms", "1", "--pulpo-max-concurrency", "4"],
            extra,
        ]
        .concat(),
    )
}

fn bench_line(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_tentacle"))
        .args(args)
        .output()
        .expect("tentacle runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line: {stdout}");
    serde_json::from_str(lines[0]).expect("JSON")
}

#[test]
fn bench_sales_orders_prints_one_json_line_with_every_figure() {
    for (extra, placement) in [
        (&[][..], "in-process"),
        (&["--sandboxes", "child-process"][..], "child process"),
    ] {
        let line = bench(extra);
        for field in FIELDS {
            assert!(line[field].is_number(), "{field} missing in {line}");
        }
        assert_eq!(line["orders"], 50);
        assert_eq!(line["run"]["fetched"], 50, "{line}");
        assert!(line["run"]["created"].as_u64() > Some(0), "{line}");
        assert!(line["pulpo_requests"].as_u64() > Some(0), "{line}");
        assert_eq!(line["sandboxes"], placement);
    }
}

#[test]
fn bench_stock_sets_only_the_changed_share_250_per_mutation() {
    for (share, placement) in [("0.5", "in-process"), ("0", "child-process")] {
        let line = bench_line(&[
            "bench",
            "stock",
            "--items",
            "600",
            "--changed-share",
            share,
            "--pulpo-latency-ms",
            "1",
            "--pulpo-max-concurrency",
            "4",
            "--sandboxes",
            placement,
        ]);
        for field in STOCK_FIELDS {
            assert!(line[field].is_number(), "{field} missing in {line}");
        }
        let changed = line["changed"].as_u64().expect("changed");
        assert_eq!(changed, if share == "0" { 0 } else { 300 }, "{line}");
        assert_eq!(line["shopify_mutations"], changed.div_ceil(250), "{line}");
        assert_eq!(line["run"]["updated"], changed, "{line}");
        assert_eq!(line["run"]["failed"], 0, "{line}");
        let compared = line["run"]["fetched"].as_u64().expect("fetched");
        assert_eq!(
            compared,
            600 + line["catalog_compared"].as_u64().expect("catalog")
        );
        assert!(line["pulpo_requests"].as_u64() > Some(0), "{line}");
    }
}

const SHIPMENT_FIELDS: [&str; 11] = [
    "boxes",
    "wall_s",
    "boxes_per_s",
    "shopify_points",
    "points_per_box",
    "pulpo_requests",
    "bound_s",
    "efficiency",
    "peak_rss_mb",
    "cpu_s",
    "fulfillments",
];

#[test]
fn bench_shipments_makes_one_fulfillment_per_box() {
    for placement in ["in-process", "child-process"] {
        let line = bench_line(&[
            "bench",
            "shipments",
            "--boxes",
            "6",
            "--pulpo-latency-ms",
            "1",
            "--pulpo-max-concurrency",
            "4",
            "--sandboxes",
            placement,
        ]);
        for field in SHIPMENT_FIELDS {
            assert!(line[field].is_number(), "{field} missing in {line}");
        }
        assert_eq!(line["boxes"], 6, "{line}");
        assert_eq!(line["orders"], 3, "{line}");
        assert_eq!(line["fulfillments"], 6, "one fulfillment per box: {line}");
        assert_eq!(line["run"]["created"], 6, "{line}");
        assert_eq!(line["run"]["failed"], 0, "{line}");
        assert_eq!(line["run"]["status"], "FINISHED", "{line}");
        assert!(line["pulpo_requests"].as_u64() > Some(0), "{line}");
        assert!(line["shopify_points"].as_u64() > Some(0), "{line}");
    }
}

const RETURN_FIELDS: [&str; 10] = [
    "returns",
    "wall_s",
    "returns_per_s",
    "shopify_points",
    "points_per_return",
    "bound_s",
    "efficiency",
    "peak_rss_mb",
    "cpu_s",
    "shopify_returns",
];

#[test]
fn bench_returns_makes_one_shopify_return_per_pulpo_return() {
    for placement in ["in-process", "child-process"] {
        let line = bench_line(&[
            "bench",
            "returns",
            "--returns",
            "3",
            "--sandboxes",
            placement,
        ]);
        for field in RETURN_FIELDS {
            assert!(line[field].is_number(), "{field} missing in {line}");
        }
        assert_eq!(line["returns"], 3, "{line}");
        assert_eq!(
            line["shopify_returns"], 3,
            "one Shopify return each: {line}"
        );
        assert_eq!(line["run"]["created"], 3, "{line}");
        assert_eq!(line["run"]["status"], "FINISHED", "{line}");
        assert!(line["shopify_points"].as_u64() > Some(0), "{line}");
    }
}
