//! `[tcp]`: sockets, handshake and peer hygiene ([`TcpConfig`]), with their checks.

use super::{invalid, ConfigError, PeersAllowed};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `[tcp]`: sockets, handshake and peer hygiene (used by TCP links and `chainlab node`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TcpConfig {
    /// Interface each in-process TCP node listens on (on an ephemeral port).
    pub listen_host: String,
    /// A connection must finish its handshake within this.
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// A connection silent this long is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// A keepalive ping goes out after this much silence.
    #[serde(with = "humantime_serde")]
    pub ping_interval: Duration,
    /// First reconnection wait (doubling per failure, with jitter).
    #[serde(with = "humantime_serde")]
    pub reconnect_base: Duration,
    /// Longest reconnection wait.
    #[serde(with = "humantime_serde")]
    pub reconnect_max: Duration,
    /// How long a peer that sent invalid data is refused.
    #[serde(with = "humantime_serde")]
    pub discourage_for: Duration,
    /// Messages per second accepted from one peer (a burst of one second's worth is allowed);
    /// a faster peer is throttled (its socket is not read).
    pub max_msgs_per_sec: f64,
    /// Bytes per second accepted from one peer, likewise.
    pub max_bytes_per_sec: f64,
    /// Frames queued for sending to one peer; more are dropped and counted.
    pub queue_frames: usize,
    /// Most connected peers per node (inbound and outbound).
    pub max_peers: usize,
    /// Useless items (duplicates, unrequested data) from one peer within 10 s before it is
    /// disconnected as a flood.
    pub flood_limit: u64,
    /// Which public keys may connect: `"any"` or a list (see [`PeersAllowed`]).
    pub peers_allowed: PeersAllowed,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            listen_host: "127.0.0.1".into(),
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(10),
            reconnect_base: Duration::from_millis(250),
            reconnect_max: Duration::from_secs(10),
            discourage_for: Duration::from_secs(600),
            max_msgs_per_sec: 20_000.0,
            max_bytes_per_sec: 64.0 * 1024.0 * 1024.0,
            queue_frames: 4096,
            max_peers: 125,
            flood_limit: 2_000,
            peers_allowed: PeersAllowed::default(),
        }
    }
}

impl TcpConfig {
    /// Checks `tcp.*`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub(crate) fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let err = |key: &str, reason: String| invalid(file, key, reason);
        if self.listen_host.parse::<std::net::IpAddr>().is_err() {
            return err(
                "tcp.listen_host",
                format!("{:?} is not an IP address", self.listen_host),
            );
        }
        for (key, d) in [
            ("tcp.handshake_timeout", self.handshake_timeout),
            ("tcp.idle_timeout", self.idle_timeout),
            ("tcp.ping_interval", self.ping_interval),
            ("tcp.reconnect_base", self.reconnect_base),
            ("tcp.reconnect_max", self.reconnect_max),
        ] {
            if d.as_millis() < 1 {
                return err(key, "must be at least 1ms".into());
            }
        }
        if self.discourage_for > Duration::from_secs(365 * 24 * 3600) {
            return err("tcp.discourage_for", "must be at most a year".into());
        }
        if self.ping_interval >= self.idle_timeout {
            return err(
                "tcp.ping_interval",
                format!(
                    "must be shorter than tcp.idle_timeout ({:?})",
                    self.idle_timeout
                ),
            );
        }
        if self.reconnect_max < self.reconnect_base {
            return err(
                "tcp.reconnect_max",
                "must be at least tcp.reconnect_base".into(),
            );
        }
        for (key, v) in [
            ("tcp.max_msgs_per_sec", self.max_msgs_per_sec),
            ("tcp.max_bytes_per_sec", self.max_bytes_per_sec),
        ] {
            if !(v >= 1.0 && v.is_finite()) {
                return err(key, format!("{v} must be a finite number >= 1"));
            }
        }
        if self.max_bytes_per_sec < crate::net::MAX_FRAME_BYTES as f64 {
            return err(
                "tcp.max_bytes_per_sec",
                format!(
                    "must be at least the frame limit {} (one largest frame per second)",
                    crate::net::MAX_FRAME_BYTES
                ),
            );
        }
        if self.queue_frames == 0 || self.max_peers == 0 || self.flood_limit == 0 {
            let key = if self.queue_frames == 0 {
                "tcp.queue_frames"
            } else if self.max_peers == 0 {
                "tcp.max_peers"
            } else {
                "tcp.flood_limit"
            };
            return err(key, "must be positive".into());
        }
        if let Err((key, reason)) = self.peers_allowed.policy() {
            return err(&key, reason);
        }
        Ok(())
    }
}
