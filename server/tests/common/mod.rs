//! What the service tests share: a scratch directory, signed guests, a
//! server on free ports, and a small HTTP/1.1 client that sends exactly
//! the bytes a test gives it.

#![allow(dead_code, clippy::panic, clippy::unwrap_used)] // each test binary uses some

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use erynoa_server::{Config, Server};
use erynoa_sign::{SigningKey, keys};
use serde_json::Value;

pub const ALICE: &str = "did:erynoa:self:alice";
pub const TOKEN: &str = "0123456789abcdef-admin-token";

/// A directory of its own for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("erynoa-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    dir
}

pub fn guest(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../target/guests/{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build the guests first: `cargo xtask build-guests`",
            path.display()
        )
    })
}

pub fn ops_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// A trust store trusting `ops` for trust and identity, pinning `ecl` files.
/// The digest the trust store pins a component signed by `ops_key` by:
/// that of its signed content.
pub fn signed_digest(bytes: &[u8]) -> String {
    let verified = erynoa_sign::verify(bytes, None, &[ops_key().verifying_key()]).unwrap();
    format!("sha256:{}", verified.digest_hex())
}

/// A `[[component]]` entry granting the signed component `bytes` every interface.
pub fn grant_all(bytes: &[u8]) -> String {
    format!(
        "\n[[component]]\ndigest = \"{}\"\ncapabilities = [\"trust\", \"identity\", \"state\", \"context\", \"events\", \"budget\"]\n",
        signed_digest(bytes)
    )
}

pub fn trust_store(ecl: &[&[u8]], revoked: bool) -> String {
    let key = ops_key();
    let line = keys::public_key_openssh(&key.verifying_key(), "ops");
    let revoked = if revoked {
        format!("\"{}\"", erynoa_sign::key_id(&key.verifying_key()))
    } else {
        String::new()
    };
    let mut text = format!(
        "revoked = [{revoked}]\n\n[[key]]\nname = \"ops\"\npublic_key = \"{line}\"\ncapabilities = [\"trust\", \"identity\"]\n"
    );
    for bytes in ecl {
        text.push_str(&format!(
            "\n[[component]]\ndigest = \"{}\"\ncapabilities = [\"trust\", \"identity\"]\n",
            erynoa_host::digest(bytes)
        ));
    }
    text
}

/// Writes `bytes` to `dir/name` the way operators should: a temporary
/// file renamed into place.
pub fn install(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

pub const DENY_ECL: &[u8] = b"policy \"gate\" { deny \"closed for \" + caller }\n";
pub const ALLOW_ECL: &[u8] =
    b"policy \"gate\" { require param(\"n\") * 2 > 1, \"too small\"  allow }\n";

pub struct Running {
    pub decisions: SocketAddr,
    pub admin: SocketAddr,
    pub ext_authz: Option<SocketAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Stops the server as SIGTERM does and waits until it has.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn config(dir: &Path) -> Config {
    let token = dir.join("admin.token");
    std::fs::write(&token, TOKEN).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    Config {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        admin_listen: Some("127.0.0.1:0".parse().unwrap()),
        admin_token_file: Some(token),
        policies: dir.join("policies"),
        trust_store: dir.join("trust.toml"),
        scan_interval_ms: 50,
        ext_authz: erynoa_server::ExtAuthzConfig {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            policy: Some("gate".into()),
            ..Default::default()
        },
        ..Config::default()
    }
}

pub fn start(config: Config) -> Running {
    let (addrs_tx, addrs_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let server = match Server::bind(config).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = addrs_tx.send(Err(format!("{e}")));
                    return;
                }
            };
            let _ = addrs_tx.send(Ok((
                server.decisions_addr().unwrap(),
                server.admin_addr().unwrap(),
                server.ext_authz_addr(),
            )));
            server
                .run(async move {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
        });
    });
    let (decisions, admin, ext_authz) = addrs_rx.recv().unwrap().unwrap_or_else(|e| panic!("{e}"));
    Running {
        decisions,
        admin,
        ext_authz,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

/// One HTTP/1.1 exchange on a fresh connection: the status and the body.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &[u8],
) -> (u16, String) {
    let (status, _, body) = http_full(addr, method, path, headers, body);
    (status, body)
}

/// [`http`] with the response's head too.
pub fn http_full(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &[u8],
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) before reading all of a large body.
    let _ = s.write_all(body);
    read_response(&mut s)
}

/// Reads one response to the end of the connection.
pub fn read_response(s: &mut TcpStream) -> (u16, String, String) {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, head.to_owned(), body)
}

pub fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

pub fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

pub fn decide(addr: SocketAddr, policy: &str, body: &str) -> (u16, Value) {
    let (status, text) = http(
        addr,
        "POST",
        &format!("/v1/decide/{policy}"),
        &[],
        body.as_bytes(),
    );
    (status, json(&text))
}

/// Waits (at most 5 s) until `f` holds.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn active_digest(addr: SocketAddr, id: &str) -> Option<String> {
    let (_, body) = http(addr, "GET", "/v1/policies", &[], b"");
    let v = json(&body);
    v["policies"].as_array()?.iter().find(|p| p["id"] == id)?["active"]["digest"]
        .as_str()
        .map(str::to_owned)
}
