//! The continuous workload: every player's continuous task is settled in 15-minute chunks by
//! the wake-ups, and the run reports them.

use idle_cost::counting::Model;
use idle_cost::workload::{run, Params};

#[tokio::test]
async fn an_hour_of_continuous_tasks_is_four_chunks_a_player() {
    let report = run(Params {
        players: 3,
        tasks_per_player: 1,
        quantity: 1,
        batch_size: 100,
        tick_ms: 60_000,
        model: Model::default(),
        dedupe_wakes: false,
        offline: 0,
        record_calls: false,
        continuous_hours: Some(1),
    })
    .await;
    // A chunk is the whole actions that fit in 15 minutes, so four end within the hour
    assert_eq!(report.chunks, 3 * 4);
    assert!(report.actions >= 3 * 4);
    assert_eq!(report.task_hours, 3.0);
    assert!(report.counters.all_wcu() > 0);
}
