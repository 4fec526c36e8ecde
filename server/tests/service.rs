//! `erynoa serve` over real sockets: the decision API, the admin API and
//! its token, hot reload, rollback and refused updates.

#![allow(clippy::panic, clippy::unwrap_used)] // test helpers fail loudly

use erynoa_server::Server;
use serde_json::Value;

mod common;

use common::*;

#[test]
fn decisions_are_json_and_bad_input_is_a_clear_4xx() {
    let dir = scratch("decide");
    std::fs::write(
        dir.join("trust.toml"),
        trust_store(&[DENY_ECL, ALLOW_ECL], false),
    )
    .unwrap();
    install(&dir.join("policies"), "closed.legacy.ecl", DENY_ECL);
    install(&dir.join("policies"), "gate.wasm.ecl", ALLOW_ECL);
    let server = start(config(&dir));
    let at = server.decisions;

    let (status, v) = decide(
        at,
        "gate",
        &format!(r#"{{"caller": "{ALICE}", "params": {{"n": 3}}}}"#),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["effect"], "allow");
    assert_eq!(v["policy"]["id"], "gate");
    assert_eq!(v["policy"]["name"], "gate");
    assert_eq!(v["policy"]["digest"], erynoa_host::digest(ALLOW_ECL));
    assert!(v["failure"].is_null());
    assert!(v["gas"]["total"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["decision_id"].as_str().unwrap().len(), 36);
    // A deny is a decision, not an error; a fault says where it happened.
    let (status, v) = decide(at, "closed", &format!(r#"{{"caller": "{ALICE}"}}"#));
    assert_eq!((status, &v["effect"]), (200, &Value::from("deny")));
    assert_eq!(v["reason"], format!("closed for {ALICE}"));
    let (_, v) = decide(at, "gate", &format!(r#"{{"caller": "{ALICE}"}}"#));
    assert_eq!(v["failure"]["kind"], "policy-fault", "{v}");
    assert_eq!(
        v["failure"]["message"],
        "policy fault: gate:1:25: param(\"n\") * 2: Expected number, got null"
    );
    // Decision ids are unique.
    let (_, a) = decide(at, "closed", &format!(r#"{{"caller": "{ALICE}"}}"#));
    let (_, b) = decide(at, "closed", &format!(r#"{{"caller": "{ALICE}"}}"#));
    assert_ne!(a["decision_id"], b["decision_id"]);

    // A batch is answered in order.
    let batch = format!(
        r#"[{{"caller": "{ALICE}", "params": {{"n": 3}}}}, {{"caller": "{ALICE}", "params": {{"n": 0}}}}]"#
    );
    let (status, body) = http(at, "POST", "/v1/decide/gate/batch", &[], batch.as_bytes());
    let v = json(&body);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v[0]["effect"], "allow");
    assert_eq!(
        (&v[1]["effect"], &v[1]["reason"]),
        (&Value::from("deny"), &Value::from("too small"))
    );
    let many = format!(
        "[{}]",
        vec![format!(r#"{{"caller": "{ALICE}"}}"#); 1001].join(",")
    );
    let (status, body) = http(at, "POST", "/v1/decide/gate/batch", &[], many.as_bytes());
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("at most 1000"), "{body}");

    // Bad input: 400 naming what is wrong, 404, 413; never a 500.
    for (body, says) in [
        ("{", "EOF"),
        (r#"{"caller": 5}"#, "invalid type"),
        (r#"{"caller": "alice"}"#, "alice"),
        (r#"{"caller": "did:e:a", "caller": "did:e:b"}"#, "caller"),
        (r#"{"caller": "did:e:a", "params": {"x": [1]}}"#, "`x`"),
    ] {
        let (status, v) = decide(at, "gate", body);
        assert_eq!(status, 400, "{body}: {v}");
        assert_eq!(v["error"]["code"], "bad-request");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(says),
            "{body}: {v}"
        );
    }
    let (status, text) = http(
        at,
        "POST",
        "/v1/decide/gate",
        &[],
        b"{\"caller\": \"\xff\"}",
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("not UTF-8"), "{text}");
    let (status, v) = decide(at, "nope", &format!(r#"{{"caller": "{ALICE}"}}"#));
    assert_eq!(
        (status, &v["error"]["code"]),
        (404, &Value::from("not-found"))
    );
    let huge = vec![b' '; 10 << 20];
    let (status, text) = http(at, "POST", "/v1/decide/gate", &[], &huge);
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("payload-too-large"), "{text}");
    let params: Vec<String> = (0..10_000).map(|i| format!(r#""p{i}": {i}"#)).collect();
    let body = format!(
        r#"{{"caller": "{ALICE}", "params": {{{}}}}}"#,
        params.join(",")
    );
    let (status, v) = decide(at, "gate", &body);
    assert_eq!(status, 200, "{v}");

    // Health, readiness, metrics.
    assert_eq!(http(at, "GET", "/health", &[], b"").0, 200);
    let (status, body) = http(at, "GET", "/ready", &[], b"");
    assert_eq!((status, json(&body)["ready"].as_bool()), (200, Some(true)));
    let (status, metrics) = http(at, "GET", "/metrics", &[], b"");
    assert_eq!(status, 200);
    for line in [
        r#"erynoa_evaluations_total{policy="gate",effect="allow",failure="none"} 2"#,
        r#"erynoa_evaluations_total{policy="gate",effect="deny",failure="policy-fault"} 2"#,
        "erynoa_evaluation_duration_seconds_count{policy=\"closed\"} 3",
        "erynoa_policy_active_info{policy=\"gate\",digest=\"",
        "erynoa_build_info{version=",
        "erynoa_queue_depth ",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    // The decision listener has no admin routes.
    assert_eq!(http(at, "POST", "/v1/reload", &[], b"").0, 404);
}

#[test]
fn the_admin_api_needs_the_token() {
    let dir = scratch("admin");
    std::fs::write(dir.join("trust.toml"), trust_store(&[DENY_ECL], false)).unwrap();
    install(&dir.join("policies"), "closed.ecl", DENY_ECL);
    let server = start(config(&dir));
    for headers in [
        &[][..],
        &["Authorization: Bearer wrong-token-wrong-token"][..],
        &["Authorization: Basic MDEyMzQ1Njc4OWFiY2RlZg=="][..],
        &[&*format!("Authorization: Bearer {TOKEN}x")][..],
    ] {
        let (status, body) = http(server.admin, "POST", "/v1/reload", headers, b"");
        assert_eq!(status, 401, "{headers:?}: {body}");
        assert_eq!(json(&body)["error"]["code"], "unauthorized");
    }
    let auth = format!("Authorization: Bearer {TOKEN}");
    let (status, body) = http(server.admin, "POST", "/v1/reload", &[&auth], b"");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["policies"][0]["id"], "closed");

    // A token file others can read is refused at start.
    use std::os::unix::fs::PermissionsExt;
    let mut open = config(&dir);
    let token = open.admin_token_file.clone().unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    open.listen = Some("127.0.0.1:0".parse().unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let refused = runtime.block_on(Server::bind(open)).err().expect("refused");
    assert!(refused.to_string().contains("chmod 600"), "{refused}");
}

#[test]
fn new_versions_are_verified_then_swapped_in_and_rolled_back() {
    let dir = scratch("reload");
    let policies = dir.join("policies");
    std::fs::write(dir.join("trust.toml"), trust_store(&[], false)).unwrap();
    let key = ops_key();
    let v1 = erynoa_sign::sign(&guest("trust_threshold"), &key).unwrap();
    let v2 = erynoa_sign::sign(&guest("kyc_score"), &key).unwrap();
    install(&policies, "gate.wasm", &v1);
    let server = start(config(&dir));
    let (at, admin) = (server.decisions, server.admin);
    let auth = format!("Authorization: Bearer {TOKEN}");
    let d1 = signed_digest(&v1);
    let d2 = signed_digest(&v2);
    assert_eq!(active_digest(at, "gate"), Some(d1.clone()));

    // A new signed version, renamed into place, is picked up.
    install(&policies, "gate.wasm", &v2);
    eventually("v2 active", || {
        active_digest(at, "gate").as_deref() == Some(&*d2)
    });
    let (_, v) = decide(at, "gate", &format!(r#"{{"caller": "{ALICE}"}}"#));
    assert_eq!(v["policy"]["digest"], d2.as_str());

    // Rollback to the previous version, then forward again by digest.
    let (status, body) = http(admin, "POST", "/v1/policies/gate/rollback", &[&auth], b"");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["active"], d1.as_str());
    let (_, v) = decide(at, "gate", &format!(r#"{{"caller": "{ALICE}"}}"#));
    assert_eq!(v["policy"]["digest"], d1.as_str());
    let path = format!("/v1/policies/gate/activate?digest={d2}");
    let (status, body) = http(admin, "POST", &path, &[&auth], b"");
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(
        admin,
        "POST",
        "/v1/policies/gate/activate?digest=sha256:00",
        &[&auth],
        b"",
    );
    assert_eq!(status, 404, "{body}");

    // A tampered component is refused; the active version keeps serving,
    // and the refusal is shown and counted.
    let mut tampered = v1.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    install(&policies, "gate.wasm", &tampered);
    eventually("refusal shown", || {
        let (_, body) = http(at, "GET", "/v1/policies", &[], b"");
        body.contains(&erynoa_host::digest(&tampered))
    });
    assert_eq!(active_digest(at, "gate"), Some(d2.clone()));
    let (_, body) = http(at, "GET", "/v1/policies", &[], b"");
    let reason = json(&body)["policies"][0]["last_refused"]["reason"].to_string();
    assert!(reason.contains("changed after signing"), "{reason}");
    let (_, metrics) = http(at, "GET", "/metrics", &[], b"");
    assert!(
        metrics.contains(r#"erynoa_policy_loads_total{policy="gate",result="refused"} 1"#),
        "{metrics}"
    );

    // A trust store replaced by garbage leaves the old one in force.
    std::fs::write(dir.join("trust.toml"), "this is [not toml").unwrap();
    eventually("trust error shown", || {
        let (_, body) = http(at, "GET", "/v1/policies", &[], b"");
        !json(&body)["trust_store"]["last_refused"].is_null()
    });
    assert_eq!(
        decide(at, "gate", &format!(r#"{{"caller": "{ALICE}"}}"#)).0,
        200
    );

    // Revoking the signer deactivates its policies at once.
    std::fs::write(dir.join("trust.toml"), trust_store(&[], true)).unwrap();
    eventually("deactivated", || active_digest(at, "gate").is_none());
    assert_eq!(
        decide(at, "gate", &format!(r#"{{"caller": "{ALICE}"}}"#)).0,
        404
    );
    let (status, body) = http(at, "GET", "/ready", &[], b"");
    assert_eq!(status, 503, "{body}");

    // Trusted again, the file on disk is tried again: still the tampered
    // one, refused; a good version renamed in comes back.
    std::fs::write(dir.join("trust.toml"), trust_store(&[], false)).unwrap();
    install(&policies, "gate.wasm", &v2);
    eventually("back", || {
        active_digest(at, "gate").as_deref() == Some(&*d2)
    });

    // Removing the file removes the policy.
    std::fs::remove_file(policies.join("gate.wasm")).unwrap();
    eventually("removed", || {
        decide(at, "gate", &format!(r#"{{"caller": "{ALICE}"}}"#)).0 == 404
    });
}

#[test]
fn a_copy_in_progress_is_never_activated_and_the_finished_file_is() {
    let dir = scratch("partial");
    let policies = dir.join("policies");
    std::fs::write(dir.join("trust.toml"), trust_store(&[], false)).unwrap();
    let key = ops_key();
    let v1 = erynoa_sign::sign(&guest("trust_threshold"), &key).unwrap();
    let v2 = erynoa_sign::sign(&guest("kyc_score"), &key).unwrap();
    install(&policies, "gate.wasm", &v1);
    let server = start(config(&dir));
    let at = server.decisions;
    let d1 = signed_digest(&v1);
    // A plain, non-atomic copy that stalls halfway: the half is tried once
    // it stops changing, refused, and the active version keeps serving.
    let half = &v2[..v2.len() / 2];
    std::fs::write(policies.join("gate.wasm"), half).unwrap();
    eventually("the half refused", || {
        let (_, body) = http(at, "GET", "/v1/policies", &[], b"");
        body.contains(&erynoa_host::digest(half))
    });
    assert_eq!(active_digest(at, "gate"), Some(d1));
    // The copy finishes: the whole file is loaded once stable.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(policies.join("gate.wasm"))
        .unwrap();
    std::io::Write::write_all(&mut file, &v2[v2.len() / 2..]).unwrap();
    drop(file);
    let d2 = signed_digest(&v2);
    eventually("the whole file active", || {
        active_digest(at, "gate").as_deref() == Some(&*d2)
    });
}

#[test]
fn operator_changes_and_decisions_are_logged_and_survive_a_restart() {
    const KYC: &[u8] = b"policy \"kyc\" { require credential(\"kyc\"), \"no kyc\"  allow }\n";
    let dir = scratch("durable");
    std::fs::write(dir.join("trust.toml"), trust_store(&[KYC], false)).unwrap();
    install(&dir.join("policies"), "kyc.ecl", KYC);
    let mut config = config(&dir);
    config.data = Some(dir.join("data"));
    config.log_masking.drop_params.insert("secret".into());
    config.log_masking.hash_params.insert("ssn".into());
    let auth = format!("Authorization: Bearer {TOKEN}");
    let ask = |at| {
        let body = format!(
            r#"{{"caller": "{ALICE}", "params": {{"secret": "s3", "ssn": "123", "n": 1}}}}"#
        );
        decide(at, "kyc", &body).1["effect"].clone()
    };
    let head = {
        let server = start(config.clone());
        assert_eq!(ask(server.decisions), "deny");
        // Operators feed the state; each change is a log entry.
        let path = format!("/v1/state/credentials/{ALICE}/kyc");
        let (status, body) = http(server.admin, "PUT", &path, &[&auth], b"");
        assert_eq!(status, 200, "{body}");
        let path = format!("/v1/state/trust/{ALICE}");
        let (status, body) = http(server.admin, "PUT", &path, &[&auth], b"0.75");
        assert_eq!(status, 200, "{body}");
        let (status, body) = http(server.admin, "PUT", &path, &[&auth], b"{\"r\": 2}");
        assert_eq!(status, 400, "{body}");
        assert_eq!(ask(server.decisions), "allow");
        let (_, body) = http(server.admin, "GET", "/v1/log/head", &[&auth], b"");
        let head = json(&body);
        // The first checkpoint (the fixture), deny, grant, trust, allow.
        assert_eq!(head["sequence"], 5, "{head}");
        // Shipped while the service runs, in pages.
        let (status, body) = http(
            server.admin,
            "GET",
            "/v1/log/entries?since=3&limit=2",
            &[&auth],
            b"",
        );
        assert_eq!(status, 200, "{body}");
        let page = json(&body);
        let kinds: Vec<&str> = page
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            (page[0]["seq"].as_u64(), kinds),
            (Some(3), vec!["operator", "operator"])
        );
        let (_, body) = http(
            server.admin,
            "GET",
            "/v1/log/entries?since=5",
            &[&auth],
            b"",
        );
        assert_eq!(json(&body)[0]["hash"], head["hash"]);
        // What is shipped keeps every entry's bytes: it verifies alone.
        let (_, body) = http(server.admin, "GET", "/v1/log/entries", &[&auth], b"");
        let lines: Vec<Box<serde_json::value::RawValue>> = serde_json::from_str(&body).unwrap();
        let lines: Vec<&str> = lines.iter().map(|l| l.get()).collect();
        let shipped = erynoa_store::verify_export(lines.join("\n").as_bytes()).unwrap();
        assert_eq!((shipped.entries, shipped.broken), (5, None));
        head
    };
    // Restarted on the same data: the state comes back from the log.
    let server = start(config.clone());
    assert_eq!(ask(server.decisions), "allow");
    let path = format!("/v1/state/trust/{ALICE}");
    let (_, body) = http(server.admin, "GET", &path, &[&auth], b"");
    let v = json(&body);
    assert_eq!(
        (v["trust"]["r"].as_f64(), &v["credentials"][0]),
        (Some(0.75), &Value::from("kyc"))
    );
    // Revoked: denied again, and still after another restart.
    let path = format!("/v1/state/credentials/{ALICE}/kyc");
    assert_eq!(http(server.admin, "DELETE", &path, &[&auth], b"").0, 200);
    assert_eq!(ask(server.decisions), "deny");
    drop(server);
    let server = start(config);
    assert_eq!(ask(server.decisions), "deny");
    drop(server);
    let report = erynoa_store::verify(&dir.join("data")).unwrap();
    assert_eq!(report.broken, None);
    // The log keeps the request masked as configured.
    let (first, _) = erynoa_store::entries(&dir.join("data"), 2, 1)
        .unwrap()
        .remove(0);
    let logged: Value = serde_json::from_str(first.body.get()).unwrap();
    assert_eq!(
        logged["request"]["params"]["n"].as_f64(),
        Some(1.0),
        "{logged}"
    );
    assert!(
        logged["request"]["params"].get("secret").is_none(),
        "{logged}"
    );
    assert_eq!(
        logged["request"]["params"]["ssn"],
        erynoa_host::digest(b"\"123\"")
    );
    assert!(
        logged["request_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(report.entries > 4);
    assert_ne!(report.head, head["hash"].as_str().unwrap());
}

#[test]
fn operators_import_in_bulk_and_checkpoint_while_the_service_runs() {
    const KYC: &[u8] = b"policy \"kyc\" { require credential(\"kyc\"), \"no kyc\"  allow }\n";
    let dir = scratch("bulk");
    std::fs::write(dir.join("trust.toml"), trust_store(&[KYC], false)).unwrap();
    install(&dir.join("policies"), "kyc.ecl", KYC);
    let mut config = config(&dir);
    config.data = Some(dir.join("data"));
    let auth = format!("Authorization: Bearer {TOKEN}");
    let ask = |at| decide(at, "kyc", &format!(r#"{{"caller": "{ALICE}"}}"#)).1["effect"].clone();
    let digest = {
        let server = start(config.clone());
        // One bad line: nothing is logged or applied, and the line is named.
        let bad = format!(
            "{{\"op\": \"grant\", \"did\": \"{ALICE}\", \"schema\": \"kyc\"}}\n{{\"op\": \"grant\", \"did\": \"alice\", \"schema\": \"kyc\"}}\n"
        );
        let (status, body) = http(
            server.admin,
            "POST",
            "/v1/state/import",
            &[&auth],
            bad.as_bytes(),
        );
        assert_eq!(status, 400, "{body}");
        assert!(
            body.contains("line 2") && body.contains("not a DID"),
            "{body}"
        );
        assert_eq!(ask(server.decisions), "deny");
        let (_, body) = http(server.admin, "GET", "/v1/log/head", &[&auth], b"");
        let before = json(&body)["sequence"].as_u64().unwrap();
        // Without the token: refused.
        let (status, _) = http(
            server.admin,
            "POST",
            "/v1/state/import",
            &[],
            bad.as_bytes(),
        );
        assert_eq!(status, 401);

        let good = format!(
            "{{\"op\": \"grant\", \"did\": \"{ALICE}\", \"schema\": \"kyc\"}}\n\n{{\"op\": \"set-trust\", \"did\": \"{ALICE}\", \"trust\": [0.5, 0.5, 0.5, 0.5, 0.5, 0.25]}}\n"
        );
        let (status, body) = http(
            server.admin,
            "POST",
            "/v1/state/import",
            &[&auth],
            good.as_bytes(),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(json(&body)["applied"], 2, "{body}");
        assert_eq!(
            json(&body)["logged_through"].as_u64(),
            Some(before + 2),
            "{body}"
        );
        assert_eq!(ask(server.decisions), "allow");

        // A checkpoint now covers everything written, and is confirmed in the chain.
        let (status, body) = http(server.admin, "POST", "/v1/log/checkpoint", &[&auth], b"");
        assert_eq!(status, 200, "{body}");
        let taken = json(&body);
        assert!(taken["covers"].as_u64().unwrap() >= before + 3, "{taken}");
        taken["digest"].as_str().unwrap().to_owned()
    };
    // A restart starts from that checkpoint and has the imported state.
    let restored = erynoa_store::restore(&dir.join("data"), None).unwrap();
    assert!(restored.replayed <= 2, "{}", restored.replayed);
    assert_eq!(restored.checkpoint.unwrap().digest, digest);
    let report = erynoa_store::verify(&dir.join("data")).unwrap();
    assert_eq!((report.broken, report.checkpoints), (None, 2));
    let server = start(config);
    assert_eq!(ask(server.decisions), "allow");
    let (_, body) = http(
        server.admin,
        "GET",
        &format!("/v1/state/trust/{ALICE}"),
        &[&auth],
        b"",
    );
    assert_eq!(json(&body)["trust"]["omega"].as_f64(), Some(0.25), "{body}");
}
