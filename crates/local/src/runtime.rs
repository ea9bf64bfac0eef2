//! Starting and stopping the whole system in one process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_apigatewaymanagement::config::Credentials;
use axum::serve::{ListenerExt, TapIo};
use idle_app::ports::{Clock, GameStore, Notifier, SystemClock, Waker};
use idle_app::{AppConfig, Services};
use idle_aws::ApiGatewayNotifier;
use idle_sqlite::{Import, SqliteOptions, SqliteStore};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::console::{self, ConsoleState};
use crate::error::LocalError;
use crate::feed::{self, CommitSignal, Feed};
use crate::gateway::{self, Gateway, InProcessNotifier, Links};
use crate::lock::DirLock;
use crate::settings::{dev_secrets_in, Options};
use crate::timers::{self, LocalWaker};

/// How often expired history, kept notifications and connection rows are purged.
pub const PURGE_EVERY: Duration = Duration::from_secs(60);

/// How long a shutdown waits for the messages being handled and the timers' and feed's
/// current rounds before it closes the store without them.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a shutdown waits for the sockets' close frames to be sent and for the server.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A running local runtime. Dropping it leaves the tasks running until the process ends; call
/// [`shutdown`](Running::shutdown) to stop it and close the store. Every change is committed
/// to the store (SQLite, WAL) before anything reports it, so a process killed at any moment
/// loses nothing it acknowledged.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    services: Arc<Services>,
    gateway: Arc<Gateway>,
    store: Arc<SqliteStore>,
    /// Held until the runtime is dropped, after the store is closed.
    lock: Option<DirLock>,
    /// Stops the feed, the ticker and the cleaner.
    stop_workers: watch::Sender<bool>,
    /// Stops the server accepting connections.
    stop_server: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl Running {
    /// The address the server listens on (the real port when `--listen` gave port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://127.0.0.1:PORT/ws` (add `?token=…`).
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The database file (`DIR/idle.db`), when a data directory is in use.
    pub fn data_file(&self) -> Option<PathBuf> {
        self.store.path().map(std::path::Path::to_path_buf)
    }

    /// The services every handler runs with.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// The data directory's lock file, when a data directory is in use.
    pub fn lock_file(&self) -> Option<&std::path::Path> {
        self.lock.as_ref().map(DirLock::path)
    }

    /// Stops gracefully: no new WebSocket connections and no more frames taken; the messages
    /// being handled and the timers' and feed's current rounds finish (for at most
    /// [`DRAIN_TIMEOUT`]); the server stops accepting; then every socket is closed with 1001,
    /// the store is checkpointed and the data directory's lock is released.
    ///
    /// The server keeps accepting until the work under way is done because that work replies
    /// through the `@connections` API on this same server, as the services do on AWS.
    pub async fn shutdown(self) -> Result<(), LocalError> {
        let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        self.gateway.drain();
        if tokio::time::timeout_at(deadline, self.gateway.idle())
            .await
            .is_err()
        {
            tracing::warn!("messages still being handled after the drain timeout; stopping anyway");
        }
        let _ = self.stop_workers.send(true);
        for mut worker in self.workers {
            if tokio::time::timeout_at(deadline, &mut worker)
                .await
                .is_err()
            {
                tracing::warn!("a timer or the feed did not stop in time; stopped mid-round");
                worker.abort();
            }
        }
        let _ = self.stop_server.send(true);
        if let Err(error) = self.store.checkpoint() {
            tracing::warn!(%error, "could not checkpoint the store; the WAL keeps every commit");
        }
        self.gateway.close_all();
        // Do not wait on a client that never reads its close frame.
        if tokio::time::timeout(CLOSE_TIMEOUT, self.gateway.all_closed())
            .await
            .is_err()
        {
            tracing::warn!("some sockets did not close in time");
        }
        let served = match tokio::time::timeout(CLOSE_TIMEOUT, self.server).await {
            Ok(Ok(Err(e))) => Err(LocalError::Serve(e)),
            Ok(Ok(Ok(()))) | Ok(Err(_)) | Err(_) => Ok(()),
        };
        drop(self.lock);
        served
    }
}

/// `listener`, setting `TCP_NODELAY` on every socket it accepts.
///
/// Replies and notifications are small frames, often written back to back; with Nagle's
/// algorithm on, the second waits for the client's (delayed) acknowledgement of the first,
/// about 40 ms on Linux.
fn without_nagle(listener: TcpListener) -> TapIo<TcpListener, fn(&mut TcpStream)> {
    listener.tap_io(set_nodelay as fn(&mut TcpStream))
}

fn set_nodelay(socket: &mut TcpStream) {
    if let Err(error) = socket.set_nodelay(true) {
        tracing::warn!(%error, "could not set TCP_NODELAY on an accepted socket");
    }
}

/// The SDK settings of the notifier: a region and static dummy credentials (nothing is signed
/// for AWS; the endpoint is this process).
async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("local"))
        .credentials_provider(Credentials::new(
            "local-access-key",
            "local-secret-key",
            None,
            None,
            "idle-local",
        ))
        .load()
        .await
}

/// Starts the whole system: loads the data directory (if any), binds `options.listen`, and
/// spawns the server, the outbox feed (first performing the outboxes not yet performed), the
/// wake-up timer (with every stored wake time armed again), the ticker (one sweep at once,
/// then every `options.tick`), the cleaner and the retention purge.
///
/// Refuses a non-loopback address unless `options.public`, and a public runtime with a public
/// dev secret; refuses a data directory another runtime holds.
pub async fn start(options: Options, config: AppConfig) -> Result<Running, LocalError> {
    if !options.public && !options.listen.ip().to_canonical().is_loopback() {
        return Err(LocalError::NotLoopback(options.listen));
    }
    if options.public {
        let dev = dev_secrets_in(&config);
        if !dev.is_empty() {
            return Err(LocalError::DevSecretsInPublic(dev));
        }
    }
    // Locked before anything in the directory is read, so two runtimes never both load it.
    let lock = options
        .data_dir
        .as_deref()
        .map(DirLock::acquire)
        .transpose()?;
    let store = Arc::new(open_store(options.data_dir.as_deref(), &config)?);
    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|source| LocalError::Bind {
            addr: options.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| LocalError::Bind {
        addr: options.listen,
        source,
    })?;

    let links = Arc::new(Links::default());
    let notifier: Arc<dyn Notifier> = if options.posts_through_api {
        Arc::new(ApiGatewayNotifier::new(
            &sdk_config().await,
            &format!("http://{addr}"),
        ))
    } else {
        Arc::new(InProcessNotifier::new(links.clone()))
    };
    let commits = Arc::new(Notify::new());
    let waker = Arc::new(LocalWaker::new());
    let services = Arc::new(
        Services::new(
            config,
            Arc::new(CommitSignal::new(
                store.clone() as Arc<dyn GameStore>,
                commits.clone(),
            )),
            store.clone(),
            store.clone(),
            notifier,
            Arc::new(SystemClock),
            waker.clone(),
        )
        .with_catalog_store(store.clone()),
    );
    // The catalog played is kept by hash in the data directory before anything runs, so a
    // task started now completes (and replays) under it after a restart with another catalog.
    services
        .register_catalog()
        .await
        .map_err(|e| LocalError::Store(format!("cannot store the catalog: {e}")))?;
    // Crash recovery: the process may have stopped between a commit and performing its
    // outbox, and armed wake-ups do not outlive it. The outboxes not reported performed are
    // performed first (again, maybe: idempotent), and every stored wake time is armed again.
    let resumed = Feed::resuming(feed::OutboxSource::unperformed_outboxes(store.as_ref()));
    let rearmed = rearm(store.as_ref(), &services, &waker).await;
    if resumed.pending() + rearmed > 0 {
        tracing::info!(
            outboxes = resumed.pending(),
            wake_ups = rearmed,
            "resuming: performing unperformed outboxes and re-arming wake-ups"
        );
    }
    let gateway = Arc::new(Gateway::with_links(services.clone(), links));
    let app = gateway::routes(gateway.clone()).merge(console::routes(ConsoleState {
        services: services.clone(),
        ws_url: format!("ws://{addr}/ws"),
        public: options.public,
    }));

    let (stop_workers, signal) = watch::channel(false);
    let (stop_server, mut server_signal) = watch::channel(false);
    let server = tokio::spawn(async move {
        axum::serve(
            without_nagle(listener),
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = server_signal.changed().await;
        })
        .await
    });
    let workers = vec![
        tokio::spawn(feed::run(
            services.clone(),
            store.clone(),
            resumed,
            commits,
            signal.clone(),
        )),
        tokio::spawn(timers::timer(services.clone(), waker, signal.clone())),
        // One sweep at once (due players advanced, their wake-ups armed again), then the
        // safety net's period.
        tokio::spawn(timers::ticker(
            services.clone(),
            Duration::ZERO,
            options.tick,
            signal.clone(),
        )),
        tokio::spawn(timers::cleaner(
            services.clone(),
            options.clean,
            signal.clone(),
        )),
        tokio::spawn(purge(store.clone(), services.clock.clone(), signal)),
    ];
    tracing::info!(%addr, "listening");
    Ok(Running {
        addr,
        services,
        gateway,
        store,
        lock,
        stop_workers,
        stop_server,
        server,
        workers,
    })
}

/// Opens the store: `DIR/idle.db` (importing an old `DIR/store.json` once), or an in-memory
/// SQLite database without a data directory: one code path.
fn open_store(
    dir: Option<&std::path::Path>,
    config: &AppConfig,
) -> Result<SqliteStore, LocalError> {
    let options = SqliteOptions {
        wake_shards: config.wake_shards,
        history_ttl_secs: config.history_ttl_ms / 1000,
        ..SqliteOptions::default()
    };
    let Some(dir) = dir else {
        return SqliteStore::in_memory_with(options).map_err(|e| LocalError::Store(e.to_string()));
    };
    let (store, import) =
        SqliteStore::start_in(dir, options).map_err(|e| LocalError::DataFile {
            path: dir.join(idle_sqlite::DATABASE_FILE),
            reason: e.to_string(),
        })?;
    if let Import::Imported { .. } = import {
        tracing::info!(?import, "imported the old data file into the database");
    }
    Ok(store)
}

/// Arms a wake-up for every stored player with a wake time (the sparse wake index, every
/// shard, read in pages); returns how many.
async fn rearm(store: &SqliteStore, services: &Services, waker: &LocalWaker) -> usize {
    let mut ids = Vec::new();
    for shard in 0..services.config.wake_shards.max(1) {
        let mut cursor = None;
        loop {
            match store.due_players(shard, i64::MAX, cursor).await {
                Ok(page) => {
                    ids.extend(page.items);
                    match page.next {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                }
                Err(error) => {
                    tracing::error!(%error, shard, "could not read the wake index to re-arm");
                    break;
                }
            }
        }
    }
    let mut armed = 0;
    for chunk in ids.chunks(100) {
        let Ok(loaded) = store.load_players(chunk).await else {
            continue;
        };
        for state in loaded.players {
            if let Some(at) = state.player.wake_at {
                if waker.arm(&state.player.player_id, at).await.is_ok() {
                    armed += 1;
                }
            }
        }
    }
    armed
}

/// Purges expired history records, kept notifications and connection rows every
/// [`PURGE_EVERY`], again at once while more are left, until `shutdown` turns true.
async fn purge(
    store: Arc<SqliteStore>,
    clock: Arc<dyn Clock>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(PURGE_EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => break,
        }
        loop {
            match store.purge_expired(clock.now()) {
                Ok(purged) if purged.more => tokio::task::yield_now().await,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, "could not purge expired rows; will retry");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener;

    #[tokio::test]
    async fn accepted_sockets_do_not_wait_for_nagle() {
        // Given a listener as the runtime serves it
        let bound = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = bound.local_addr().unwrap();
        let mut listener = without_nagle(bound);

        // When a client connects
        let (client, (accepted, _)) = tokio::join!(TcpStream::connect(addr), listener.accept());

        // Then the server's side sends small frames at once, though a socket's default is Nagle
        assert!(accepted.nodelay().unwrap());
        assert!(!client.unwrap().nodelay().unwrap());
    }
}
