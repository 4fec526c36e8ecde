//! The service under hostile clients and policies, over real sockets:
//! a policy that loops to its deadline, a client that trickles its body,
//! a thousand connections at once, a full queue, and a shutdown with
//! requests in flight.

#![allow(clippy::panic, clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use erynoa_server::Config;

/// A directory with `closed` (ECL) and `hostile` (a signed component that
/// misbehaves as its request's action says), and a budget whose deadline
/// is what stops a loop.
fn hostile_setup(name: &str) -> (std::path::PathBuf, Config) {
    let dir = scratch(name);
    let hostile = erynoa_sign::sign(&guest("hostile"), &ops_key()).unwrap();
    std::fs::write(
        dir.join("trust.toml"),
        trust_store(&[DENY_ECL], false) + &grant_all(&hostile),
    )
    .unwrap();
    install(&dir.join("policies"), "closed.ecl", DENY_ECL);
    install(&dir.join("policies"), "hostile.wasm", &hostile);
    let mut config = config(&dir);
    config.budget.gas_limit = u64::MAX / 4;
    config.budget.timeout_ms = 400;
    (dir, config)
}

fn loop_request() -> String {
    format!(r#"{{"caller": "{ALICE}", "action": "loop"}}"#)
}

#[test]
fn a_policy_looping_to_its_deadline_leaves_the_others_answering() {
    let (_dir, mut config) = hostile_setup("hostile");
    config.concurrency = 4;
    let server = start(config);
    let at = server.decisions;
    let loops: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || decide(at, "hostile", &loop_request())))
        .collect();
    // While both loop, the other policy answers every request.
    for _ in 0..50 {
        let (status, v) = decide(at, "closed", &format!(r#"{{"caller": "{ALICE}"}}"#));
        assert_eq!(
            (status, &v["effect"]),
            (200, &serde_json::Value::from("deny")),
            "{v}"
        );
    }
    for l in loops {
        let (status, v) = l.join().unwrap();
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["effect"], "deny");
        assert_eq!(v["failure"]["kind"], "timeout", "{v}");
    }
}

#[test]
fn a_full_queue_is_a_503_with_retry_after() {
    let (_dir, mut config) = hostile_setup("saturated");
    config.concurrency = 1;
    config.queue = 0;
    let server = start(config);
    let at = server.decisions;
    // The loop itself may be turned away while a probe below holds the
    // slot: it tries again until it runs.
    let busy = std::thread::spawn(move || {
        loop {
            let (status, v) = decide(at, "hostile", &loop_request());
            if status != 503 {
                return (status, v);
            }
        }
    });
    // Once the loop holds the only slot, the next request is turned away.
    eventually("a 503 while the slot is taken", || {
        let body = format!(r#"{{"caller": "{ALICE}"}}"#);
        let (status, head, _) = http_full(at, "POST", "/v1/decide/closed", &[], body.as_bytes());
        status == 503 && head.to_ascii_lowercase().contains("retry-after: 1")
    });
    let (status, v) = busy.join().unwrap();
    assert_eq!(
        (status, &v["failure"]["kind"]),
        (200, &serde_json::Value::from("timeout"))
    );
    let (_, metrics) = http(at, "GET", "/metrics", &[], b"");
    assert!(
        metrics.contains(r#"erynoa_rejected_total{reason="saturated"}"#),
        "{metrics}"
    );
}

#[test]
fn a_trickled_body_holds_no_evaluation_slot() {
    let (_dir, mut config) = hostile_setup("slow");
    config.concurrency = 1;
    config.queue = 0;
    let server = start(config);
    let at = server.decisions;
    let body = format!(r#"{{"caller": "{ALICE}"}}"#);
    let mut slow = TcpStream::connect(at).unwrap();
    write!(
        slow,
        "POST /v1/decide/closed HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    for (i, byte) in body.bytes().enumerate() {
        slow.write_all(&[byte]).unwrap();
        if i % 4 == 0 {
            // With one slot and no queue, a slot held by this body would
            // turn this request into a 503.
            let (status, v) = decide(at, "closed", &body);
            assert_eq!(status, 200, "{v}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let (status, _, answer) = read_response(&mut slow);
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn a_thousand_connections_at_once_are_all_answered() {
    let (_dir, config) = hostile_setup("many");
    let server = start(config);
    let body = format!(r#"{{"caller": "{ALICE}"}}"#);
    let mut conns: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(server.decisions).unwrap())
        .collect();
    for c in &mut conns {
        write!(
            c,
            "POST /v1/decide/closed HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    }
    for c in &mut conns {
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let (status, _, answer) = read_response(c);
        assert_eq!(status, 200, "{answer}");
    }
}

#[test]
fn shutdown_finishes_the_requests_in_flight() {
    let (_dir, config) = hostile_setup("shutdown");
    let mut server = start(config);
    let at = server.decisions;
    let in_flight = std::thread::spawn(move || decide(at, "hostile", &loop_request()));
    std::thread::sleep(Duration::from_millis(100));
    // Stop while the loop runs (it ends at its 400 ms deadline).
    server.stop();
    let (status, v) = in_flight.join().unwrap();
    assert_eq!(
        (status, &v["failure"]["kind"]),
        (200, &serde_json::Value::from("timeout")),
        "{v}"
    );
    assert!(
        TcpStream::connect(at).is_err(),
        "still accepting after shutdown"
    );
}
