//! What can go wrong talking to Shopify, in words an operator can act on.

#[derive(Debug, thiserror::Error)]
pub enum ShopifyError {
    #[error(
        "Shopify refused the access token (401): check the Admin API access token of this credential"
    )]
    InvalidToken,
    #[error("Shopify knows no shop at {shop_url} (404): check the shop URL")]
    UnknownShop { shop_url: String },
    #[error(
        "the access token lacks a permission: {detail}. Grant the scope in the app's configuration and reinstall it"
    )]
    MissingScope { detail: String },
    #[error("Shopify refused the request ({status}): {detail}")]
    Refused { status: u16, detail: String },
    #[error(
        "the query costs {cost} points, above Shopify's single-query limit of {max}: use smaller pages"
    )]
    MaxCostExceeded { cost: u64, max: u64 },
    #[error("Shopify answered with errors: {}", .0.join("; "))]
    Graphql(Vec<String>),
    #[error("Shopify is unavailable after {attempts} attempts: {last}")]
    Unavailable { attempts: u32, last: String },
    #[error("Shopify's answer was lost ({detail}): the change may or may not have been made")]
    AnswerLost { detail: String },
    #[error(
        "the shop URL answered {status}, a redirect; tentacle follows no redirects (they would carry the access token elsewhere): give the shop's own address"
    )]
    Redirected { status: u16 },
    #[error(
        "the answer is larger than {cap_mib} MiB, far more than any Shopify page; tentacle stopped reading it: check the shop URL"
    )]
    TooLarge { cap_mib: usize },
    #[error("Shopify's answer could not be read: {0}")]
    Decode(String),
    #[error("tentacle built a request Shopify would refuse: {0}")]
    BadRequest(String),
    #[error("the shop URL {0:?} is not a valid http(s) URL")]
    BadShopUrl(String),
}

pub type Result<T, E = ShopifyError> = std::result::Result<T, E>;
