//! Envoy's external authorization over gRPC
//! (`envoy.service.auth.v3.Authorization/Check`): each `CheckRequest` is
//! mapped to an Erynoa request by the `[ext_authz]` rules and decided by
//! the policy they name. Allow is `OK`; a deny is `PERMISSION_DENIED` with
//! HTTP 403, the reason as the body and in `x-erynoa-reason`; anything that
//! keeps a decision from being made (no caller, no such policy, a full
//! queue) fails closed, denied with its reason.

use std::collections::HashMap;
use std::sync::Arc;

use envoy_types::ext_authz::v3::pb::{Authorization, CheckRequest, CheckResponse, HttpStatusCode};
use envoy_types::ext_authz::v3::{
    CheckRequestExt, CheckResponseExt, DeniedHttpResponseBuilder, OkHttpResponseBuilder,
};
use erynoa_host::{Effect, Request, Value};
use serde::Deserialize;

use crate::App;
use crate::http::evaluate;

/// How a `CheckRequest` becomes an Erynoa request, and which policy decides.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExtAuthzConfig {
    /// The gRPC listener; none serves no ext_authz.
    pub listen: Option<std::net::SocketAddr>,
    /// The header carrying the caller's DID.
    pub caller_header: String,
    /// The realm of every request…
    pub realm: String,
    /// …unless this header is present.
    pub realm_header: Option<String>,
    /// Headers passed as string parameters, named as the header (lower case).
    pub param_headers: Vec<String>,
    /// The policy that decides when no route matches; none denies.
    pub policy: Option<String>,
    /// Path prefixes and their policies; the longest matching prefix wins.
    pub routes: Vec<Route>,
}

/// A path prefix decided by one policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// A path prefix, e.g. `/payments/`.
    pub prefix: String,
    /// The policy id.
    pub policy: String,
}

impl Default for ExtAuthzConfig {
    fn default() -> Self {
        ExtAuthzConfig {
            listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9191))),
            caller_header: "x-erynoa-caller".into(),
            realm: "default".into(),
            realm_header: None,
            param_headers: Vec::new(),
            policy: None,
            routes: Vec::new(),
        }
    }
}

impl ExtAuthzConfig {
    /// The policy that decides `path`.
    fn policy_for(&self, path: &str) -> Option<&str> {
        self.routes
            .iter()
            .filter(|r| path.starts_with(&r.prefix))
            .max_by_key(|r| r.prefix.len())
            .map(|r| r.policy.as_str())
            .or(self.policy.as_deref())
    }
}

/// The gRPC service.
pub(crate) struct ExtAuthz {
    pub(crate) app: Arc<App>,
    pub(crate) config: Arc<ExtAuthzConfig>,
}

/// A header value Envoy may carry: visible ASCII, at most 1 KiB.
fn header_safe(text: &str) -> String {
    text.chars()
        .take(1024)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn denied(status: HttpStatusCode, reason: &str) -> CheckResponse {
    let mut http = DeniedHttpResponseBuilder::new();
    http.set_http_status(status)
        .add_header("x-erynoa-reason", header_safe(reason), None, false)
        .set_body(reason);
    let mut response =
        CheckResponse::with_status(tonic::Status::permission_denied(header_safe(reason)));
    response.set_http_response(http);
    response
}

impl ExtAuthz {
    /// The Erynoa request and policy of a check, or why there is none.
    fn map(&self, check: &CheckRequest) -> Result<(String, Request), String> {
        let empty = HashMap::new();
        let headers = check.get_client_headers().unwrap_or(&empty);
        let http = check
            .attributes
            .as_ref()
            .and_then(|a| a.request.as_ref())
            .and_then(|r| r.http.as_ref());
        let (method, path) = http.map_or(("", ""), |h| (h.method.as_str(), h.path.as_str()));
        let path = path.split('?').next().unwrap_or("");
        let caller = headers.get(&self.config.caller_header).ok_or_else(|| {
            format!(
                "no caller: the `{}` header is missing",
                self.config.caller_header
            )
        })?;
        let realm = self
            .config
            .realm_header
            .as_ref()
            .and_then(|h| headers.get(h))
            .unwrap_or(&self.config.realm);
        let policy = self
            .config
            .policy_for(path)
            .ok_or_else(|| format!("no policy decides `{path}`"))?;
        if !erynoa_core::is_did(caller) {
            return Err(format!("the caller `{}` is not a DID", header_safe(caller)));
        }
        let mut builder = Request::builder(caller.as_str(), realm.as_str())
            .action(method)
            .resource(path);
        for name in &self.config.param_headers {
            if let Some(v) = headers.get(name) {
                builder = builder.param(name.clone(), Value::Text(v.clone()));
            }
        }
        Ok((policy.to_owned(), builder.build()))
    }
}

#[tonic::async_trait]
impl Authorization for ExtAuthz {
    async fn check(
        &self,
        request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        let check = request.into_inner();
        let (id, request) = match self.map(&check) {
            Ok(mapped) => mapped,
            Err(reason) => {
                return Ok(tonic::Response::new(denied(
                    HttpStatusCode::Forbidden,
                    &reason,
                )));
            }
        };
        let Some(version) = self.app.catalog.get(&id) else {
            let reason = format!("no active policy `{id}`");
            return Ok(tonic::Response::new(denied(
                HttpStatusCode::Forbidden,
                &reason,
            )));
        };
        let decided = match evaluate(&self.app, &id, version, vec![request]).await {
            Ok(e) => e,
            Err(e) => {
                return Ok(tonic::Response::new(denied(
                    HttpStatusCode::ServiceUnavailable,
                    &e.message,
                )));
            }
        };
        let Some(e) = decided.first().map(|d| &d.evaluation) else {
            return Ok(tonic::Response::new(denied(
                HttpStatusCode::Forbidden,
                "no evaluation",
            )));
        };
        self.app.metrics.evaluation(&id, e);
        let response = match e.effect {
            Effect::Allow => {
                let mut ok = OkHttpResponseBuilder::new();
                if let Some(reason) = &e.reason {
                    ok.add_response_header("x-erynoa-reason", header_safe(reason), None, false);
                }
                let mut response = CheckResponse::with_status(tonic::Status::ok(""));
                response.set_http_response(ok);
                response
            }
            Effect::Deny => {
                let reason = match (&e.reason, &e.failure) {
                    (Some(r), _) => r.clone(),
                    (None, Some(f)) => f.to_string(),
                    (None, None) => "denied".to_owned(),
                };
                denied(HttpStatusCode::Forbidden, &reason)
            }
        };
        Ok(tonic::Response::new(response))
    }
}
