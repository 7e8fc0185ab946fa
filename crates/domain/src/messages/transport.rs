//! What `serve` says about where it listens.

use std::net::SocketAddr;

/// `serve --listen` on an address other machines reach, without a TLS proxy declared in front:
/// sessions, passwords and tokens would cross the network in clear text.
pub fn open_listener_refused(listen: SocketAddr) -> String {
    format!(
        "{listen} is reachable from other machines, and tentacle speaks plain HTTP: passwords, session cookies and API tokens would cross the network unencrypted. \
         Put a TLS-terminating proxy (nginx, Caddy, a load balancer) in front and pass --behind-proxy (TENTACLE_BEHIND_PROXY=true), \
         or listen on 127.0.0.1"
    )
}
