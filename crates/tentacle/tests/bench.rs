//! `tentacle bench sales-orders` runs a whole import and prints one JSON line with every figure.
//! A measurement, not a test of speed: only the shape of the line is checked.

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

fn bench(extra: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_tentacle"))
        .args(["bench", "sales-orders", "--orders", "50"])
        .args(["--pulpo-latency-ms", "1", "--pulpo-max-concurrency", "4"])
        .args(extra)
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
