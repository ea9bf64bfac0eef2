//! The use cases: plain async functions over the ports, one module each. Each reads the time
//! from the `Clock` port once, at its start.

mod admin;
mod advance;
mod batch;
mod clean;
mod connect;
mod deliver;
mod disconnect;
mod message;
mod tick;
mod update;
mod wake;

pub use admin::{change_player_inventory, AdminChangeError, ADMIN_ATTEMPTS};
pub use batch::{perform_batch, BatchRecord, BatchReport, MalformedRecord};
pub use clean::{clean, CleanReport};
pub use connect::{connect, ConnectError, Connected};
pub use deliver::{deliver, Delivery};
pub use disconnect::disconnect;
pub(crate) use disconnect::forget_gone_id;
pub use message::{message, Answer};
pub use tick::{tick, TickReport};
pub use wake::{wake, WakeStep, Woken, MAX_WAIT_MS};

use std::future::Future;

use futures::stream::{self, StreamExt};

use crate::services::Services;

/// Runs `work` on every item, at most `config.player_concurrency` (at least one) at a time, and
/// returns the results in the items' order. The one bound on how many players (or
/// connections) a stream batch, a tick, a wake-queue batch, the local timer and the cleaner
/// handle at once; each item's work is started only when a place is free.
pub async fn concurrently<T, R, Fut>(
    services: &Services,
    items: impl IntoIterator<Item = T>,
    work: impl Fn(T) -> Fut,
) -> Vec<R>
where
    Fut: Future<Output = R>,
{
    let concurrency = services.config.player_concurrency.max(1);
    let mut done: Vec<(usize, R)> = stream::iter(items.into_iter().enumerate())
        .map(|(i, item)| {
            let result = work(item);
            async move { (i, result.await) }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, result)| result).collect()
}
