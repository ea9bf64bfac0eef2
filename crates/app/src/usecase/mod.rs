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

use futures::stream::{self, Stream, StreamExt};

use crate::ports::{Page, StoreError};
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

/// Why [`pages`] ended early.
#[derive(Debug)]
pub(crate) enum PageError {
    /// A read failed; the pages end there (the next sweep reads them again).
    Read(StoreError),
    /// A page's `next` was the cursor it was read with: reading on would loop for ever.
    RepeatedCursor,
}

/// Every page of a paginated read, in order, as they are read: `read(None)`, then `read` of
/// each page's `next` until a page has none. A failed read ends the pages with its error; a
/// page whose `next` repeats its own cursor is yielded, then [`PageError::RepeatedCursor`]
/// ends them. Nothing is read until the stream is polled, and one page at a time.
pub(crate) fn pages<'a, T, F, Fut>(read: F) -> impl Stream<Item = Result<Vec<T>, PageError>> + 'a
where
    T: 'a,
    F: FnMut(Option<String>) -> Fut + 'a,
    Fut: Future<Output = Result<Page<T>, StoreError>> + 'a,
{
    enum Next {
        From(Option<String>),
        Repeated,
        Done,
    }
    stream::unfold((read, Next::From(None)), |(mut read, next)| async move {
        let cursor = match next {
            Next::Done => return None,
            Next::Repeated => return Some((Err(PageError::RepeatedCursor), (read, Next::Done))),
            Next::From(cursor) => cursor,
        };
        match read(cursor.clone()).await {
            Err(error) => Some((Err(PageError::Read(error)), (read, Next::Done))),
            Ok(page) => {
                let next = match page.next {
                    Some(next) if cursor.as_ref() == Some(&next) => Next::Repeated,
                    Some(next) => Next::From(Some(next)),
                    None => Next::Done,
                };
                Some((Ok(page.items), (read, next)))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pages `reads` answers in turn, and the cursors they were asked for.
    async fn read_all(
        reads: Vec<Result<Page<u32>, StoreError>>,
    ) -> (Vec<Result<Vec<u32>, String>>, Vec<Option<String>>) {
        let mut reads = reads.into_iter();
        let mut asked = Vec::new();
        let got: Vec<_> = pages(|cursor| {
            asked.push(cursor);
            let answer = reads.next().expect("read past the last page");
            async move { answer }
        })
        .map(|page| page.map_err(|e| format!("{e:?}")))
        .collect()
        .await;
        (got, asked)
    }

    fn page(items: &[u32], next: Option<&str>) -> Result<Page<u32>, StoreError> {
        Ok(Page {
            items: items.to_vec(),
            next: next.map(str::to_owned),
        })
    }

    #[tokio::test]
    async fn pages_follow_each_cursor_until_a_page_has_none() {
        let (got, asked) = read_all(vec![page(&[1, 2], Some("a")), page(&[3], None)]).await;
        assert_eq!(got, vec![Ok(vec![1, 2]), Ok(vec![3])]);
        assert_eq!(asked, vec![None, Some("a".to_owned())]);
    }

    #[tokio::test]
    async fn a_failed_read_ends_the_pages_with_its_error() {
        let failed = Err(StoreError::Transient("throttled".into()));
        let (got, asked) = read_all(vec![page(&[1], Some("a")), failed]).await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], Ok(vec![1]));
        assert!(
            got[1].as_ref().unwrap_err().contains("throttled"),
            "{got:?}"
        );
        assert_eq!(asked.len(), 2);
    }

    #[tokio::test]
    async fn a_cursor_returned_twice_yields_its_page_then_ends_the_pages() {
        let (got, asked) = read_all(vec![page(&[1], Some("a")), page(&[2], Some("a"))]).await;
        assert_eq!(got.len(), 3);
        assert_eq!(got[..2], [Ok(vec![1]), Ok(vec![2])]);
        assert_eq!(got[2], Err("RepeatedCursor".to_owned()));
        assert_eq!(asked, vec![None, Some("a".to_owned())]);
    }
}
