//! Operations on a mechanism tokio does not know (a shared-memory ring, a queue in shared
//! memory, an in-process channel's fast path, a log's hand-over to its writer thread) under
//! the task's cooperative budget, as tokio's own sockets and channels run theirs.

use std::task::{ready, Context, Poll};

/// Runs `op` as one operation of the task's budget: a unit is taken when it completes, none
/// when it waits. With the budget spent it yields (`Pending`, the task woken at once) before
/// running `op`, so a loop whose operations always complete at once still lets the task's
/// other futures and the thread's other tasks run. Outside a tokio runtime it just runs `op`.
#[inline]
pub(crate) fn budgeted<T>(
    cx: &mut Context<'_>,
    op: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    let budget = ready!(tokio::task::coop::poll_proceed(cx));
    let polled = op(cx);
    if polled.is_ready() {
        budget.made_progress();
    }
    polled
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// An operation that is always ready yields within tokio's budget (128 per turn).
    #[tokio::test]
    async fn an_always_ready_operation_yields_within_the_budget() {
        let ran = Arc::new(AtomicBool::new(false));
        let other = tokio::spawn({
            let ran = ran.clone();
            async move { ran.store(true, Ordering::SeqCst) }
        });
        let mut before_yield = 0;
        while !ran.load(Ordering::SeqCst) {
            std::future::poll_fn(|cx| budgeted(cx, |_| Poll::Ready(()))).await;
            before_yield += 1;
            assert!(before_yield <= 1_000, "never yielded");
        }
        assert!(before_yield >= 1, "yielded before any operation");
        other.await.unwrap();
    }

    /// Outside a runtime the budget is not enforced: the operation always runs.
    #[test]
    fn outside_a_runtime_the_operation_just_runs() {
        futures::executor::block_on(async {
            for _ in 0..1_000 {
                std::future::poll_fn(|cx| budgeted(cx, |_| Poll::Ready(()))).await;
            }
        });
    }
}
