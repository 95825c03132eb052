//! The URL argument of `anyipc bench` as a bench target: one-way endpoints get a reply
//! endpoint beside them, so that round trips and acknowledgements have a way back.

use crate::CliError;
use anyipc::bench::Target;
use anyipc::{Endpoint, Scheme};

/// `URL`, or `URL_TO_PEER + URL_FROM_PEER` as the user gave it; a lone `fifo://`, `file://`
/// or `mq://` URL is paired with a reply endpoint ([`reply_endpoint`]).
///
/// # Errors
/// `Usage` for a malformed URL.
pub(crate) fn target_arg(text: &str) -> Result<Target, CliError> {
    // Parsed once, by the bench's own rules (a pair, or one endpoint).
    let target = text
        .parse::<Target>()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    match target {
        Target::Anyipc(endpoint) if endpoint.scheme().is_one_way() => with_defaults(Target::Pair {
            from_peer: reply_endpoint(&endpoint)?,
            to_peer: endpoint,
        }),
        Target::Anyipc(endpoint) => Ok(Target::Anyipc(endpoint)),
        pair @ Target::Pair { .. } => with_defaults(pair),
        raw => Err(CliError::Usage(format!(
            "{raw} is one of the benchmark harness's raw baselines, not an anyipc endpoint \
             (--baseline adds the raw Unix-socket baseline to a run)"
        ))),
    }
}

/// The endpoint the peer answers on, beside `endpoint`: `PATH.reply` for `fifo://` and
/// `file://`, `NAME-reply` for `mq://` (created, like the run's other queues, and removed
/// afterwards).
fn reply_endpoint(endpoint: &Endpoint) -> Result<Endpoint, CliError> {
    let suffix = match endpoint.scheme() {
        Scheme::Mq => "-reply",
        _ => ".reply",
    };
    // The first `?` starts the query: a path's own `?` is written `%3F`.
    let url = endpoint.to_string();
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url.as_str(), String::new()),
    };
    let reply = Endpoint::parse(&format!("{base}{suffix}{query}"))?;
    Ok(match reply.scheme() {
        Scheme::Mq if reply.option("create").is_none() => reply.with_option("create", "true")?,
        _ => reply,
    })
}

/// A pair whose logs both start at their end, unless `from=` says otherwise: a run must not
/// read what earlier runs (or anything else) wrote.
fn with_defaults(target: Target) -> Result<Target, CliError> {
    let from_end = |e: Endpoint| -> Result<Endpoint, CliError> {
        if e.scheme() == Scheme::File && !e.has_framing() && e.option("from").is_none() {
            Ok(e.with_option("from", "end")?)
        } else {
            Ok(e)
        }
    };
    Ok(match target {
        Target::Pair { to_peer, from_peer } => Target::Pair {
            to_peer: from_end(to_peer)?,
            from_peer: from_end(from_peer)?,
        },
        other => other,
    })
}
