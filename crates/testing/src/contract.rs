//! The store contract: what every implementation of the ports promises, as async functions
//! that panic (with the promise named) on a breach. Each takes a store with no data for the
//! players it names, and a `now` in epoch milliseconds.

use idle_app::ports::Inbox;
use idle_core::model::Millis;
use idle_core::protocol::{Event, Notification};

fn note(seq: u64, at: Millis) -> Notification {
    Notification {
        seq,
        at,
        event: Event::QueueUpdated { queue: Vec::new() },
    }
}

fn seqs(notifications: &[Notification]) -> Vec<u64> {
    notifications.iter().map(|n| n.seq).collect()
}

/// Kept notifications: one per (player, seq), read after a seq in order with paging, expired
/// ones left out, nothing deleted by reading, players apart.
pub async fn kept_notifications<S: Inbox>(store: &S, now: Millis) {
    let live = now / 1000 + 3600;
    // 60: more than two DynamoDB BatchWriteItem calls, stored out of order.
    let first: Vec<Notification> = (1..=60).rev().map(|seq| note(seq, now)).collect();
    store.store("kept-a", &first, live).await.unwrap();
    // The same seqs again (a redelivery), with a duplicate inside one call: one of each.
    let again = [note(2, now), note(3, now), note(3, now)];
    store.store("kept-a", &again, live).await.unwrap();
    // One that expires at `now`, and another player's.
    store
        .store("kept-a", &[note(61, now)], now / 1000)
        .await
        .unwrap();
    store.store("kept-b", &[note(1, now)], live).await.unwrap();

    let all = store.kept_after("kept-a", 0, now, 1000).await.unwrap();
    assert_eq!(
        seqs(&all.notifications),
        (1..=60).collect::<Vec<_>>(),
        "in seq order, one each, expired left out"
    );
    assert!(!all.more, "nothing follows the last page");
    assert_eq!(all.notifications[4], note(5, now), "kept as stored");

    let page = store.kept_after("kept-a", 10, now, 20).await.unwrap();
    assert_eq!(
        seqs(&page.notifications),
        (11..=30).collect::<Vec<_>>(),
        "after the seq, at most the limit"
    );
    assert!(page.more, "more follow a full page");
    let last = store.kept_after("kept-a", 50, now, 10).await.unwrap();
    assert_eq!(seqs(&last.notifications), (51..=60).collect::<Vec<_>>());
    assert!(!last.more, "an expired row after the page is not `more`");

    let before_expiry = store.kept_after("kept-a", 59, now - 1, 10).await.unwrap();
    assert_eq!(
        seqs(&before_expiry.notifications),
        [60, 61],
        "live until its expiry"
    );

    let again = store.kept_after("kept-a", 0, now, 1000).await.unwrap();
    assert_eq!(again.notifications.len(), 60, "reading deletes nothing");
    let other = store.kept_after("kept-b", 0, now, 1000).await.unwrap();
    assert_eq!(seqs(&other.notifications), [1], "players apart");
    let nobody = store.kept_after("kept-none", 0, now, 10).await.unwrap();
    assert!(nobody.notifications.is_empty() && !nobody.more);
}
