//! `docs/openapi.json` describes the server: every documented operation
//! answers one of its documented statuses on the listener it names, and a
//! decision has exactly the documented fields.

#![allow(clippy::panic, clippy::unwrap_used)] // test helpers fail loudly

mod common;

use common::*;
use serde_json::Value;

fn document() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_documented_operation_answers_as_documented() {
    let doc = document();
    let dir = scratch("openapi");
    std::fs::write(dir.join("trust.toml"), trust_store(&[DENY_ECL], false)).unwrap();
    install(&dir.join("policies"), "closed.ecl", DENY_ECL);
    let mut config = config(&dir);
    config.data = Some(dir.join("data"));
    let server = start(config);
    let digest = erynoa_host::digest(DENY_ECL);
    let auth = format!("Authorization: Bearer {TOKEN}");
    let request = format!(r#"{{"caller": "{ALICE}"}}"#);
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let admin = op["x-erynoa-listener"] == "admin";
            let addr = if admin {
                server.admin
            } else {
                server.decisions
            };
            let mut url = path
                .replace("{policy}", "closed")
                .replace("{id}", "closed")
                .replace("{did}", ALICE)
                .replace("{schema}", "kyc");
            if path.ends_with("/activate") {
                url.push_str(&format!("?digest={digest}"));
            } else if path.ends_with("/rollback") {
                // One version only: roll back to it by digest.
                url.push_str(&format!("?to={digest}"));
            }
            let body = if path.ends_with("/batch") {
                format!("[{request}, {request}]")
            } else if path.starts_with("/v1/decide") {
                request.clone()
            } else if path.starts_with("/v1/state/trust") && method == "put" {
                "0.5".to_owned()
            } else if path == "/v1/state/import" {
                format!(r#"{{"op": "grant", "did": "{ALICE}", "schema": "kyc"}}"#)
            } else {
                String::new()
            };
            let headers: &[&str] = if admin { &[&auth] } else { &[] };
            let (status, text) = http(addr, &method.to_uppercase(), &url, headers, body.as_bytes());
            let documented = op["responses"].as_object().unwrap();
            assert!(
                documented.contains_key(&status.to_string()),
                "{method} {path}: {status} is not documented: {text}"
            );
            assert_eq!(status, 200, "{method} {path}: {text}");
            checked += 1;
            if path == "/v1/decide/{policy}" {
                let answer = json(&text);
                let mut fields: Vec<&String> = answer.as_object().unwrap().keys().collect();
                fields.sort();
                let schema = &doc["components"]["schemas"]["Decision"];
                let mut want: Vec<&String> =
                    schema["properties"].as_object().unwrap().keys().collect();
                want.sort();
                assert_eq!(fields, want, "the decision's fields");
            }
            if admin {
                let (status, _) = http(addr, &method.to_uppercase(), &url, &[], body.as_bytes());
                assert_eq!(status, 401, "{method} {path} without the token");
                assert!(
                    documented.contains_key("401"),
                    "{method} {path}: 401 not documented"
                );
            }
        }
    }
    assert_eq!(checked, 17, "every operation");
}
