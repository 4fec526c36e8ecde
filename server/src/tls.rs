//! TLS for the HTTP listeners (rustls with *ring*): a certificate chain and
//! key per listener, optionally client certificates checked against a CA
//! (mTLS). The files are checked on every scan like the policies: a
//! changed, valid set is used for new connections; one that does not load
//! leaves the previous one in force and is logged.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::catalog::{Stamp, stamp};

/// One listener's TLS files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, PEM, leaf first.
    pub cert: PathBuf,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// If set, clients must present a certificate issued by a CA in this
    /// PEM file (mTLS).
    pub client_ca: Option<PathBuf>,
}

/// TLS files that do not make a server configuration.
#[derive(Debug, thiserror::Error)]
#[error("TLS: `{path}`: {problem}")]
pub struct TlsError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

/// The TLS settings of one listener, replaced when their files change.
pub(crate) struct Tls {
    config: TlsConfig,
    current: ArcSwap<ServerConfig>,
    stamps: Mutex<Vec<Option<Stamp>>>,
}

fn problem(path: &Path, problem: impl std::fmt::Display) -> TlsError {
    TlsError {
        path: path.display().to_string(),
        problem: problem.to_string(),
    }
}

impl Tls {
    pub(crate) fn load(config: TlsConfig) -> Result<Tls, TlsError> {
        let built = build(&config)?;
        let stamps = files(&config).iter().map(|p| stamp(p)).collect();
        Ok(Tls {
            config,
            current: ArcSwap::from_pointee(built),
            stamps: Mutex::new(stamps),
        })
    }

    /// Loads the files again if any changed; keeps the old settings if the
    /// new ones do not load.
    pub(crate) fn reload_if_changed(&self) {
        let now: Vec<Option<Stamp>> = files(&self.config).iter().map(|p| stamp(p)).collect();
        let mut seen = self.stamps.lock().unwrap_or_else(|p| p.into_inner());
        if *seen == now {
            return;
        }
        match build(&self.config) {
            Ok(built) => {
                *seen = now;
                self.current.store(Arc::new(built));
                tracing::info!(cert = %self.config.cert.display(), "TLS certificate reloaded");
            }
            Err(e) => {
                // Retried on the next scan: a certificate and key written one
                // after the other do not match in between.
                tracing::error!(error = %e, "the new TLS files do not load; the previous ones stay");
            }
        }
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.current.load_full())
    }
}

fn files(config: &TlsConfig) -> Vec<&Path> {
    let mut files = vec![config.cert.as_path(), config.key.as_path()];
    files.extend(config.client_ca.as_deref());
    files
}

fn build(config: &TlsConfig) -> Result<ServerConfig, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&config.cert)
        .map_err(|e| problem(&config.cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| problem(&config.cert, e))?;
    if certs.is_empty() {
        return Err(problem(&config.cert, "holds no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(&config.key).map_err(|e| problem(&config.key, e))?;
    // *ring* rather than aws-lc-rs: no C library to build beyond what `cc`
    // does, at the price of rustls' post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| problem(&config.cert, e))?;
    let builder = match &config.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca).map_err(|e| problem(ca, e))? {
                roots
                    .add(cert.map_err(|e| problem(ca, e))?)
                    .map_err(|e| problem(ca, e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| problem(ca, e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut server = builder
        .with_single_cert(certs, key)
        .map_err(|e| problem(&config.key, e))?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(server)
}

/// Serves `router` over TLS on `listener` until `stop` changes, then lets
/// the connections in flight finish.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Arc<Tls>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let acceptor = tls.acceptor();
        let service = TowerToHyperService::new(router.clone());
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // A client that never finishes its handshake is dropped.
            let stream =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "TLS handshake refused");
                        return;
                    }
                    Err(_) => return,
                };
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let _ = watcher.watch(conn.into_owned()).await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
