//! What a UDP listener holds at most, from its endpoint's options.

use super::budget::LISTENER_BYTE_BUDGET;
use crate::Endpoint;
use std::time::Duration;

/// Live sender connections a listener keeps, unless `max_peers=` says otherwise.
const DEFAULT_MAX_PEERS: usize = 1024;
/// How long a connection may stay quiet (no datagram from its sender or to it) before it
/// ends, unless `idle_timeout=` says otherwise.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Sweeps for idle senders per `idle_timeout`: a connection ends at most a period (a
/// quarter) late, or two where the period is clamped (the timeout rounded up to whole
/// periods, then the sweep after it).
const SWEEPS_PER_IDLE_TIMEOUT: u32 = 4;
/// Bounds on the time between sweeps: short timeouts are not swept in a busy loop, and the
/// timer never reaches past what `Instant` holds.
const MIN_SWEEP_PERIOD: Duration = Duration::from_millis(10);
const MAX_SWEEP_PERIOD: Duration = Duration::from_secs(3600);

/// A listener's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Limits {
    /// Largest datagram delivered; larger ones are delivered as `InvalidData`.
    pub(super) max_frame: usize,
    /// Live sender connections; a new sender's datagrams beyond this are dropped.
    pub(super) max_peers: usize,
    /// Quiet time after which a sender's connection ends; `None`: never.
    pub(super) idle_timeout: Option<Duration>,
    /// Bytes of queued datagrams across all connections; datagrams beyond it are dropped.
    pub(super) byte_budget: usize,
}

/// How the router finds idle senders: it sweeps every `period`, and ends a sender's
/// connection once `idle_sweeps` whole periods have passed without a datagram from it or
/// to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sweeps {
    pub(super) period: Duration,
    pub(super) idle_sweeps: u64,
}

impl Limits {
    /// The limits `endpoint` asks for (`max_peers=`, `idle_timeout=`, `max_queued=`,
    /// `max_frame=`; the URL parser has refused `max_peers=0`, a `max_queued` under 129 KiB
    /// and a `max_frame` over the largest datagram).
    pub(super) fn from_endpoint(endpoint: &Endpoint) -> Limits {
        let max_peers = endpoint
            .usize_option("max_peers")
            .unwrap_or(DEFAULT_MAX_PEERS);
        let idle_timeout = match endpoint.duration_option("idle_timeout") {
            None => Some(DEFAULT_IDLE_TIMEOUT),
            Some(Duration::ZERO) => None,
            Some(timeout) => Some(timeout),
        };
        let byte_budget = endpoint
            .usize_option("max_queued")
            .unwrap_or(LISTENER_BYTE_BUDGET);
        Limits {
            max_frame: endpoint.max_frame(),
            max_peers,
            idle_timeout,
            byte_budget,
        }
    }

    /// The sweeps that end idle connections; `None` when they are kept.
    pub(super) fn sweeps(&self) -> Option<Sweeps> {
        let timeout = self.idle_timeout?;
        let period = (timeout / SWEEPS_PER_IDLE_TIMEOUT).clamp(MIN_SWEEP_PERIOD, MAX_SWEEP_PERIOD);
        let idle_sweeps = timeout.as_nanos().div_ceil(period.as_nanos()).max(1);
        Some(Sweeps {
            period,
            idle_sweeps: u64::try_from(idle_sweeps).unwrap_or(u64::MAX),
        })
    }
}
