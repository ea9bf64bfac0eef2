//! The capacity plan: what N concurrently connected players need, scaled from the counts of one
//! workload run (`idle-cost --capacity`, docs/capacity.md).
//!
//! The run gives everything per **player-hour** (its player-hours are its players × its server
//! time): tasks, client messages and posts, Lambda invocations per function, DynamoDB write and
//! read units per table, SQS requests. N players connected around the clock make N player-hours
//! every hour, so a rate per second is `N × (per player-hour) / 3600`. On top of that:
//!
//! - **Sessions**: a run connects each player once in a few minutes of server time, far more
//!   often than a real session; connects (ws-connect, ws-disconnect, the connection row, its id
//!   listed on the Players item, the connect's read of the player and a returning player's
//!   activity write) are rescaled to one per [`Assumptions::session_minutes`]. API Gateway
//!   closes any connection after 2 hours.
//! - **Lambda concurrency** by Little's law: concurrent executions = invocations per second ×
//!   the mean duration of one ([`Assumptions::lambda_ms`], the same assumption the bill prices:
//!   [`money::LAMBDA_SECONDS`]; replace it with the `Duration` average from the dashboard).
//! - **DynamoDB partitions**, from the documented per-partition limits (1,000 write units, 3,000
//!   read units per second, 10 GB; DynamoDB Developer Guide, "Partitions and data
//!   distribution" and "Throughput default quotas"): `max(⌈WCU/1000 + RCU/3000⌉, ⌈GB/10⌉)`. An
//!   estimate: DynamoDB splits partitions on its own and does not publish their count.
//! - **The `wake` index**: its partition key is one of `WakeShards` values, and its sort key is
//!   the wake time, which always grows, so a shard's writes land at the end of its key range
//!   where a split for heat does not help: each shard is held to one partition's 1,000 write
//!   units per second. Shards needed = the next power of two ≥ twice the index's write units
//!   per second / 1,000 (half of a partition, to leave room for peaks).
//! - **Storage**: Players items × registered players; history records × `HistoryTtlSecs`.
//! - **Money** per 730-hour month at the prices of [`money`], plus storage and log ingestion.

use std::collections::BTreeMap;

use crate::counting::{
    CONNECTIONS, CONNECTION_LISTS, FAILED_CONDITIONAL, HISTORY, KEPT, PLAYER_WRITES, WAKE_INDEX,
};
use crate::money;
use crate::workload::Report;

/// DynamoDB's documented per-partition write limit (write units per second).
pub const PARTITION_WCU: f64 = 1_000.0;
/// DynamoDB's documented per-partition read limit (read units per second).
pub const PARTITION_RCU: f64 = 3_000.0;
/// DynamoDB's partition size, GB.
pub const PARTITION_GB: f64 = 10.0;
/// API Gateway: new WebSocket connections per second per account per Region (default quota,
/// adjustable; "Quotas for configuring and running a WebSocket in API Gateway", read
/// 2026-11-30).
pub const APIGW_NEW_CONNECTIONS_PER_S: f64 = 500.0;
/// API Gateway: requests per second per account per Region across HTTP, REST, WebSocket and
/// WebSocket callback (`@connections`) APIs (default quota, adjustable; "Amazon API Gateway
/// quotas", read 2026-11-30). Client messages and posts both count.
pub const APIGW_REQUESTS_PER_S: f64 = 10_000.0;
/// The template's default per-route throttle (`RouteThrottlingRateLimit`), requests per second.
pub const ROUTE_RATE_LIMIT: f64 = 500.0;
/// Lambda: concurrent executions per account per Region (default quota, adjustable; AWS Lambda
/// Developer Guide, "Lambda quotas", read 2026-11-30).
pub const LAMBDA_ACCOUNT_CONCURRENCY: f64 = 1_000.0;
/// Hours in the month the bill uses (365 × 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;
/// DynamoDB Standard storage, $ per GB-month (us-east-1; <https://aws.amazon.com/dynamodb/pricing/>,
/// read 2026-11-30; the first 25 GB free, not applied).
pub const DYNAMODB_GB_MONTH: f64 = 0.25;
/// DynamoDB point-in-time recovery, $ per GB-month of table size (us-east-1 list price as
/// quoted on the DynamoDB pricing page; not confirmed from a page read here).
pub const PITR_GB_MONTH: f64 = 0.20;
/// CloudWatch Logs standard ingestion, $ per GB (us-east-1; third-party summaries of
/// <https://aws.amazon.com/cloudwatch/pricing/>, read 2026-11-30).
pub const LOGS_GB: f64 = 0.50;

/// What the plan assumes beyond the run's counts. Every figure of docs/capacity.md follows from
/// these and the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assumptions {
    /// Mean duration of one invocation, ms (Little's law and the Lambda bill).
    pub lambda_ms: f64,
    /// Mean length of a connection, minutes (one connect and one disconnect each).
    pub session_minutes: f64,
    /// The wake index's shards (`WakeShards`, 8 by default).
    pub wake_shards: u32,
    /// Days a history record is kept (`HistoryTtlSecs`, 90 days by default).
    pub history_days: f64,
    /// Bytes of one history record (the run writes each in one write unit: at most 1 KB).
    pub history_record_bytes: f64,
    /// Bytes of one Players item at rest (a player with a queue and its outbox, 1.7 to 4.4 KB
    /// in docs/performance.md: the upper end).
    pub player_item_bytes: f64,
    /// Registered players per concurrently connected one (every registered player has an item).
    pub registered_per_concurrent: f64,
    /// Bytes of CloudWatch Logs per invocation (platform `START`/`END`/`REPORT` lines and the
    /// EMF lines) and per task transition line.
    pub log_bytes_per_invocation: f64,
    pub log_bytes_per_transition: f64,
}

impl Default for Assumptions {
    fn default() -> Self {
        Assumptions {
            lambda_ms: money::LAMBDA_SECONDS * 1000.0,
            session_minutes: 60.0,
            wake_shards: 8,
            history_days: 90.0,
            history_record_bytes: 1024.0,
            player_item_bytes: 4096.0,
            registered_per_concurrent: 10.0,
            log_bytes_per_invocation: 1_500.0,
            log_bytes_per_transition: 350.0,
        }
    }
}

/// The four tables.
pub const TABLES: [&str; 4] = ["Players", "Tasks", "Connections", "Notifications"];

/// The run's usage per player-hour (sessions already rescaled).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PerPlayerHour {
    pub tasks: f64,
    /// Client messages (each a ws-message invocation).
    pub client_messages: f64,
    /// Posts to connections, in 32 KB units.
    pub posts: f64,
    /// Connects (and as many disconnects).
    pub connects: f64,
    /// Invocations per function (ws-disconnect included, one per connect).
    pub invocations: BTreeMap<&'static str, f64>,
    /// Write units per table: Players without its `wake` index (the connection lists
    /// included), Connections.
    pub wcu: BTreeMap<&'static str, f64>,
    /// Read units per table.
    pub rcu: BTreeMap<&'static str, f64>,
    /// Write units of the Players `wake` index (a GSI: its own partitions, billed as writes).
    pub wake_index_wcu: f64,
    pub sqs_requests: f64,
    /// Task transitions logged (enqueued, started, completed, …).
    pub transitions: f64,
}

/// Functions whose invocations grow with the players. The ticker (every minute) and the
/// cleaner (every 5 minutes) run on schedules, whatever the load.
fn scaled_function(name: &str) -> Option<&'static str> {
    match name {
        "ws-message" => Some("ws-message"),
        "task-processor (stream)" => Some("task-processor (stream)"),
        "task-processor (wake)" => Some("task-processor (wake)"),
        _ => None,
    }
}

impl PerPlayerHour {
    /// The run's counts per player-hour, with connects rescaled to one per session.
    pub fn from_report(report: &Report, a: &Assumptions) -> PerPlayerHour {
        let hours = report.player_hours.max(1e-9);
        let per = |n: f64| n / hours;
        let c = &report.counters;
        let run_connects = report.invocations.get("ws-connect").copied().unwrap_or(0) as f64;
        let connects = 60.0 / a.session_minutes.max(1e-9);
        // What one connect wrote in the run: its connection row and its id added to the
        // player's list (an update of the Players item; a new player's connect writes no
        // player: its first write is among the run's). A session also deletes the row and
        // unlists the id: twice the row's and the list's units.
        let row_units = c.wcu(CONNECTIONS) as f64 / run_connects.max(1.0);
        let list_units = c.wcu(CONNECTION_LISTS) as f64 / run_connects.max(1.0);
        let mut invocations = BTreeMap::new();
        for (name, n) in &report.invocations {
            if let Some(name) = scaled_function(name) {
                invocations.insert(name, per(*n as f64));
            }
        }
        invocations.insert("ws-connect", connects);
        invocations.insert("ws-disconnect", connects);
        // The Players table itself (its `wake` index apart): the run's player writes (its
        // connects, all of new players, wrote none), plus one unit per session: a returning
        // player's connect records its activity (one write of an item under 1 KB).
        let players_wcu = (c.wcu(PLAYER_WRITES) + c.wcu(FAILED_CONDITIONAL)) as f64;
        let mut wcu = BTreeMap::new();
        wcu.insert(
            "Players",
            per(players_wcu) + connects + connects * 2.0 * list_units,
        );
        wcu.insert("Tasks", per(c.wcu(HISTORY) as f64));
        wcu.insert("Connections", connects * 2.0 * row_units);
        wcu.insert("Notifications", per(c.wcu(KEPT) as f64));
        let rcu_of = |kind: &str| c.by_kind.get(kind).map_or(0.0, |u| u.rcu);
        let mut rcu = BTreeMap::new();
        // Players are read in batches (with their connection lists: posts read nothing more);
        // the ticker queries the `wake` index; a message finds its connection by id; `sync`
        // queries the kept notifications. Each connect reads its player (eventually consistent,
        // half a unit under 4 KB): the run's connects' reads are rescaled to one per session
        // like the connects.
        let players_rcu = (rcu_of("BatchGetItem") - 0.5 * run_connects).max(0.0) + rcu_of("Query");
        rcu.insert("Players", per(players_rcu) + 0.5 * connects);
        rcu.insert("Tasks", 0.0);
        rcu.insert("Connections", per(rcu_of("GetItem")));
        rcu.insert("Notifications", 0.0);
        let client_messages =
            per(report.invocations.get("ws-message").copied().unwrap_or(0) as f64);
        let transitions: u64 = c.transitions.values().sum();
        PerPlayerHour {
            tasks: per(report.completed as f64),
            client_messages,
            posts: (per(report.api_messages as f64) - client_messages).max(0.0),
            connects,
            invocations,
            wcu,
            rcu,
            wake_index_wcu: per(c.wcu(WAKE_INDEX) as f64),
            sqs_requests: per(report.sqs_requests as f64),
            transitions: per(transitions as f64),
        }
    }
}

/// One table's needs at one scale.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TableNeeds {
    pub wcu_per_s: f64,
    pub rcu_per_s: f64,
    pub storage_gb: f64,
    /// Estimated partitions: `max(⌈WCU/1000 + RCU/3000⌉, ⌈GB/10⌉, 1)`.
    pub partitions: u64,
}

/// What `players` concurrently connected players need.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Capacity {
    pub players: f64,
    pub tasks_per_s: f64,
    pub client_messages_per_s: f64,
    pub posts_per_s: f64,
    pub new_connections_per_s: f64,
    /// Function → (invocations per second, concurrent executions).
    pub functions: BTreeMap<&'static str, (f64, f64)>,
    pub total_concurrency: f64,
    pub tables: BTreeMap<&'static str, TableNeeds>,
    pub wake_index_wcu_per_s: f64,
    /// Write units per second on each wake shard (one partition each).
    pub wake_wcu_per_shard: f64,
    /// Shards that keep each under half a partition (a power of two).
    pub wake_shards_needed: u32,
    /// Service → dollars per month.
    pub monthly: Vec<(&'static str, f64)>,
}

impl Capacity {
    /// Dollars per month, every service.
    pub fn monthly_total(&self) -> f64 {
        self.monthly.iter().map(|(_, d)| d).sum()
    }
}

/// Partitions for a table's rates and size, from the documented per-partition limits.
pub fn partitions(wcu_per_s: f64, rcu_per_s: f64, storage_gb: f64) -> u64 {
    let by_throughput = (wcu_per_s / PARTITION_WCU + rcu_per_s / PARTITION_RCU).ceil();
    let by_size = (storage_gb / PARTITION_GB).ceil();
    by_throughput.max(by_size).max(1.0) as u64
}

/// The power of two of wake shards that keeps each shard at or under half a partition's writes.
pub fn wake_shards_needed(wake_wcu_per_s: f64) -> u32 {
    let shards = (2.0 * wake_wcu_per_s / PARTITION_WCU).ceil().max(1.0);
    let mut n = 1u32;
    while f64::from(n) < shards && n < 1 << 20 {
        n *= 2;
    }
    n
}

const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The needs of `players` concurrently connected players.
pub fn plan(rates: &PerPlayerHour, players: f64, a: &Assumptions) -> Capacity {
    let per_s = |per_hour: f64| players * per_hour / 3600.0;
    let seconds = a.lambda_ms / 1000.0;
    let mut functions: BTreeMap<&'static str, (f64, f64)> = rates
        .invocations
        .iter()
        .map(|(name, n)| (*name, (per_s(*n), per_s(*n) * seconds)))
        .collect();
    // Schedules: one at a time whatever the load.
    functions.insert("task-ticker", (1.0 / 60.0, (seconds / 60.0).min(1.0)));
    functions.insert(
        "connection-cleaner",
        (1.0 / 300.0, (seconds / 300.0).min(1.0)),
    );
    let total_concurrency = functions.values().map(|(_, c)| c).sum();
    let tasks_per_s = per_s(rates.tasks);
    let storage = |table: &str| match table {
        "Players" => players * a.registered_per_concurrent * a.player_item_bytes / GB,
        "Tasks" => tasks_per_s * a.history_days * 86_400.0 * a.history_record_bytes / GB,
        _ => 0.0,
    };
    let tables: BTreeMap<&'static str, TableNeeds> = TABLES
        .iter()
        .map(|table| {
            let wcu = per_s(rates.wcu.get(table).copied().unwrap_or(0.0));
            let rcu = per_s(rates.rcu.get(table).copied().unwrap_or(0.0));
            let gb = storage(table);
            (
                *table,
                TableNeeds {
                    wcu_per_s: wcu,
                    rcu_per_s: rcu,
                    storage_gb: gb,
                    partitions: partitions(wcu, rcu, gb),
                },
            )
        })
        .collect();
    let wake = per_s(rates.wake_index_wcu);
    let month_seconds = HOURS_PER_MONTH * 3600.0;
    let invocations_per_s: f64 = functions.values().map(|(n, _)| n).sum();
    let wcu_total: f64 = tables.values().map(|t| t.wcu_per_s).sum::<f64>() + wake;
    let rcu_total: f64 = tables.values().map(|t| t.rcu_per_s).sum();
    let gb_total: f64 = tables.values().map(|t| t.storage_gb).sum();
    let pitr_gb = tables["Players"].storage_gb + tables["Tasks"].storage_gb;
    let log_bytes_per_s = invocations_per_s * a.log_bytes_per_invocation
        + per_s(rates.transitions) * a.log_bytes_per_transition;
    let monthly = vec![
        ("DynamoDB writes", wcu_total * month_seconds * money::WRU),
        ("DynamoDB reads", rcu_total * month_seconds * money::RRU),
        ("DynamoDB storage", gb_total * DYNAMODB_GB_MONTH),
        ("DynamoDB PITR", pitr_gb * PITR_GB_MONTH),
        (
            "Lambda",
            invocations_per_s
                * month_seconds
                * (money::LAMBDA_REQUEST + money::LAMBDA_GB * seconds * money::LAMBDA_GB_SECOND),
        ),
        (
            "API Gateway messages",
            per_s(rates.client_messages + rates.posts) * month_seconds * money::WS_MESSAGE,
        ),
        (
            "API Gateway connection minutes",
            players * 60.0 * HOURS_PER_MONTH * money::WS_CONNECTION_MINUTE,
        ),
        (
            "SQS",
            per_s(rates.sqs_requests) * month_seconds * money::SQS_REQUEST,
        ),
        (
            "CloudWatch Logs ingestion",
            log_bytes_per_s * month_seconds / GB * LOGS_GB,
        ),
    ];
    Capacity {
        players,
        tasks_per_s,
        client_messages_per_s: per_s(rates.client_messages),
        posts_per_s: per_s(rates.posts),
        new_connections_per_s: per_s(rates.connects),
        functions,
        total_concurrency,
        tables,
        wake_index_wcu_per_s: wake,
        wake_wcu_per_shard: wake / f64::from(a.wake_shards.max(1)),
        wake_shards_needed: wake_shards_needed(wake),
        monthly,
    }
}

fn quota(value: f64, limit: f64) -> &'static str {
    if value > limit {
        "RAISE"
    } else if value > limit * 0.5 {
        "raise (over half)"
    } else {
        "ok"
    }
}

fn num(x: f64) -> String {
    let rounded = if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    // Thousands separators on the whole part.
    let (whole, frac) = rounded.split_once('.').unwrap_or((&rounded, ""));
    let mut out = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if frac.is_empty() {
        out
    } else {
        format!("{out}.{frac}")
    }
}

/// The capacity table (Markdown) for `scales`, with the per-player-hour rates it came from.
pub fn render(rates: &PerPlayerHour, plans: &[Capacity], a: &Assumptions) -> String {
    let mut out = String::new();
    let head = |out: &mut String, title: &str| {
        out.push_str(&format!("| {title} |"));
        for p in plans {
            out.push_str(&format!(" {} players |", num(p.players)));
        }
        out.push_str("\n| --- |");
        for _ in plans {
            out.push_str(" ---: |");
        }
        out.push('\n');
    };
    let row = |out: &mut String, name: &str, f: &dyn Fn(&Capacity) -> String| {
        out.push_str(&format!("| {name} |"));
        for p in plans {
            out.push_str(&format!(" {} |", f(p)));
        }
        out.push('\n');
    };
    out.push_str(&format!(
        "per player-hour (from the run): {} tasks, {} client messages, {} posts, {} connects, {} SQS requests\n",
        num(rates.tasks),
        num(rates.client_messages),
        num(rates.posts),
        num(rates.connects),
        num(rates.sqs_requests)
    ));
    out.push_str(&format!(
        "assumptions: {} ms per invocation, {}-minute sessions, {} wake shards, {} days of history at {} bytes, {} bytes per player item, {} registered players per connected one\n\n",
        a.lambda_ms, a.session_minutes, a.wake_shards, a.history_days, a.history_record_bytes,
        a.player_item_bytes, a.registered_per_concurrent
    ));
    head(&mut out, "load");
    row(&mut out, "tasks completed / s", &|p| num(p.tasks_per_s));
    row(&mut out, "client messages / s", &|p| {
        num(p.client_messages_per_s)
    });
    row(&mut out, "posts to clients / s", &|p| num(p.posts_per_s));
    row(&mut out, "new connections / s", &|p| {
        num(p.new_connections_per_s)
    });
    out.push('\n');
    head(&mut out, "API Gateway (default quota)");
    row(&mut out, "new connections / s (500)", &|p| {
        format!(
            "{} {}",
            num(p.new_connections_per_s),
            quota(p.new_connections_per_s, APIGW_NEW_CONNECTIONS_PER_S)
        )
    });
    row(&mut out, "requests / s: messages + posts (10,000)", &|p| {
        let r = p.client_messages_per_s + p.posts_per_s;
        format!("{} {}", num(r), quota(r, APIGW_REQUESTS_PER_S))
    });
    row(
        &mut out,
        "`enqueue` route / s (RouteThrottlingRateLimit 500)",
        &|p| {
            format!(
                "{} {}",
                num(p.client_messages_per_s),
                quota(p.client_messages_per_s, ROUTE_RATE_LIMIT)
            )
        },
    );
    out.push('\n');
    head(&mut out, "Lambda: invocations / s, concurrency");
    let names: Vec<&'static str> = plans
        .first()
        .map(|p| p.functions.keys().copied().collect())
        .unwrap_or_default();
    for name in names {
        row(&mut out, name, &|p| {
            let (n, c) = p.functions.get(name).copied().unwrap_or_default();
            format!("{} / s, {}", num(n), num(c))
        });
    }
    row(&mut out, "concurrency in all (1,000)", &|p| {
        format!(
            "{} {}",
            num(p.total_concurrency),
            quota(p.total_concurrency, LAMBDA_ACCOUNT_CONCURRENCY)
        )
    });
    out.push('\n');
    head(&mut out, "DynamoDB: WCU/s, RCU/s, GB, partitions");
    for table in TABLES {
        row(&mut out, table, &|p| {
            let t = p.tables[table];
            format!(
                "{} W, {} R, {} GB, {}",
                num(t.wcu_per_s),
                num(t.rcu_per_s),
                num(t.storage_gb),
                t.partitions
            )
        });
    }
    row(
        &mut out,
        &format!("`wake` index: WCU/s per shard ({} shards)", a.wake_shards),
        &|p| {
            format!(
                "{} ({}; {} shards needed)",
                num(p.wake_wcu_per_shard),
                if p.wake_wcu_per_shard > PARTITION_WCU {
                    "HOT"
                } else if p.wake_wcu_per_shard > PARTITION_WCU / 2.0 {
                    "over half"
                } else {
                    "ok"
                },
                p.wake_shards_needed
            )
        },
    );
    out.push('\n');
    head(&mut out, "$ per month");
    let lines: Vec<&'static str> = plans
        .first()
        .map(|p| p.monthly.iter().map(|(n, _)| *n).collect())
        .unwrap_or_default();
    for (i, line) in lines.iter().enumerate() {
        row(&mut out, line, &|p| num(p.monthly[i].1));
    }
    row(&mut out, "**total**", &|p| {
        format!("**{}**", num(p.monthly_total()))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_the_documented_per_partition_limits() {
        assert_eq!(partitions(0.0, 0.0, 0.0), 1);
        assert_eq!(partitions(1_000.0, 0.0, 0.0), 1);
        assert_eq!(partitions(1_001.0, 0.0, 0.0), 2);
        // Reads and writes share a partition: 500 W (half) + 1,500 R (half) = one.
        assert_eq!(partitions(500.0, 1_500.0, 0.0), 1);
        assert_eq!(partitions(500.0, 1_501.0, 0.0), 2);
        // Size wins when larger: 95 GB is 10 partitions.
        assert_eq!(partitions(10.0, 10.0, 95.0), 10);
    }

    #[test]
    fn wake_shards_keep_each_under_half_a_partition_in_powers_of_two() {
        assert_eq!(wake_shards_needed(0.0), 1);
        assert_eq!(wake_shards_needed(500.0), 1);
        assert_eq!(wake_shards_needed(501.0), 2);
        assert_eq!(wake_shards_needed(3_900.0), 8);
        assert_eq!(wake_shards_needed(4_001.0), 16);
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(num(1_234_567.4), "1,234,567");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(0.5), "0.50");
        assert_eq!(num(100.0), "100");
    }
}
