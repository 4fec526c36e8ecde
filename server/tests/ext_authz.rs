//! Envoy ext_authz over real gRPC, with the envoy-types client Envoy's
//! protocol is defined by: allow is OK, deny is PERMISSION_DENIED with 403
//! and the reason, and every failure to decide is a deny.

#![allow(clippy::panic, clippy::unwrap_used)] // test helpers fail loudly

mod common;

use std::collections::HashMap;

use common::*;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest, CheckResponse};

const PAYMENTS: &[u8] = b"policy \"payments\" {
    if num(param(\"x-amount\")) >= 100 { deny \"amount \" + param(\"x-amount\") + \" is too high\" }
    allow
}
";

fn check(method: &str, path: &str, headers: &[(&str, &str)]) -> CheckRequest {
    let headers: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                http: Some(HttpRequest {
                    method: method.into(),
                    path: path.into(),
                    headers,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

/// gRPC code, HTTP status of a denied response, its reason header and body.
fn denial(r: &CheckResponse) -> (i32, Option<i32>, Option<String>, String) {
    let code = r.status.as_ref().map_or(-1, |s| s.code);
    match &r.http_response {
        Some(HttpResponse::DeniedResponse(d)) => (
            code,
            d.status.as_ref().map(|s| s.code),
            d.headers
                .iter()
                .filter_map(|h| h.header.as_ref())
                .find(|h| h.key == "x-erynoa-reason")
                .map(|h| h.value.clone()),
            d.body.clone(),
        ),
        _ => (code, None, None, String::new()),
    }
}

#[test]
fn checks_are_decided_by_the_policy_their_route_names() {
    let dir = scratch("ext-authz");
    std::fs::write(
        dir.join("trust.toml"),
        trust_store(&[PAYMENTS, DENY_ECL], false),
    )
    .unwrap();
    install(&dir.join("policies"), "payments.ecl", PAYMENTS);
    install(&dir.join("policies"), "gate.ecl", DENY_ECL);
    let mut config = config(&dir);
    config.ext_authz.param_headers = vec!["x-amount".into()];
    config.ext_authz.routes = vec![
        erynoa_server::Route {
            prefix: "/pay/".into(),
            policy: "payments".into(),
        },
        erynoa_server::Route {
            prefix: "/gone/".into(),
            policy: "missing".into(),
        },
    ];
    let server = start(config);
    let addr = server.ext_authz.unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let mut client = AuthorizationClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        let mut ask = async |c: CheckRequest| client.check(c).await.unwrap().into_inner();

        // Allowed: OK, no denied response.
        let r = ask(check(
            "POST",
            "/pay/42?x=1",
            &[("x-erynoa-caller", ALICE), ("x-amount", "12")],
        ))
        .await;
        assert_eq!(r.status.as_ref().map(|s| s.code), Some(0), "{r:?}");
        assert!(
            matches!(r.http_response, Some(HttpResponse::OkResponse(_))),
            "{r:?}"
        );

        // Denied by the policy: PERMISSION_DENIED (7), 403, the reason.
        let r = ask(check(
            "POST",
            "/pay/42",
            &[("x-erynoa-caller", ALICE), ("x-amount", "250")],
        ))
        .await;
        let (code, http, header, body) = denial(&r);
        assert_eq!((code, http), (7, Some(403)), "{r:?}");
        assert_eq!(header.as_deref(), Some("amount 250 is too high"));
        assert_eq!(body, "amount 250 is too high");

        // Other paths go to the default policy, which denies naming the caller.
        let r = ask(check("GET", "/other", &[("x-erynoa-caller", ALICE)])).await;
        assert_eq!(denial(&r).3, format!("closed for {ALICE}"));

        // Failures to decide are denials that say why.
        for (req, says) in [
            (
                check("GET", "/pay/1", &[]),
                "`x-erynoa-caller` header is missing",
            ),
            (
                check("GET", "/pay/1", &[("x-erynoa-caller", "alice\n")]),
                "is not a DID",
            ),
            (
                check("GET", "/gone/1", &[("x-erynoa-caller", ALICE)]),
                "no active policy `missing`",
            ),
            (
                // No amount: the policy's own fault, located.
                check("GET", "/pay/1", &[("x-erynoa-caller", ALICE)]),
                "payments:2:8: num(param(\"x-amount\")): Expected string, got null",
            ),
        ] {
            let r = ask(req).await;
            let (code, http, header, body) = denial(&r);
            assert_eq!(code, 7, "{says}: {r:?}");
            assert!(http == Some(403), "{says}: {r:?}");
            assert!(body.contains(says), "{says}: {body}");
            // The header carries visible ASCII only.
            let header = header.unwrap_or_default();
            assert!(
                header.chars().all(|c| c.is_ascii_graphic() || c == ' '),
                "{header:?}"
            );
        }
    });
}
