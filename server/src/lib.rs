//! `erynoa serve`: the policy decision service.
//!
//! It answers decisions over HTTP (`POST /v1/decide/{policy}`), runs each
//! evaluation off the async reactor in a bounded pool of slots, picks up
//! new signed versions of its policies without a restart (verified,
//! compiled and linked before they are swapped in), keeps the previous
//! versions compiled for rollback, and reports Prometheus metrics. See the
//! operators' page of the book (`docs/service.md`).
//!
//! ```no_run
//! # async fn run() -> Result<(), erynoa_server::ServeError> {
//! let config = erynoa_server::Config::from_file("erynoa.toml".as_ref())?;
//! let server = erynoa_server::Server::bind(config).await?;
//! println!("decisions on {:?}", server.decisions_addr());
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

mod catalog;
mod config;
mod ext_authz;
mod http;
mod metrics;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use erynoa_host::{BudgetLimits, ComponentEngine, UnifiedState};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};

pub use crate::catalog::{Catalog, CatalogError, PolicyView, Refusal, Version, VersionView};
pub use crate::config::{Budget, Config, ConfigError, DEFAULT_CONFIG, LogDurability, TlsListeners};
pub use crate::ext_authz::{ExtAuthzConfig, Route};
pub use crate::http::MAX_BATCH;
pub use crate::metrics::Metrics;
pub use crate::tls::{TlsConfig, TlsError};

/// An error and its causes, on one line: what operators read in answers,
/// logs and `GET /v1/policies`.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// What the handlers share.
pub(crate) struct App {
    catalog: Arc<Catalog>,
    state: Arc<UnifiedState>,
    limits: BudgetLimits,
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
    queue_timeout: Duration,
    body_limit: usize,
    metrics: Arc<Metrics>,
    admin_token: Option<Vec<u8>>,
    /// The durable log, if the service has a data directory.
    log: Option<Arc<erynoa_store::Log>>,
    /// Whether a decision waits for its entry's fsync before it is answered.
    wait_fsync: bool,
    /// Held while an operator's change is logged and applied.
    operator: std::sync::Mutex<()>,
    /// Request parameters the decision log leaves out or hashes.
    masking: config::Masking,
}

/// Why the service could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The policies or the trust store.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The state fixture.
    #[error("cannot load the state `{path}`")]
    State {
        /// The file.
        path: String,
        /// Why.
        #[source]
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The admin token file.
    #[error("the admin token file `{path}` {problem}")]
    Token {
        /// The file.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The wasm engine.
    #[error(transparent)]
    Engine(#[from] erynoa_host::EngineError),
    /// A listener's TLS files.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The durable log.
    #[error(transparent)]
    Log(#[from] erynoa_store::StoreError),
    /// A listener could not bind.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        error: std::io::Error,
    },
    /// A listener failed while serving.
    #[error("the {which} listener failed")]
    Serve {
        /// `decisions` or `admin`.
        which: &'static str,
        /// Why.
        #[source]
        error: std::io::Error,
    },
}

/// A bound, loaded service, not yet answering.
pub struct Server {
    app: Arc<App>,
    decisions: Option<TcpListener>,
    admin: Option<TcpListener>,
    grpc: Option<TcpListener>,
    ext_authz: Arc<ExtAuthzConfig>,
    tls_decisions: Option<Arc<tls::Tls>>,
    tls_admin: Option<Arc<tls::Tls>>,
    scan_every: Duration,
    grace: Duration,
    rescan: Arc<Notify>,
}

/// Reads the admin token: a file only its owner may read or write.
fn read_token(path: &Path) -> Result<Vec<u8>, ServeError> {
    use std::os::unix::fs::MetadataExt;
    let problem = |problem: String| ServeError::Token {
        path: path.display().to_string(),
        problem,
    };
    let meta = std::fs::metadata(path).map_err(|e| problem(format!("cannot be read: {e}")))?;
    if meta.mode() & 0o077 != 0 {
        return Err(problem(format!(
            "is mode {:o}: group and others must have no access (chmod 600)",
            meta.mode() & 0o777
        )));
    }
    let text = erynoa_host::json::read_text_file(path, 4096)
        .map_err(|e| problem(format!("cannot be read: {e}")))?;
    let token = text.trim();
    if token.len() < 16 {
        return Err(problem(
            "holds a token shorter than 16 characters".to_owned(),
        ));
    }
    Ok(token.as_bytes().to_vec())
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| ServeError::Bind { addr, error })
}

impl Server {
    /// Loads the trust store, the state and every policy, and binds the
    /// listeners (port 0 picks a free port: see [`Server::decisions_addr`]).
    pub async fn bind(config: Config) -> Result<Server, ServeError> {
        config.validate()?;
        let metrics = Arc::new(Metrics::default());
        let admin_token = config
            .admin_token_file
            .as_deref()
            .map(read_token)
            .transpose()?;
        let fixture = match &config.state {
            Some(path) => {
                Some(
                    UnifiedState::from_file(path).map_err(|error| ServeError::State {
                        path: path.display().to_string(),
                        error: Box::new(error),
                    })?,
                )
            }
            None => None,
        };
        let tls_decisions = config
            .tls
            .decisions
            .clone()
            .map(tls::Tls::load)
            .transpose()?;
        let tls_admin = config.tls.admin.clone().map(tls::Tls::load).transpose()?;
        // With a data directory, the state is its newest checkpoint, then
        // everything the log holds after it.
        let (log, state) = match &config.data {
            Some(dir) => {
                let durability = match config.durability {
                    LogDurability::Immediate => erynoa_store::Durability::Immediate,
                    LogDurability::Batched => erynoa_store::Durability::Batched {
                        ms: config.batch_ms.max(1),
                    },
                };
                let options = erynoa_store::Options {
                    durability,
                    checkpoint_every: Some(config.checkpoint_every).filter(|&n| n > 0),
                };
                let (log, state) = erynoa_store::Log::open_state(dir, options, fixture)?;
                let log = Arc::new(log);
                let (head, _) = log.head();
                tracing::info!(entries = head, "state rebuilt from the log");
                // A second journal cannot be set on a fresh state.
                let _ = state.set_journal(log.clone());
                (Some(log), state)
            }
            None => (None, fixture.unwrap_or_default()),
        };
        let engine = ComponentEngine::new(Default::default())?;
        let catalog = Arc::new(Catalog::new(
            engine,
            config.policies.clone(),
            config.trust_store.clone(),
            config.keep_versions,
            metrics.clone(),
        )?);
        let loading = catalog.clone();
        tokio::task::spawn_blocking(move || loading.scan(true))
            .await
            .map_err(|_| {
                ServeError::Catalog(CatalogError::NotFound(
                    "the first scan of the policies did not finish".into(),
                ))
            })?;
        let app = Arc::new(App {
            catalog,
            state: Arc::new(state),
            limits: config.budget.into(),
            slots: Arc::new(Semaphore::new(config.slots())),
            waiting: AtomicUsize::new(0),
            queue: config.queue,
            queue_timeout: Duration::from_millis(config.queue_timeout_ms),
            body_limit: config.body_limit_bytes,
            metrics,
            admin_token,
            wait_fsync: config.durability == LogDurability::Immediate,
            log,
            operator: std::sync::Mutex::new(()),
            masking: config.log_masking.clone(),
        });
        let decisions = match config.listen {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let admin = match config.admin_listen {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let grpc = match config.ext_authz.listen {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        Ok(Server {
            app,
            decisions,
            admin,
            grpc,
            ext_authz: Arc::new(config.ext_authz),
            tls_decisions: tls_decisions.map(Arc::new),
            tls_admin: tls_admin.map(Arc::new),
            scan_every: Duration::from_millis(config.scan_interval_ms),
            grace: Duration::from_millis(config.grace_period_ms),
            rescan: Arc::new(Notify::new()),
        })
    }

    /// Where decisions are answered.
    pub fn decisions_addr(&self) -> Option<SocketAddr> {
        self.decisions.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Where the admin API is.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Where Envoy ext_authz checks are answered (gRPC).
    pub fn ext_authz_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Asks for a scan of the policies now (what `SIGHUP` does).
    pub fn rescan_handle(&self) -> Arc<Notify> {
        self.rescan.clone()
    }

    /// Answers until `shutdown` completes, then stops accepting, lets the
    /// requests in flight finish (for at most the grace period) and returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let tls: Vec<Arc<tls::Tls>> = [&self.tls_decisions, &self.tls_admin]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        let scanner = {
            let catalog = self.app.catalog.clone();
            let tls = tls.clone();
            let rescan = self.rescan.clone();
            let every = self.scan_every;
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                loop {
                    let forced = tokio::select! {
                        () = tokio::time::sleep(every) => false,
                        () = rescan.notified() => true,
                        _ = stop.changed() => return,
                    };
                    let catalog = catalog.clone();
                    let tls = tls.clone();
                    let scan = move || {
                        catalog.scan(forced);
                        for t in &tls {
                            t.reload_if_changed();
                        }
                    };
                    if tokio::task::spawn_blocking(scan).await.is_err() {
                        tracing::error!("a scan of the policies failed");
                    }
                }
            })
        };
        let mut servers = Vec::new();
        for (which, listener, router, tls) in [
            (
                "decisions",
                self.decisions,
                http::decisions(self.app.clone()),
                self.tls_decisions.clone(),
            ),
            (
                "admin",
                self.admin,
                http::admin(self.app.clone()),
                self.tls_admin.clone(),
            ),
        ] {
            let Some(listener) = listener else { continue };
            let mut stop = stop_rx.clone();
            let served = match tls {
                Some(tls) => tokio::spawn(tls::serve(listener, router, tls, stop)),
                None => tokio::spawn(
                    axum::serve(listener, router)
                        .with_graceful_shutdown(async move {
                            let _ = stop.changed().await;
                        })
                        .into_future(),
                ),
            };
            servers.push(tokio::spawn(async move {
                match served.await {
                    Ok(result) => result.map_err(|error| ServeError::Serve { which, error }),
                    Err(e) => Err(ServeError::Serve {
                        which,
                        error: std::io::Error::other(e),
                    }),
                }
            }));
        }
        if let Some(listener) = self.grpc {
            let service = ext_authz::ExtAuthz {
                app: self.app.clone(),
                config: self.ext_authz.clone(),
            };
            let mut stop = stop_rx.clone();
            let serve = tonic::transport::Server::builder()
                .add_service(envoy_types::ext_authz::v3::pb::AuthorizationServer::new(
                    service,
                ))
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listener),
                    async move {
                        let _ = stop.changed().await;
                    },
                );
            servers.push(tokio::spawn(async move {
                serve.await.map_err(|e| ServeError::Serve {
                    which: "ext_authz",
                    error: std::io::Error::other(e),
                })
            }));
        }
        shutdown.await;
        tracing::info!("stopping: no new connections; finishing the requests in flight");
        let _ = stop_tx.send(true);
        let _ = scanner.await;
        let finish = async {
            for server in servers {
                if let Ok(Err(e)) = server.await {
                    return Err(e);
                }
            }
            Ok(())
        };
        match tokio::time::timeout(self.grace, finish).await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!("the grace period ended with requests still in flight");
                Ok(())
            }
        }
    }
}

/// Runs the service as `erynoa serve` does: on its own runtime, until
/// `SIGTERM` or `SIGINT`; `SIGHUP` rescans the policies and trust store.
/// `bound` is told the decision, admin and ext_authz addresses once all listen.
pub fn serve_until_signalled(
    config: Config,
    bound: impl FnOnce(Option<SocketAddr>, Option<SocketAddr>, Option<SocketAddr>),
) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| ServeError::Serve {
            which: "runtime",
            error,
        })?;
    runtime.block_on(async move {
        // The handlers are in place before anyone learns where to connect,
        // so no signal meets the default action (which would kill us).
        use tokio::signal::unix::{SignalKind, signal};
        let handler = |kind| {
            signal(kind).map_err(|error| ServeError::Serve {
                which: "signal",
                error,
            })
        };
        let mut term = handler(SignalKind::terminate())?;
        let mut int = handler(SignalKind::interrupt())?;
        let mut hup = handler(SignalKind::hangup())?;
        let server = Server::bind(config).await?;
        bound(
            server.decisions_addr(),
            server.admin_addr(),
            server.ext_authz_addr(),
        );
        let rescan = server.rescan_handle();
        let signals = async move {
            loop {
                tokio::select! {
                    _ = term.recv() => return,
                    _ = int.recv() => return,
                    _ = hup.recv() => rescan.notify_one(),
                }
            }
        };
        server.run(signals).await
    })
}
