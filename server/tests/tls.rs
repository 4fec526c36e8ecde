//! TLS on the listeners: decisions over HTTPS, an admin API that wants a
//! client certificate (mTLS), and a certificate replaced while serving.

#![allow(clippy::panic, clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};

/// A CA, and certificates it issues, written as PEM files.
struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Pki {
            ca: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    /// A certificate for `names`, its chain and key written to `dir/name.{crt,key}`.
    fn issue(&self, dir: &Path, name: &str, names: &[&str]) -> String {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        std::fs::write(dir.join(format!("{name}.crt")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
        cert.pem()
    }

    fn write_ca(&self, path: &Path) {
        std::fs::write(path, self.ca.pem()).unwrap();
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

/// One HTTPS request; the status and the certificate the server showed.
fn https(
    addr: SocketAddr,
    ca: &Path,
    client: Option<(&Path, &Path)>,
    path: &str,
    headers: &str,
) -> Result<(u16, Vec<u8>), String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(cert)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}Content-Length: 0\r\n\r\n"
    );
    tls.write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // Servers often close without close_notify after `Connection: close`.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{text:?}"))?;
    let shown = tls
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    Ok((status, shown))
}

#[test]
fn tls_mtls_and_a_certificate_replaced_while_serving() {
    let dir = scratch("tls");
    std::fs::write(dir.join("trust.toml"), trust_store(&[DENY_ECL], false)).unwrap();
    install(&dir.join("policies"), "gate.ecl", DENY_ECL);
    let pki = Pki::new();
    let ca = dir.join("ca.pem");
    pki.write_ca(&ca);
    let first = pki.issue(&dir, "server", &["localhost"]);
    pki.issue(&dir, "operator", &["operator"]);
    let mut config = config(&dir);
    config.tls.decisions = Some(erynoa_server::TlsConfig {
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
        client_ca: None,
    });
    config.tls.admin = Some(erynoa_server::TlsConfig {
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
        client_ca: Some(ca.clone()),
    });
    let server = start(config);
    let body_path = "/v1/decide/gate";

    // HTTPS decisions; plain HTTP on the TLS port gets nothing.
    let (status, shown) = https(server.decisions, &ca, None, body_path, "").unwrap();
    assert_eq!(
        status, 400,
        "an empty body is a bad request, answered over TLS"
    );
    assert_eq!(
        shown,
        CertificateDer::from_pem_slice(first.as_bytes())
            .unwrap()
            .to_vec()
    );
    let plain = http_attempt(server.decisions);
    assert!(!plain.starts_with("HTTP/1.1 "), "{plain:?}");

    // The admin listener wants a client certificate from the CA.
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    assert!(https(server.admin, &ca, None, "/v1/reload", &auth).is_err());
    let operator = (dir.join("operator.crt"), dir.join("operator.key"));
    let (status, _) = https(
        server.admin,
        &ca,
        Some((&operator.0, &operator.1)),
        "/v1/reload",
        &auth,
    )
    .unwrap();
    assert_eq!(status, 200);

    // A new certificate, written in place, is served to new connections.
    let second = pki.issue(&dir, "server", &["localhost"]);
    let second = CertificateDer::from_pem_slice(second.as_bytes())
        .unwrap()
        .to_vec();
    eventually("the new certificate", || {
        https(server.decisions, &ca, None, body_path, "").map(|(_, shown)| shown)
            == Ok(second.clone())
    });
    // A broken one leaves the last good one in force.
    std::fs::write(dir.join("server.crt"), "not a certificate").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (_, shown) = https(server.decisions, &ca, None, body_path, "").unwrap();
    assert_eq!(shown, second);
}

/// What a plain-HTTP request to a TLS port reads back.
fn http_attempt(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw).into_owned()
}
