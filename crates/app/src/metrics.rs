//! CloudWatch metrics in Embedded Metric Format (EMF), and the task transition log.
//!
//! Use cases count what happened into [`Metrics`] (held by [`Services`](crate::Services)) as they
//! go; each Lambda handler calls [`Metrics::flush`] once at the end of its invocation, which
//! renders the counts as EMF JSON lines and writes them to the configured [`MetricsSink`]. In a
//! Lambda that sink is stdout — deliberately: CloudWatch Logs extracts EMF metrics from the
//! function's stdout, so no SDK call (and no latency) is spent on metrics. Elsewhere (tests, the
//! local runtime) the default sink is [`MetricsSink::Off`], or a buffer to inspect.
//!
//! One invocation at a time runs in a Lambda execution environment (AWS Lambda Developer Guide,
//! "Understanding Lambda function scaling"), so the counts flushed are exactly that
//! invocation's. A host that runs handlers concurrently over one `Services` (the local runtime)
//! gets correct totals, attributed to whichever invocation flushes first.
//!
//! Lines written, one JSON object each:
//! - per function (`Dimensions: [["Function"]]`): `ProcessingDuration` (Milliseconds),
//!   `ColdStart` (1 on the first invocation of a process), `NotificationsDelivered`,
//!   `NotificationsStored`, `NotificationsGone`, `PlayersUnreadable` (player items met that
//!   cannot be decoded), `PlayersUnwritable` (player writes the store refused for good), and
//!   where they apply `BatchSize` (stream records) and `ConnectionsCleaned`;
//! - per activity that saw any transition (`Dimensions: [["Function", "Activity"]]`):
//!   `TasksEnqueued`, `TasksStarted`, `TasksCompleted`, `TasksRetried`, `TasksFailed`,
//!   `TasksRejected`, `TasksCancelled`.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use idle_core::lifecycle::TransitionKind;
use idle_core::model::{Activity, Millis};
use idle_core::Plan;
use serde_json::{json, Map, Value};

use crate::usecase::Delivery;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "IdleBackend";

/// A task's change of state, as logged and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transition {
    Enqueued,
    Started,
    Completed,
    /// A transient failure with a retry scheduled.
    Retried,
    Failed,
    Rejected,
    Cancelled,
}

impl Transition {
    /// Every transition, in the order metrics list them.
    pub const ALL: [Transition; 7] = [
        Transition::Enqueued,
        Transition::Started,
        Transition::Completed,
        Transition::Retried,
        Transition::Failed,
        Transition::Rejected,
        Transition::Cancelled,
    ];

    /// The `outcome` field of its log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Enqueued => "enqueued",
            Transition::Started => "started",
            Transition::Completed => "completed",
            Transition::Retried => "retry",
            Transition::Failed => "failed",
            Transition::Rejected => "rejected",
            Transition::Cancelled => "cancelled",
        }
    }

    /// The EMF metric that counts it.
    pub fn metric(self) -> &'static str {
        match self {
            Transition::Enqueued => "TasksEnqueued",
            Transition::Started => "TasksStarted",
            Transition::Completed => "TasksCompleted",
            Transition::Retried => "TasksRetried",
            Transition::Failed => "TasksFailed",
            Transition::Rejected => "TasksRejected",
            Transition::Cancelled => "TasksCancelled",
        }
    }
}

impl From<TransitionKind> for Transition {
    fn from(kind: TransitionKind) -> Transition {
        match kind {
            TransitionKind::Enqueued => Transition::Enqueued,
            TransitionKind::Started => Transition::Started,
            TransitionKind::Completed => Transition::Completed,
            TransitionKind::Retried => Transition::Retried,
            TransitionKind::Failed => Transition::Failed,
            TransitionKind::Rejected => Transition::Rejected,
            TransitionKind::Cancelled => Transition::Cancelled,
        }
    }
}

/// Where [`Metrics::flush`] writes its EMF lines.
#[derive(Debug, Clone, Default)]
pub enum MetricsSink {
    /// Nowhere (tests, tools, the local runtime unless it asks).
    #[default]
    Off,
    /// The process's stdout, where Lambda's log agent picks EMF up.
    Stdout,
    /// Kept in memory, one string per line (tests).
    Buffer(Arc<Mutex<Vec<String>>>),
}

/// What one invocation counted so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Activity → transition → count.
    pub tasks: BTreeMap<Activity, BTreeMap<Transition, u64>>,
    pub notifications_delivered: u64,
    pub notifications_stored: u64,
    pub notifications_gone: u64,
    /// Player items read that could not be decoded (each time one is met).
    pub players_unreadable: u64,
    /// Player writes the store refused for a reason retrying cannot fix.
    pub players_unwritable: u64,
}

impl Tally {
    /// How many times `transition` happened to tasks of `activity`.
    pub fn count(&self, activity: Activity, transition: Transition) -> u64 {
        self.tasks
            .get(&activity)
            .and_then(|t| t.get(&transition))
            .copied()
            .unwrap_or(0)
    }
}

/// What only the handler knows about its invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invocation {
    /// The function's name as a metric dimension (`task-processor`, …).
    pub function: &'static str,
    /// When the invocation ended (server time, ms).
    pub at: Millis,
    /// Wall time the handler took.
    pub duration: Duration,
    /// Stream records in the batch (the processor only).
    pub batch_size: Option<usize>,
    /// Connections removed (the cleaner only).
    pub connections_cleaned: Option<usize>,
}

/// The per-invocation counters and the sink they are flushed to.
#[derive(Debug)]
pub struct Metrics {
    sink: MetricsSink,
    tally: Mutex<Tally>,
    cold: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(MetricsSink::Off)
    }
}

impl Metrics {
    /// Counters flushed to `sink`; the first flush reports a cold start.
    pub fn new(sink: MetricsSink) -> Metrics {
        Metrics {
            sink,
            tally: Mutex::new(Tally::default()),
            cold: AtomicBool::new(true),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one transition of a task of `activity`.
    pub fn task(&self, activity: Activity, transition: Transition) {
        *self
            .lock()
            .tasks
            .entry(activity)
            .or_default()
            .entry(transition)
            .or_insert(0) += 1;
    }

    /// Counts what a delivery did.
    pub fn delivery(&self, delivery: &Delivery) {
        let mut tally = self.lock();
        tally.notifications_delivered += delivery.delivered as u64;
        tally.notifications_stored += delivery.stored as u64;
        tally.notifications_gone += delivery.gone as u64;
    }

    /// Counts a player item that could not be decoded. Alarm on it: the item needs repair, and
    /// until then the player is skipped by every processor and tick.
    pub(crate) fn player_unreadable(&self) {
        self.lock().players_unreadable += 1;
    }

    /// Counts a player write the store refused for good (too large, invalid, not permitted).
    pub(crate) fn player_unwritable(&self) {
        self.lock().players_unwritable += 1;
    }

    /// The counts so far, without resetting them.
    pub fn snapshot(&self) -> Tally {
        self.lock().clone()
    }

    /// Renders the invocation's EMF lines, resets the counts and writes the lines to the sink.
    /// Returns the lines. A failed write to stdout is ignored: metrics never fail a request.
    pub fn flush(&self, invocation: &Invocation) -> Vec<String> {
        let tally = std::mem::take(&mut *self.lock());
        let cold = self.cold.swap(false, Ordering::SeqCst);
        let lines = render(invocation, cold, &tally);
        match &self.sink {
            MetricsSink::Off => {}
            MetricsSink::Stdout => {
                let mut out = std::io::stdout().lock();
                for line in &lines {
                    let _ = writeln!(out, "{line}");
                }
                let _ = out.flush();
            }
            MetricsSink::Buffer(buffer) => buffer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(lines.iter().cloned()),
        }
        lines
    }
}

/// The EMF lines of one invocation: the function's line, then one per active activity.
pub fn render(invocation: &Invocation, cold_start: bool, tally: &Tally) -> Vec<String> {
    let mut function_metrics: Vec<(&str, &str, f64)> = vec![
        (
            "ProcessingDuration",
            "Milliseconds",
            invocation.duration.as_secs_f64() * 1000.0,
        ),
        ("ColdStart", "Count", f64::from(u8::from(cold_start))),
        (
            "NotificationsDelivered",
            "Count",
            tally.notifications_delivered as f64,
        ),
        (
            "NotificationsStored",
            "Count",
            tally.notifications_stored as f64,
        ),
        (
            "NotificationsGone",
            "Count",
            tally.notifications_gone as f64,
        ),
        (
            "PlayersUnreadable",
            "Count",
            tally.players_unreadable as f64,
        ),
        (
            "PlayersUnwritable",
            "Count",
            tally.players_unwritable as f64,
        ),
    ];
    if let Some(n) = invocation.batch_size {
        function_metrics.push(("BatchSize", "Count", n as f64));
    }
    if let Some(n) = invocation.connections_cleaned {
        function_metrics.push(("ConnectionsCleaned", "Count", n as f64));
    }
    let mut lines = vec![line(
        invocation,
        &["Function"],
        &[("Function", invocation.function)],
        &function_metrics,
    )];
    for (activity, counts) in &tally.tasks {
        let metrics: Vec<(&str, &str, f64)> = Transition::ALL
            .iter()
            .map(|t| {
                (
                    t.metric(),
                    "Count",
                    counts.get(t).copied().unwrap_or(0) as f64,
                )
            })
            .collect();
        lines.push(line(
            invocation,
            &["Function", "Activity"],
            &[
                ("Function", invocation.function),
                ("Activity", activity.as_str()),
            ],
            &metrics,
        ));
    }
    lines
}

fn line(
    invocation: &Invocation,
    dimensions: &[&str],
    values: &[(&str, &str)],
    metrics: &[(&str, &str, f64)],
) -> String {
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": invocation.at,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions],
                "Metrics": definitions,
            }],
        }),
    );
    for (name, value) in values {
        root.insert((*name).into(), json!(value));
    }
    for (name, _, value) in metrics {
        // Counts are whole numbers: write them as integers.
        let value = if value.fract() == 0.0 && value.abs() < 1e15 {
            json!(*value as i64)
        } else {
            json!(value)
        };
        root.insert((*name).into(), value);
    }
    Value::Object(root).to_string()
}

/// Logs and counts every task transition a committed plan made, as the core reported them in
/// [`Plan::transitions`] (the reports count the same list, so they agree with the metrics). Each
/// log line carries `player_id`, `task_id`, `activity`, `outcome` (the transition), `attempts`
/// and, for failures and rejections, `code`; the Lambda request id comes from the runtime's span
/// around the invocation.
pub(crate) fn record_plan(metrics: &Metrics, player_id: &str, plan: &Plan) {
    for change in &plan.transitions {
        let transition = Transition::from(change.kind);
        metrics.task(change.activity, transition);
        tracing::info!(
            player_id,
            task_id = %change.task_id,
            activity = change.activity.as_str(),
            outcome = transition.as_str(),
            attempts = change.attempts,
            code = change.code.as_deref().unwrap_or(""),
            "task"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation() -> Invocation {
        Invocation {
            function: "task-processor",
            at: 1_800_000_000_000,
            duration: Duration::from_micros(2_500),
            batch_size: Some(7),
            connections_cleaned: None,
        }
    }

    #[test]
    fn a_plan_is_counted_by_the_transitions_the_core_reported() {
        use idle_core::lifecycle::TaskTransition;
        let transition = |task_id: &str, activity, kind, code: Option<&str>| TaskTransition {
            task_id: task_id.to_owned(),
            activity,
            kind,
            attempts: 1,
            code: code.map(str::to_owned),
        };
        // Given a plan with a retry, a final failure and a completion, and no notifications at
        // all (what the counts used to be read from)
        let plan = Plan {
            transitions: vec![
                transition(
                    "1",
                    Activity::Craft,
                    TransitionKind::Retried,
                    Some("transient_failure"),
                ),
                transition(
                    "2",
                    Activity::Craft,
                    TransitionKind::Failed,
                    Some("retries_exhausted"),
                ),
                transition("3", Activity::Harvest, TransitionKind::Completed, None),
            ],
            ..Plan::default()
        };
        let metrics = Metrics::default();
        record_plan(&metrics, "p1", &plan);
        let tally = metrics.snapshot();
        assert_eq!(tally.count(Activity::Craft, Transition::Retried), 1);
        assert_eq!(tally.count(Activity::Craft, Transition::Failed), 1);
        assert_eq!(tally.count(Activity::Harvest, Transition::Completed), 1);
        let total: u64 = tally.tasks.values().flat_map(|t| t.values()).sum();
        assert_eq!(total, 3, "{tally:?}");
    }

    #[test]
    fn an_invocation_renders_a_function_line_and_one_line_per_active_activity() {
        let metrics = Metrics::default();
        metrics.task(Activity::Harvest, Transition::Completed);
        metrics.task(Activity::Harvest, Transition::Completed);
        metrics.task(Activity::Combat, Transition::Started);
        let lines = metrics.flush(&invocation());
        assert_eq!(lines.len(), 3, "{lines:?}");
        let first: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["Function"], "task-processor");
        assert_eq!(first["BatchSize"], 7);
        assert_eq!(first["ColdStart"], 1);
        assert_eq!(first["ProcessingDuration"], 2.5);
        assert_eq!(first["PlayersUnreadable"], 0);
        assert_eq!(
            first["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"]])
        );
        // Activities in the game's order: harvest, craft, combat.
        let harvest: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(harvest["Activity"], "harvest");
        assert_eq!(harvest["TasksCompleted"], 2);
        assert_eq!(harvest["TasksStarted"], 0);
        let combat: Value = serde_json::from_str(&lines[2]).unwrap();
        assert_eq!(combat["Activity"], "combat");
        assert_eq!(combat["TasksStarted"], 1);
        // The counts were reset and the cold start reported once.
        let again = metrics.flush(&invocation());
        assert_eq!(again.len(), 1);
        let first: Value = serde_json::from_str(&again[0]).unwrap();
        assert_eq!(first["ColdStart"], 0);
    }
}
