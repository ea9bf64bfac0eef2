//! The soak as a test: a smaller run than the command's default, same faults, no violations.

use idle_soak::{run_memory, SoakConfig};

#[tokio::test]
async fn a_hundred_players_and_a_thousand_tasks_under_faults_and_crashes_break_no_invariant() {
    // Given 100 players queueing 1,000 tasks under the default fault rates
    // (crashes more often than by default, so a run this short has several)
    let mut config = SoakConfig {
        players: 100,
        tasks: 1000,
        seed: 7,
        ..SoakConfig::default()
    };
    config.rates.crash = 0.1;

    // When the soak runs to the end
    let report = run_memory(config).await;
    println!("{report}");

    // Then every invariant holds, and the faults really happened
    assert_eq!(report.violations, 0, "{report}");
    assert!(report.tasks >= 1000, "{report}");
    assert_eq!(report.final_states.values().sum::<usize>(), report.tasks);
    assert!(
        report.store_faults() > 0 && report.faults.real_conflicts > 0,
        "{report}"
    );
    assert!(report.traffic.duplicate_records > 0 && report.traffic.replayed_batches > 0);
    // and crashes between commits and their outboxes lost no notification and reordered none
    assert!(report.faults.crashes > 0 && report.faults.crash_dropped_records > 0);
    assert!(report.traffic.restart_records > 0);
    assert_eq!(report.notifications.lost, 0);
    assert_eq!(report.notifications.out_of_order, 0);
    assert!(report.notifications.live_posts > 0 && report.traffic.wake_ups > 0);
    assert!(report.final_states.get("completed").copied().unwrap_or(0) > report.tasks / 2);
}
