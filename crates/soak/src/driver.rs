//! The soak driver: clients, the outbox stream, the wake-up timer and the ticker, round by
//! round on a manual clock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_lambda_events::query_map::QueryMap;
use idle_app::auth::{mint, DEV_TOKEN_SECRET};
use idle_app::handlers;
use idle_app::memory::{ManualClock, MemoryNotifier, MemoryWaker};
use idle_app::outbox::{Commit, Outbox};
use idle_app::ports::{Clock, ConnectionStore, GameStore, Inbox, Waker};
use idle_app::state::PlayerState;
use idle_app::usecase;
use idle_app::{AppConfig, Secret, Services};
use idle_core::model::{Millis, Skill};
use idle_core::xp::xp_for_level;
use serde_json::{json, Value};

use crate::chaos::{durable_seq, Chaos, ChaosNotifier, ChaosStore, ChaosWaker, FaultRates};
use crate::check;
use crate::report::{Report, Traffic};
use crate::world::{Client, Ended};
pub use crate::world::{SEED_SECRET, START};

/// Shards of the wake index the soak's stores use.
pub const WAKE_SHARDS: u32 = 8;
/// Records per stream batch (the event source's batch size).
const BATCH: usize = 100;
/// Stream batches at most per round (a second of server time): enough for every outbox a
/// round commits, as a stream's shards keep up in parallel. Fewer, and the stream falls rounds
/// behind the commits (each of which now has an outbox).
const MAX_BATCHES_PER_ROUND: usize = 64;

/// Where the stream records come from: the in-memory store's outbox feed, or a DynamoDB stream.
#[async_trait]
pub trait Feed: Send {
    /// Records committed since the last call, oldest first, as Lambda stream event records.
    async fn take(&mut self) -> Vec<Value>;

    /// What a restarted processor performs first after a crash dropped `dropped`, the records
    /// it had taken and not performed. A durable stream (DynamoDB's) delivers them again from
    /// its checkpoint: that is the default. The in-memory store's taken records die with the
    /// process: the local runtime performs the store's unperformed outboxes instead.
    async fn restart(&mut self, dropped: Vec<Value>) -> Vec<Value> {
        dropped
    }

    /// Reports records performed (in full), so a restart need not perform them again.
    async fn performed(&mut self, _records: &[Value]) {}
}

/// The size of a run and its fault rates.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakConfig {
    pub players: usize,
    /// Tasks to create in all (accepted enqueues).
    pub tasks: usize,
    pub seed: u64,
    pub rates: FaultRates,
    /// Server time between rounds.
    pub step_ms: Millis,
    /// Rounds at most before the drain (a bound, never reached in a healthy run).
    pub max_rounds: usize,
    /// Rounds at most of the drain without faults.
    pub max_drain_rounds: usize,
    /// Rounds between two sweeps of the ticker (the safety net behind the wake-ups; 60 rounds
    /// of the default step is AWS's one minute).
    pub tick_every: usize,
    /// Run the clients, the stream and the ticker of a round at once (real conflicts). Off,
    /// they run one after another: for stores that do not serialise concurrent requests.
    pub concurrent: bool,
}

impl Default for SoakConfig {
    fn default() -> Self {
        SoakConfig {
            players: 1000,
            tasks: 10_000,
            seed: 1,
            rates: FaultRates::default(),
            step_ms: 1000,
            max_rounds: 5000,
            max_drain_rounds: 2000,
            tick_every: 60,
            concurrent: true,
        }
    }
}

/// A soak over one store.
pub struct Soak<S> {
    config: SoakConfig,
    pub(crate) store: Arc<S>,
    pub(crate) notifier: Arc<MemoryNotifier>,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) chaos: Arc<Chaos>,
    /// The message handlers' services (replies and `sync` posts are not live deliveries).
    services: Services,
    /// The outbox processor's, the timer's and the ticker's services: their notifier logs live
    /// deliveries.
    processor: Services,
    waker: Arc<MemoryWaker>,
    pub(crate) clients: Vec<Client>,
    created: AtomicUsize,
    pub(crate) traffic: Traffic,
}

/// The app config of soak runs: the dev token secret, the soak's seed secret, defaults.
pub fn soak_app_config() -> AppConfig {
    AppConfig {
        token_secret: Some(Secret::new(DEV_TOKEN_SECRET).expect("the dev secret is long enough")),
        seed_secret: Some(Secret::new(SEED_SECRET).expect("the soak secret is long enough")),
        wake_shards: WAKE_SHARDS,
        ..AppConfig::default()
    }
}

impl<S> Soak<S>
where
    S: GameStore + ConnectionStore + Inbox + Send + Sync + 'static,
{
    /// A soak over `store` (it should have [`WAKE_SHARDS`] shards) and `notifier`.
    pub fn new(config: SoakConfig, store: Arc<S>, notifier: Arc<MemoryNotifier>) -> Soak<S> {
        let chaos = Chaos::new(FaultRates::none(), config.seed);
        let clock = Arc::new(ManualClock::new(START));
        let chaotic = Arc::new(ChaosStore::new(store.clone(), chaos.clone()));
        let waker = Arc::new(MemoryWaker::new());
        let chaotic_waker = Arc::new(ChaosWaker::new(waker.clone(), chaos.clone()));
        let services = Services::new(
            soak_app_config(),
            chaotic.clone(),
            chaotic.clone(),
            chaotic.clone(),
            Arc::new(ChaosNotifier::new(notifier.clone(), chaos.clone())),
            clock.clone(),
            chaotic_waker.clone(),
        );
        let processor = Services::new(
            soak_app_config(),
            chaotic.clone(),
            chaotic.clone(),
            chaotic,
            Arc::new(ChaosNotifier::live(notifier.clone(), chaos.clone())),
            clock.clone(),
            chaotic_waker,
        );
        let clients = (0..config.players)
            .map(|i| Client::new(format!("p{i:05}")))
            .collect();
        Soak {
            config,
            store,
            notifier,
            clock,
            chaos,
            services,
            processor,
            waker,
            clients,
            created: AtomicUsize::new(0),
            traffic: Traffic::default(),
        }
    }

    /// Runs the soak: set-up, rounds with faults until every task is made and done, a drain
    /// without faults far past the last task, a final sync per player, then the checks.
    pub async fn run(mut self, mut feed: impl Feed) -> Report {
        self.set_up().await;
        self.chaos.set_rates(self.config.rates.clone());
        let mut stream = StreamState::default();
        let mut rounds = 0;
        while rounds < self.config.max_rounds {
            rounds += 1;
            self.round(&mut feed, &mut stream, rounds, true).await;
            if rounds % 100 == 0 {
                eprintln!(
                    "idle-soak: round {rounds}, {} tasks created",
                    self.created.load(Ordering::Relaxed)
                );
            }
            if self.created.load(Ordering::Relaxed) >= self.config.tasks
                && rounds % 10 == 0
                && self.all_idle().await
            {
                break;
            }
        }
        // The drain: no faults, everyone back online, time runs far past every task.
        self.chaos.set_rates(FaultRates::none());
        for _ in 0..self.config.max_drain_rounds {
            rounds += 1;
            self.round(&mut feed, &mut stream, rounds, false).await;
            if stream.backlog.is_empty() && rounds % 5 == 0 && self.all_idle().await {
                break;
            }
            self.clock.advance(4 * self.config.step_ms);
        }
        self.clock.advance(3_600_000);
        self.round(&mut feed, &mut stream, rounds + 1, false).await;
        let services = &self.services;
        let clock = self.clock.clone();
        let notifier = self.notifier.clone();
        for client in &mut self.clients {
            if client.online.is_none() {
                reconnect(services, &notifier, &clock, client).await;
            }
            send(services, &notifier, client, &json!({"action": "sync"})).await;
        }
        self.traffic.rounds = rounds;
        self.traffic.absorb(&stream.traffic);
        check::check(&Ended {
            store: &*self.store,
            notifier: &self.notifier,
            clock: &self.clock,
            chaos: &self.chaos,
            clients: &self.clients,
            traffic: &self.traffic,
        })
        .await
    }

    /// Connects every player and gives it materials, stations and levels so crafting and
    /// combat mostly start.
    async fn set_up(&mut self) {
        let services = &self.services;
        let clock = self.clock.clone();
        let notifier = self.notifier.clone();
        for client in &mut self.clients {
            reconnect(services, &notifier, &clock, client).await;
            // A new player has no item until its first write: this one is that write.
            let (mut state, expected_version) = match self
                .store
                .load_players(std::slice::from_ref(&client.player_id))
                .await
            {
                Ok(mut found) if !found.players.is_empty() => {
                    let state = found.players.remove(0);
                    let version = state.player.version;
                    (state, Some(version))
                }
                Ok(found) if found.unreadable.is_empty() => (
                    PlayerState::starter(&client.player_id, clock.now(), &services.game),
                    None,
                ),
                other => panic!("set-up: player {} unreadable: {other:?}", client.player_id),
            };
            let mut player = state.player.clone();
            for (item, units) in [
                ("oak_log", 60),
                ("guam_leaf", 80),
                ("copper_ore", 40),
                ("tin_ore", 40),
            ] {
                player.add_items(item, units);
            }
            player.stations.insert("furnace".to_owned());
            for skill in Skill::ALL {
                player.skills.insert(skill, xp_for_level(10));
            }
            player.character_xp = 3 * xp_for_level(10);
            player.version += 1;
            state.player = player;
            let commit = Commit {
                state: state.clone(),
                expected_version,
                outbox: Outbox::default(),
            };
            self.store.commit(&commit).await.expect("set-up commit");
            client.starter = Some(state);
        }
    }

    /// True when no player has an unfinished task.
    async fn all_idle(&self) -> bool {
        for ids in self.clients.chunks(100) {
            let ids: Vec<String> = ids.iter().map(|c| c.player_id.clone()).collect();
            match self.store.load_players(&ids).await {
                // An unreadable player is not known to be idle.
                Ok(loaded)
                    if loaded.unreadable.is_empty()
                        && loaded.players.iter().all(|s| s.queue.is_empty()) => {}
                _ => return false,
            }
        }
        true
    }

    /// One round: the clients, the stream, the due wake-ups and (every `tick_every` rounds)
    /// the ticker run at once, then time moves on. A crash in the stream restarts the
    /// processor's side: stored wake times armed again, one tick.
    async fn round(
        &mut self,
        feed: &mut impl Feed,
        stream: &mut StreamState,
        round: usize,
        clients_act: bool,
    ) {
        let services = &self.services;
        let processor = &self.processor;
        let waker = &self.waker;
        let chaos = &self.chaos;
        let notifier = &self.notifier;
        let clock = &self.clock;
        let created = &self.created;
        let target = self.config.tasks;
        let ticking = round % self.config.tick_every.max(1) == 0;
        let tick = || async move {
            if ticking {
                Some(handlers::task_tick(processor, serde_json::json!({})).await)
            } else {
                None
            }
        };
        let (crashed, ticked, woken) = if self.config.concurrent {
            let clients = futures::future::join_all(self.clients.iter_mut().map(|client| {
                client_round(
                    services,
                    chaos,
                    notifier,
                    clock,
                    created,
                    target,
                    client,
                    round,
                    clients_act,
                )
            }));
            let (_, crashed, ticked, woken) = tokio::join!(
                clients,
                pump(processor, chaos, feed, stream),
                tick(),
                wake_due(processor, waker)
            );
            (crashed, ticked, woken)
        } else {
            for client in self.clients.iter_mut() {
                client_round(
                    services,
                    chaos,
                    notifier,
                    clock,
                    created,
                    target,
                    client,
                    round,
                    clients_act,
                )
                .await;
            }
            let crashed = pump(processor, chaos, feed, stream).await;
            let woken = wake_due(processor, waker).await;
            (crashed, tick().await, woken)
        };
        if let Some(report) = ticked {
            self.traffic.ticks += 1;
            self.traffic.tick_errors += report.errors;
            self.traffic.tick_advanced += report.advanced;
        }
        self.traffic.wake_ups += woken.0;
        self.traffic.wake_failures += woken.1;
        if crashed {
            self.restart().await;
        }
        self.clock.advance(self.config.step_ms);
    }

    /// What the local runtime does at start after a crash, besides performing the last
    /// outboxes (the pump's [`Feed::restart`]): the armed wake-ups died with the process, so
    /// every stored wake time is armed again, and the ticker sweeps once.
    async fn restart(&mut self) {
        self.waker.take_due(Millis::MAX);
        for chunk in self.clients.chunks(100) {
            let ids: Vec<String> = chunk.iter().map(|c| c.player_id.clone()).collect();
            let Ok(loaded) = self.store.load_players(&ids).await else {
                continue;
            };
            for state in loaded.players {
                if let Some(at) = state.player.wake_at {
                    let _ = self.waker.arm(&state.player.player_id, at).await;
                }
            }
        }
        let report = handlers::task_tick(&self.processor, serde_json::json!({})).await;
        self.traffic.ticks += 1;
        self.traffic.tick_errors += report.errors;
        self.traffic.tick_advanced += report.advanced;
    }
}

/// Fires the wake-ups due at the clock's time (what the wake queue's consumer does), each
/// player once (for the latest of its due times), concurrently. One that fails is armed again
/// for the next round, for the same time (an SQS message becomes visible again). Returns
/// (players woken, failures).
async fn wake_due(services: &Services, waker: &MemoryWaker) -> (usize, usize) {
    let now = services.clock.now();
    let mut due: BTreeMap<String, Millis> = BTreeMap::new();
    for (at, player_id) in waker.take_due(now) {
        let latest = due.entry(player_id).or_insert(at);
        *latest = (*latest).max(at);
    }
    let results = futures::future::join_all(
        due.iter()
            .map(|(player_id, &at)| usecase::wake(services, player_id, at)),
    )
    .await;
    let mut failed = 0;
    for ((player_id, &at), result) in due.iter().zip(results) {
        if result.is_err() {
            failed += 1;
            let _ = waker.arm(player_id, at).await;
        }
    }
    (due.len(), failed)
}

/// What the stream pump keeps between rounds.
#[derive(Default)]
struct StreamState {
    /// Records not yet processed without failures, oldest first.
    backlog: Vec<Value>,
    traffic: Traffic,
}

fn sequence(record: &Value) -> Option<&str> {
    record
        .pointer("/dynamodb/SequenceNumber")
        .and_then(Value::as_str)
}

/// Delivers the stream as Lambda does: batches in order, each twice; a batch with item
/// failures is resumed from its lowest failed record (at once, up to the round's batches); now and then a batch that
/// succeeded is delivered again with everything after it (in order: at least once). Now and
/// then the process crashes before performing a batch: every record it had taken is dropped,
/// and the restart performs [`Feed::restart`]'s records first. Returns whether it crashed.
async fn pump(
    services: &Services,
    chaos: &Chaos,
    feed: &mut impl Feed,
    state: &mut StreamState,
) -> bool {
    state.backlog.extend(feed.take().await);
    let t = &mut state.traffic;
    for _ in 0..MAX_BATCHES_PER_ROUND {
        if state.backlog.is_empty() {
            break;
        }
        if chaos.chance(chaos.rates().crash) {
            let dropped = std::mem::take(&mut state.backlog);
            chaos.crashed(dropped.len());
            state.backlog = feed.restart(dropped).await;
            t.restart_records += state.backlog.len();
            return true;
        }
        let n = state.backlog.len().min(BATCH);
        let event = json!({ "Records": state.backlog[..n].to_vec() });
        let response = handlers::task_processor(services, event.clone()).await;
        t.batches += 1;
        t.records += n;
        let again = handlers::task_processor(services, event).await;
        t.duplicate_records += n;
        t.batch_item_failures += again.batch_item_failures.len();
        let failed: Vec<usize> = response
            .batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.as_deref())
            .filter_map(|id| {
                state.backlog[..n]
                    .iter()
                    .position(|r| sequence(r) == Some(id))
            })
            .collect();
        t.batch_item_failures += response.batch_item_failures.len();
        match failed.iter().min() {
            Some(&lowest) => {
                // Lambda resumes at the lowest failed record: everything after it again.
                feed.performed(&state.backlog[..lowest]).await;
                state.backlog.drain(..lowest);
                t.resumed_batches += 1;
            }
            None if chaos.chance(chaos.rates().replay) => {
                // Delivered again from its start, with what follows: nothing drained.
                t.replayed_batches += 1;
                t.replayed_records += n;
            }
            None => {
                feed.performed(&state.backlog[..n]).await;
                state.backlog.drain(..n);
            }
        }
    }
    false
}

fn ws_event(connection_id: &str) -> ApiGatewayWebsocketProxyRequest {
    let mut event = ApiGatewayWebsocketProxyRequest::default();
    event.request_context.connection_id = Some(connection_id.to_owned());
    event
}

/// Opens a new connection for the client and runs `$connect`.
async fn reconnect(
    services: &Services,
    notifier: &MemoryNotifier,
    clock: &ManualClock,
    client: &mut Client,
) -> bool {
    let now = clock.now();
    let connection_id = format!("{}~{}", client.player_id, client.connections.len() + 1);
    notifier.open(&connection_id, now);
    client.connections.push(connection_id.clone());
    let token = mint(
        DEV_TOKEN_SECRET.as_bytes(),
        &client.player_id,
        Duration::from_secs(30 * 24 * 3600),
        false,
        now,
    )
    .expect("dev tokens mint");
    let mut event = ws_event(&connection_id);
    event.request_context.route_key = Some("$connect".to_owned());
    event.query_string_parameters =
        serde_json::from_value::<QueryMap>(json!({ "token": token })).unwrap_or_default();
    let response = handlers::ws_connect(services, event).await;
    client.traffic.connects += 1;
    if response.status_code == 200 {
        client.online = Some((connection_id, 0));
        true
    } else {
        client.traffic.connect_failures += 1;
        notifier.drop_connection(&connection_id);
        false
    }
}

/// Sends one message through `ws_message` and returns the replies posted back for it.
async fn send(
    services: &Services,
    notifier: &MemoryNotifier,
    client: &mut Client,
    body: &Value,
) -> Vec<Value> {
    let Some((connection_id, read)) = client.online.clone() else {
        return Vec::new();
    };
    let mut event = ws_event(&connection_id);
    event.body = Some(body.to_string());
    handlers::ws_message(services, event).await;
    client.traffic.messages += 1;
    let posts = notifier.posts(&connection_id);
    client.online = Some((connection_id, posts.len()));
    let replies: Vec<Value> = posts[read.min(posts.len())..]
        .iter()
        .filter_map(|p| serde_json::from_str::<Value>(p).ok())
        // Replies, not notifications (told by type: a `snapshot` carries the player's `seq` too).
        .filter(|v| durable_seq(v.to_string().as_bytes()).is_none())
        .collect();
    for reply in &replies {
        if reply["type"] == "snapshot" {
            client.snapshot = Some(reply.clone());
        }
    }
    replies
}

/// A task request for the client's next enqueue: one of the three activities.
fn pick_task(chaos: &Chaos) -> Value {
    let quantity = 1 + chaos.below(3);
    match chaos.below(3) {
        0 => {
            let resource =
                ["copper_ore", "tin_ore", "oak_log", "guam_leaf"][chaos.below(4) as usize];
            json!({"activity": "harvest", "resource": resource, "location": "meadow", "quantity": quantity})
        }
        1 => {
            let recipe = ["oak_plank", "healing_tonic", "bronze_bar"][chaos.below(3) as usize];
            json!({"activity": "craft", "recipe": recipe, "quantity": quantity})
        }
        _ => {
            let enemy = ["chicken", "cow", "goblin"][chaos.below(3) as usize];
            json!({"activity": "combat", "enemy": enemy, "quantity": quantity})
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn client_round(
    services: &Services,
    chaos: &Chaos,
    notifier: &MemoryNotifier,
    clock: &ManualClock,
    created: &AtomicUsize,
    target: usize,
    client: &mut Client,
    round: usize,
    act: bool,
) {
    if client.online.is_none() {
        if round >= client.offline_until && reconnect(services, notifier, clock, client).await {
            send(services, notifier, client, &json!({"action": "sync"})).await;
        }
        return;
    }
    if !act {
        return;
    }
    if chaos.chance(chaos.rates().gone) {
        // The client vanishes without $disconnect: the next post to it is 410 Gone.
        if let Some((id, _)) = client.online.take() {
            notifier.drop_connection(&id);
            client.traffic.gone += 1;
        }
        client.offline_until = round + 1 + chaos.below(5) as usize;
        return;
    }
    let enqueue = match client.pending.clone() {
        Some(pending) => {
            client.traffic.resent += 1;
            Some(pending)
        }
        None if created.load(Ordering::Relaxed) < target && chaos.chance(0.5) => {
            let request_id = format!("{}-r{}", client.player_id, client.next_request);
            client.next_request += 1;
            let body =
                json!({"action": "enqueue", "request_id": request_id, "task": pick_task(chaos)});
            Some((request_id, body))
        }
        None => None,
    };
    if let Some((request_id, body)) = enqueue {
        let replies = send(services, notifier, client, &body).await;
        let answer = replies
            .iter()
            .find(|r| r["request_id"] == request_id.as_str())
            .cloned();
        client.pending = Some((request_id.clone(), body.clone()));
        match answer {
            Some(ack) if ack["type"] == "ack" => {
                client.pending = None;
                let task_id = ack["task_id"].as_str().unwrap_or_default().to_owned();
                if ack["duplicate"] == true {
                    client.traffic.duplicates_absorbed += 1;
                }
                if client.acked.insert(task_id) {
                    created.fetch_add(1, Ordering::Relaxed);
                }
                client.sent.push((request_id, body));
            }
            Some(error) => {
                let code = error["code"].as_str().unwrap_or("?").to_owned();
                *client.traffic.refusals.entry(code.clone()).or_insert(0) += 1;
                if !matches!(code.as_str(), "unavailable" | "rate_limited" | "queue_full") {
                    client.pending = None;
                }
            }
            // No answer (the reply's post failed): resend the same request id.
            None => client.traffic.unanswered += 1,
        }
    }
    let roll = chaos.draw();
    if roll < 0.04 && !client.acked.is_empty() {
        let i = chaos.below(client.acked.len() as u64) as usize;
        let task_id = client.acked.iter().nth(i).cloned().unwrap_or_default();
        let replies = send(
            services,
            notifier,
            client,
            &json!({"action": "cancel", "task_id": task_id}),
        )
        .await;
        client.traffic.cancels += 1;
        if replies.iter().any(|r| r["type"] == "ack") {
            client.traffic.cancels_acked += 1;
        }
    } else if roll < 0.08 {
        send(services, notifier, client, &json!({"action": "sync"})).await;
        client.traffic.syncs += 1;
    } else if roll < 0.10 && !client.sent.is_empty() {
        // An old request resent: answered with its original task, never a second one.
        let i = chaos.below(client.sent.len() as u64) as usize;
        let (request_id, body) = client.sent[i].clone();
        let replies = send(services, notifier, client, &body).await;
        if let Some(ack) = replies
            .iter()
            .find(|r| r["request_id"] == request_id.as_str())
        {
            if ack["type"] == "ack" {
                client.traffic.duplicates_absorbed += 1;
                if ack["duplicate"] != true {
                    client.traffic.duplicate_created_new += 1;
                }
            }
        }
    }
}
