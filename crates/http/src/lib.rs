//! Outbound HTTP plumbing the connectors share (the Shopify and PULPO clients): the client
//! itself (no redirects, time limits), answers read up to a size cap, how long to wait before a
//! retry, what a `Retry-After` header asks for, and a transport error described in words
//! without its URL.

use std::time::Duration;

/// The most of one answer a connector reads: 16 MiB. The largest pages tentacle asks for are a
/// few MB at most: a Shopify GraphQL page is bounded by the 1000-point single-query cost (at
/// most 250 nodes per connection), and PULPO's largest, a product page of 2000
/// (`PRODUCT_PAGE`), is about 1 KB a product. An answer
/// past the cap is a misconfigured or hostile endpoint, and reading it whole would hold it all
/// in memory (a 400 MB answer to one connection check took a server from 107 MB to 917 MB).
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// The HTTP client both connectors use: never follows a redirect (a redirect would resend the
/// token or password to whatever origin it names; a 3xx is an error of the caller), gives up
/// on a connection after 10 s and on a whole exchange, answer included, after `timeout`.
pub fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("tentacle/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Why an answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The answer is (or grew) larger than the cap; reading stopped there.
    TooLarge { cap: usize },
    /// The connection failed or timed out while reading, in words ([`transport_detail`]).
    Transport(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::TooLarge { cap } => write!(
                f,
                "the answer is larger than {} MiB, far more than any real page; tentacle stopped reading it",
                cap / (1024 * 1024)
            ),
            ReadError::Transport(detail) => write!(f, "answer cut short: {detail}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// The answer's body, read chunk by chunk and stopped at `cap` bytes, so an endless or huge
/// answer costs at most `cap` of memory. A `Content-Length` above the cap is refused before
/// reading anything.
pub async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, ReadError> {
    if response
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return Err(ReadError::TooLarge { cap });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| ReadError::Transport(transport_detail(&error)))?
    {
        if body.len() + chunk.len() > cap {
            return Err(ReadError::TooLarge { cap });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Exponential backoff with jitter, bounded by `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
}

/// The longest a server's `Retry-After` may make a client wait before it tries again.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

impl Backoff {
    /// The wait before retry number `attempt` (1 for the first retry): `min × 2^attempt`, capped
    /// at `max`, with jitter so that many clients retrying at once do not come back in lockstep.
    /// A `Retry-After` the server sent is honoured when longer (up to a minute).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exponential = self.min.saturating_mul(1 << attempt.min(16)).min(self.max);
        let jittered = exponential.mul_f64(0.5 + fastrand::f64() * 0.5);
        retry_after.map_or(jittered, |after| after.max(jittered).min(MAX_RETRY_AFTER))
    }
}

/// The `Retry-After` header in seconds (Shopify sends `2.0`).
pub fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    parse_retry_after(value)
}

fn parse_retry_after(value: &str) -> Option<Duration> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// What went wrong on the wire, with every cause, without the URL (it is ours, and long).
pub fn transport_detail(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".into();
    }
    let mut detail = error.to_string();
    if let Some(url) = error.url() {
        detail = detail.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_with_jitter_and_honour_retry_after() {
        let backoff = Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        for _ in 0..200 {
            let first = backoff.delay(1, None);
            assert!(
                (Duration::from_millis(100)..=Duration::from_millis(200)).contains(&first),
                "{first:?}"
            );
            let late = backoff.delay(10, None);
            assert!(
                (Duration::from_secs(1)..=Duration::from_secs(2)).contains(&late),
                "{late:?}"
            );
        }
        assert!(backoff.delay(1, Some(Duration::from_secs(5))) >= Duration::from_secs(5));
        assert_eq!(
            backoff.delay(1, Some(Duration::from_secs(600))),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(parse_retry_after("2.0"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
