//! `tentacle bench …`: measurements against the sandboxes over real HTTP.
//!
//! Each measurement prints one JSON line so results can be collected and compared. They are
//! measurements, not tests: nothing here asserts a speed.

mod child;
mod claims;
mod placement;
mod products;
mod returns;
mod sales_orders;
mod sandboxes;
mod shipments;
mod stock;
mod usage;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Simple requests per second each sandbox serves (it must never be what limits a benchmark).
    Sandboxes(sandboxes::SandboxesArgs),
    /// One full sales orders import of a generated shop, against the bound the sandboxes'
    /// limits set.
    SalesOrders(Box<sales_orders::SalesOrdersArgs>),
    /// One stock reconcile (PULPO → Shopify) of a seeded catalog with a share changed in
    /// PULPO, against the bound the sandboxes' limits set.
    Stock(Box<stock::StockArgs>),
    /// One generate_shipments run making N shipped PULPO boxes (two per imported order)
    /// Shopify fulfillments, against the bound the sandboxes' limits set.
    Shipments(Box<shipments::ShipmentsArgs>),
    /// One products run importing N Shopify variants into PULPO, against the bound the
    /// sandboxes' limits set, then a rerun with nothing changed.
    Products(Box<products::ProductsArgs>),
    /// One returns run registering N PULPO customer returns (one per shipped order) as
    /// Shopify returns, against the bound the sandboxes' limits set.
    Returns(Box<returns::ReturnsArgs>),
    /// Runs claimed per second by 1, 2, 4… workers sharing one PostgreSQL database, on empty
    /// runs, and the time of one scheduler tick over all configurations.
    Claims(claims::ClaimsArgs),
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Sandboxes(args) => sandboxes::run(args).await,
        BenchCommand::SalesOrders(args) => sales_orders::run(*args).await,
        BenchCommand::Stock(args) => stock::run(*args).await,
        BenchCommand::Shipments(args) => shipments::run(*args).await,
        BenchCommand::Products(args) => products::run(*args).await,
        BenchCommand::Returns(args) => returns::run(*args).await,
        BenchCommand::Claims(args) => claims::run(args).await,
    }
}
