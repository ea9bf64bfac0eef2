//! Starting and stopping the whole system in one process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_apigatewaymanagement::config::Credentials;
use axum::serve::{ListenerExt, TapIo};
use idle_app::memory::MemoryStore;
use idle_app::ports::SystemClock;
use idle_app::{AppConfig, Services};
use idle_aws::ApiGatewayNotifier;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::console::{self, ConsoleState};
use crate::error::LocalError;
use crate::gateway::{self, Gateway};
use crate::persist::DataDir;
use crate::settings::Options;
use crate::{feed, timers};

/// How often the store is checked for changes to write to the data directory.
pub const PERSIST_EVERY: Duration = Duration::from_millis(200);

/// A running local runtime. Dropping it leaves the tasks running until the process ends; call
/// [`shutdown`](Running::shutdown) to stop it and write the data file one last time.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    services: Arc<Services>,
    gateway: Arc<Gateway>,
    data_dir: Option<DataDir>,
    shutdown: watch::Sender<bool>,
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

    /// `http://127.0.0.1:PORT/`, the web console.
    pub fn console_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The data file, when a data directory is in use.
    pub fn data_file(&self) -> Option<PathBuf> {
        self.data_dir.as_ref().map(DataDir::file)
    }

    /// The services every handler runs with.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// Stops the timers, the feed and the server, closes every socket and writes the data file.
    pub async fn shutdown(self) -> Result<(), LocalError> {
        let _ = self.shutdown.send(true);
        self.gateway.close_all();
        for worker in self.workers {
            let _ = worker.await;
        }
        // Sockets closed above end their connections; do not wait on a client that never
        // answers the close.
        match tokio::time::timeout(Duration::from_secs(2), self.server).await {
            Ok(Ok(Ok(()))) | Err(_) => {}
            Ok(Ok(Err(e))) => return Err(LocalError::Serve(e)),
            Ok(Err(_)) => {}
        }
        Ok(())
    }
}

/// `listener`, setting `TCP_NODELAY` on every socket it accepts.
///
/// Replies and notifications are small frames, often written back to back; with Nagle's
/// algorithm on, the second waits for the client's (delayed) acknowledgement of the first,
/// about 40 ms on Linux.
pub fn without_nagle(listener: TcpListener) -> TapIo<TcpListener, fn(&mut TcpStream)> {
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
/// spawns the server, the change feed, the ticker, the cleaner and the persister.
pub async fn start(options: Options, config: AppConfig) -> Result<Running, LocalError> {
    if !options.listen.ip().is_loopback() {
        return Err(LocalError::NotLoopback(options.listen));
    }
    let store = Arc::new(MemoryStore::new(config.wake_shards));
    let data_dir = match &options.data_dir {
        Some(dir) => {
            let data = DataDir::open(dir)?;
            if let Some(snapshot) = data.load()? {
                tracing::info!(
                    file = %data.file().display(),
                    players = snapshot.players.len(),
                    tasks = snapshot.history.len(),
                    "state loaded"
                );
                store.restore(snapshot);
            }
            Some(data)
        }
        None => None,
    };
    store.enable_change_feed();

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

    let notifier = ApiGatewayNotifier::new(&sdk_config().await, &format!("http://{addr}"));
    let services = Arc::new(Services::new(
        config,
        store.clone(),
        store.clone(),
        store.clone(),
        Arc::new(notifier),
        Arc::new(SystemClock),
    ));
    let gateway = Arc::new(Gateway::new(services.clone()));
    let app = gateway::routes(gateway.clone()).merge(console::routes(ConsoleState {
        services: services.clone(),
        ws_url: format!("ws://{addr}/ws"),
    }));

    let (shutdown, signal) = watch::channel(false);
    let mut server_signal = signal.clone();
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
    let mut workers = vec![
        tokio::spawn(feed::run(
            services.clone(),
            store.clone(),
            options.feed_poll,
            signal.clone(),
        )),
        tokio::spawn(timers::ticker(
            services.clone(),
            options.tick,
            signal.clone(),
        )),
        tokio::spawn(timers::cleaner(
            services.clone(),
            options.clean,
            signal.clone(),
        )),
    ];
    if let Some(data) = data_dir.clone() {
        workers.push(tokio::spawn(persist(data, store, signal)));
    }
    tracing::info!(%addr, "listening");
    Ok(Running {
        addr,
        services,
        gateway,
        data_dir,
        shutdown,
        server,
        workers,
    })
}

/// Writes the store to the data directory whenever it changed, and once more at shutdown.
async fn persist(data: DataDir, store: Arc<MemoryStore>, mut shutdown: watch::Receiver<bool>) {
    // What the file holds (or would, had it been written): unchanged state is not rewritten.
    let mut written = DataDir::render(store.snapshot()).unwrap_or_default();
    let mut interval = tokio::time::interval(PERSIST_EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = interval.tick() => false,
            _ = shutdown.changed() => true,
        };
        match DataDir::render(store.snapshot()) {
            Ok(contents) if contents != written => match data.save(&contents) {
                Ok(()) => written = contents,
                Err(error) => tracing::warn!(%error, "could not write the data file; will retry"),
            },
            Ok(_) => {}
            // Never replace a good file with a bad one.
            Err(error) => tracing::error!(%error, "could not serialise the store; not written"),
        }
        if stopping {
            break;
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
