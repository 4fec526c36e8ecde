//! The HTTP APIs: decisions (with health, readiness and metrics) on one
//! listener, administration on another. Every error is JSON
//! `{"error": {"code", "message"}}` with its status; a deny is a decision
//! (200), never an error.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request as HttpRequest, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use erynoa_host::{Evaluation, Request, UnifiedState};
use serde::{Deserialize, Serialize};
use tokio::sync::OwnedSemaphorePermit;

use crate::catalog::{CatalogError, Version};
use crate::{App, chain};

/// Most requests in one batch.
pub const MAX_BATCH: usize = 1000;

/// An error answer.
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    pub(crate) message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// The decisions listener's routes.
pub(crate) fn decisions(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/decide/{policy}", post(decide))
        .route("/v1/decide/{policy}/batch", post(decide_batch))
        .route("/v1/policies", get(policies))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
}

/// The admin listener's routes, each behind the bearer token.
pub(crate) fn admin(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/policies/{id}/rollback", post(rollback))
        .route("/v1/policies/{id}/activate", post(activate))
        .route("/v1/reload", post(reload))
        .route("/v1/log/head", get(log_head))
        .route("/v1/log/entries", get(log_entries))
        .route("/v1/log/checkpoint", post(checkpoint))
        .route("/v1/state/import", post(import))
        .route("/v1/state/trust/{did}", get(get_trust).put(put_trust))
        .route(
            "/v1/state/credentials/{did}/{schema}",
            axum::routing::put(grant).delete(revoke),
        )
        .route("/v1/policies", get(policies))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(app.clone(), authorize))
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this route does not take that method",
    )
}

// ---- decisions ----

/// The request body, at most the configured limit.
async fn read_body(app: &App, body: Body) -> Result<Vec<u8>, ApiError> {
    match axum::body::to_bytes(body, app.body_limit).await {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(e) => {
            let too_long = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_long {
                Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload-too-large",
                    format!("the body is over the limit of {} bytes", app.body_limit),
                ))
            } else {
                Err(ApiError::bad_request(format!("cannot read the body: {e}")))
            }
        }
    }
}

fn text(bytes: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })
}

fn policy_of(app: &App, id: &str) -> Result<Arc<Version>, ApiError> {
    app.catalog
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("no active policy `{id}`")))
}

/// A slot to evaluate in: at once, or after waiting in a bounded queue.
async fn slot(app: &App) -> Result<OwnedSemaphorePermit, ApiError> {
    if let Ok(permit) = app.slots.clone().try_acquire_owned() {
        return Ok(permit);
    }
    let saturated = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "saturated",
            "every evaluation slot is busy and the queue is full; retry",
        )
    };
    struct Waiting<'a>(&'a App);
    impl Drop for Waiting<'_> {
        fn drop(&mut self) {
            let left = self.0.waiting.fetch_sub(1, Ordering::Relaxed) - 1;
            self.0.metrics.queue_depth.set(left as i64);
        }
    }
    let depth = app.waiting.fetch_add(1, Ordering::Relaxed) + 1;
    let _waiting = Waiting(app);
    app.metrics.queue_depth.set(depth as i64);
    if depth > app.queue {
        app.metrics.rejected("saturated");
        return Err(saturated());
    }
    match tokio::time::timeout(app.queue_timeout, app.slots.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => {
            app.metrics.rejected("saturated");
            Err(saturated())
        }
    }
}

#[derive(Serialize)]
struct Answer<'a> {
    decision_id: String,
    policy: PolicyRef<'a>,
    effect: erynoa_host::Effect,
    reason: Option<&'a str>,
    failure: Option<&'a erynoa_host::Failure>,
    gas: erynoa_store::Gas,
    mana: u64,
    duration_us: u64,
}

#[derive(Serialize)]
struct PolicyRef<'a> {
    id: &'a str,
    name: &'a str,
    version: &'a str,
    digest: &'a str,
}

fn duration_us(e: &Evaluation) -> u64 {
    u64::try_from(e.duration.as_micros()).unwrap_or(u64::MAX)
}

fn answer<'a>(id: &'a str, version: &'a Version, d: &'a Decided) -> Answer<'a> {
    let info = version.policy.info();
    let e = &d.evaluation;
    Answer {
        decision_id: d.decision_id.clone(),
        policy: PolicyRef {
            id,
            name: &info.name,
            version: &info.version,
            digest: &version.digest,
        },
        effect: e.effect,
        reason: e.reason.as_deref(),
        failure: e.failure.as_ref(),
        gas: erynoa_store::Gas::of(e),
        mana: e.mana_used,
        duration_us: duration_us(e),
    }
}

fn json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the answer could not be written: {e}"),
        )
        .into_response(),
    }
}

/// One evaluation with the id it is answered and logged under.
pub(crate) struct Decided {
    pub(crate) evaluation: Evaluation,
    pub(crate) decision_id: String,
}

/// The log entry of one decision (see [`erynoa_store::decision_entry`]).
fn decision_entry(
    id: &str,
    version: &Version,
    request: &Request,
    d: &Decided,
    masking: Option<&crate::config::Masking>,
) -> Result<Box<serde_json::value::RawValue>, String> {
    let policy = erynoa_store::PolicyRecord::of(id, version.policy.info(), Some(&version.digest));
    erynoa_store::decision_entry(&d.decision_id, policy, request, &d.evaluation, masking)
        .map_err(|e| e.to_string())
}

/// Runs `requests` on `version` off the reactor, in one slot, and logs each
/// decision; with `durability = "immediate"` they are on disk before this
/// returns. A decision that cannot be logged is not answered (503).
pub(crate) async fn evaluate(
    app: &Arc<App>,
    id: &str,
    version: Arc<Version>,
    requests: Vec<Request>,
) -> Result<Vec<Decided>, ApiError> {
    let permit = slot(app).await?;
    let worker = app.clone();
    let id = id.to_owned();
    let run = tokio::task::spawn_blocking(move || {
        let decided: Vec<Decided> = requests
            .iter()
            .map(|r| Decided {
                evaluation: version.policy.evaluate(&worker.state, r, worker.limits),
                decision_id: uuid::Uuid::now_v7().to_string(),
            })
            .collect();
        // The slot is for evaluating: recording the decisions and waiting
        // for the fsync hold none, so the next evaluations start meanwhile
        // and concurrent decisions share fsyncs (group commit).
        drop(permit);
        let mut last = None;
        if let Some(log) = &worker.log {
            for (r, d) in requests.iter().zip(&decided) {
                let entry = decision_entry(&id, &version, r, d, Some(&worker.masking))?;
                last = Some(
                    log.append_raw("decision", entry)
                        .map_err(|e| e.to_string())?,
                );
            }
        }
        if let (Some(log), Some(seq), true) = (&worker.log, last, worker.wait_fsync) {
            let waited = std::time::Instant::now();
            log.wait_durable(seq, std::time::Duration::from_secs(5))
                .map_err(|e| e.to_string())?;
            worker
                .metrics
                .log_wait
                .observe(waited.elapsed().as_secs_f64());
        }
        Ok::<_, String>(decided)
    });
    match run.await {
        Ok(Ok(decided)) => Ok(decided),
        Ok(Err(why)) => {
            tracing::error!(%why, "decisions not answered: the log did not take them");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "log-unavailable",
                why,
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "an evaluation task failed");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the evaluation did not finish",
            ))
        }
    }
}

async fn decide(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&app, body).await?;
    let request =
        Request::from_json(text(&bytes)?).map_err(|e| ApiError::bad_request(chain(&e)))?;
    let version = policy_of(&app, &id)?;
    let decided = evaluate(&app, &id, version.clone(), vec![request]).await?;
    let Some(d) = decided.first() else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "no evaluation",
        ));
    };
    app.metrics.evaluation(&id, &d.evaluation);
    Ok(json(&answer(&id, &version, d)))
}

async fn decide_batch(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&app, body).await?;
    let text = text(&bytes)?;
    if !text.trim_start().starts_with('[') {
        return Err(ApiError::bad_request("a batch is a JSON array of requests"));
    }
    let requests = Request::many_from_json(text).map_err(|e| ApiError::bad_request(chain(&e)))?;
    if requests.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "a batch holds at most {MAX_BATCH} requests, this one {}",
            requests.len()
        )));
    }
    let version = policy_of(&app, &id)?;
    let decided = evaluate(&app, &id, version.clone(), requests).await?;
    let answers: Vec<Answer<'_>> = decided
        .iter()
        .map(|d| {
            app.metrics.evaluation(&id, &d.evaluation);
            answer(&id, &version, d)
        })
        .collect();
    Ok(json(&answers))
}

async fn policies(State(app): State<Arc<App>>) -> Response {
    let (policies, trust_refused) = app.catalog.view();
    json(&serde_json::json!({
        "policies": policies,
        "trust_store": {"last_refused": trust_refused},
    }))
}

async fn health() -> Response {
    json(&serde_json::json!({"status": "up"}))
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    // The first scan ran before the listeners opened.
    let ready = app.catalog.ready();
    // A log that stopped writing answers no decision: take this replica
    // out of rotation, and say why.
    let log = app.log.as_ref().and_then(|l| l.failure());
    let status = if ready && log.is_none() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = serde_json::json!({"ready": ready && log.is_none()});
    if let Some(why) = log {
        body["log"] = why.into();
    }
    (status, json(&body)).into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    if let Some(log) = &app.log {
        // Read now: the value set after the last append is stale when idle.
        app.metrics.log_queue_depth.set(log.queue_depth() as i64);
        let (head, _) = log.head();
        app.metrics
            .log_entries
            .set(i64::try_from(head).unwrap_or(i64::MAX));
        app.metrics
            .log_fsyncs
            .set(i64::try_from(log.syncs()).unwrap_or(i64::MAX));
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.encode(),
    )
        .into_response()
}

// ---- admin ----

/// Refuses every admin request without the configured bearer token.
async fn authorize(
    State(app): State<Arc<App>>,
    request: HttpRequest,
    next: Next,
) -> Result<Response, ApiError> {
    let unauthorized = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the admin API needs `Authorization: Bearer <token>`",
        )
    };
    let Some(token) = &app.admin_token else {
        return Err(unauthorized());
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .ok_or_else(unauthorized)?;
    if !constant_time_eq(given, token) {
        return Err(unauthorized());
    }
    Ok(next.run(request).await)
}

/// Compares in time that depends on the length only, not on where the
/// first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackQuery {
    to: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivateQuery {
    digest: String,
}

fn catalog_error(e: CatalogError) -> ApiError {
    match e {
        CatalogError::NotFound(m) => ApiError::not_found(m),
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", chain(&other)),
    }
}

/// Catalog changes take its lock: off the reactor.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CatalogError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the change did not finish",
            )
        })?
        .map_err(catalog_error)
}

async fn rollback(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<RollbackQuery>,
) -> Result<Response, ApiError> {
    let catalog = app.catalog.clone();
    let started = std::time::Instant::now();
    let digest = {
        let id = id.clone();
        blocking(move || catalog.rollback(&id, q.to.as_deref())).await?
    };
    tracing::info!(policy = %id, %digest, took_us = started.elapsed().as_micros() as u64, "rolled back");
    Ok(json(&serde_json::json!({"policy": id, "active": digest})))
}

async fn activate(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<ActivateQuery>,
) -> Result<Response, ApiError> {
    let catalog = app.catalog.clone();
    let digest = {
        let id = id.clone();
        blocking(move || catalog.activate(&id, &q.digest)).await?
    };
    Ok(json(&serde_json::json!({"policy": id, "active": digest})))
}

/// Applies operators' changes: logged (and durable) first when the service
/// has a log, so a restart replays them; then applied, in order.
async fn operate(
    app: Arc<App>,
    changes: Vec<erynoa_store::OperatorChange>,
) -> Result<Response, ApiError> {
    let worker = app.clone();
    let count = changes.len();
    let done = tokio::task::spawn_blocking(move || -> Result<Option<u64>, ApiError> {
        // One batch at a time: their log order is their apply order.
        let _one = worker.operator.lock().unwrap_or_else(|p| p.into_inner());
        let mut last = None;
        if let Some(log) = &worker.log {
            let unavailable = |e: erynoa_store::StoreError| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "log-unavailable",
                    e.to_string(),
                )
            };
            for change in &changes {
                last = Some(log.append("operator", change).map_err(unavailable)?);
            }
            if let Some(seq) = last {
                log.wait_durable(seq, std::time::Duration::from_secs(5))
                    .map_err(unavailable)?;
            }
        }
        for change in &changes {
            change.apply(&worker.state).map_err(ApiError::bad_request)?;
        }
        Ok(last)
    });
    let logged = done.await.map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the change did not finish",
        )
    })??;
    Ok(json(
        &serde_json::json!({"applied": count, "logged_through": logged}),
    ))
}

/// `POST /v1/state/import`: JSON lines of operator changes (as `erynoa
/// state import` reads them); every line is checked before any is logged.
async fn import(State(app): State<Arc<App>>, body: Body) -> Result<Response, ApiError> {
    let bytes = read_body(&app, body).await?;
    let changes = erynoa_store::parse_changes(text(&bytes)?)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    operate(app, changes).await
}

fn did_of(did: &str) -> Result<(), ApiError> {
    if erynoa_core::is_did(did) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("`{did}` is not a DID")))
    }
}

/// `PUT /v1/state/trust/{did}`: a number in [0, 1] for every dimension, or
/// `{"r", "i", "c", "p", "v", "omega"}`, as in a state fixture.
async fn put_trust(
    State(app): State<Arc<App>>,
    Path(did): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    did_of(&did)?;
    let bytes = read_body(&app, body).await?;
    let value: serde_json::Value =
        serde_json::from_str(text(&bytes)?).map_err(|e| ApiError::bad_request(e.to_string()))?;
    // Read as a fixture reads it: the same rules and messages.
    let fixture = serde_json::json!({"trust": {did.clone(): value}}).to_string();
    let parsed = UnifiedState::from_json(&fixture).map_err(|e| ApiError::bad_request(chain(&e)))?;
    let trust = parsed.trust(&did).to_array();
    operate(
        app,
        vec![erynoa_store::OperatorChange::SetTrust { did, trust }],
    )
    .await
}

async fn get_trust(
    State(app): State<Arc<App>>,
    Path(did): Path<String>,
) -> Result<Response, ApiError> {
    did_of(&did)?;
    let t = app.state.trust(&did);
    Ok(json(&serde_json::json!({
        "did": did,
        "trust": {"r": t.r, "i": t.i, "c": t.c, "p": t.p, "v": t.v, "omega": t.omega},
        "credentials": app.state.credentials(&did),
    })))
}

async fn grant(
    State(app): State<Arc<App>>,
    Path((did, schema)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    did_of(&did)?;
    operate(
        app,
        vec![erynoa_store::OperatorChange::Grant { did, schema }],
    )
    .await
}

async fn revoke(
    State(app): State<Arc<App>>,
    Path((did, schema)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    did_of(&did)?;
    operate(
        app,
        vec![erynoa_store::OperatorChange::Revoke { did, schema }],
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntriesQuery {
    since: Option<u64>,
    limit: Option<usize>,
}

/// Most entries one `GET /v1/log/entries` answers.
const MAX_ENTRIES: usize = 10_000;

/// `GET /v1/log/entries?since=SEQ&limit=N`: written entries, oldest first,
/// for shipping the log elsewhere while the service runs (poll with
/// `since` = the last sequence seen + 1).
async fn log_entries(
    State(app): State<Arc<App>>,
    Query(q): Query<EntriesQuery>,
) -> Result<Response, ApiError> {
    let log = app
        .log
        .clone()
        .ok_or_else(|| ApiError::not_found("the service keeps no log (no `data` directory)"))?;
    let limit = q.limit.unwrap_or(1000).clamp(1, MAX_ENTRIES);
    let since = q.since.unwrap_or(1);
    let read = tokio::task::spawn_blocking(move || log.entries(since, limit))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the read did not finish",
            )
        })?
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    // Export lines keep each body's exact bytes, so what is shipped
    // verifies (`erynoa log verify --export`).
    let lines: Vec<String> = read
        .iter()
        .map(|(e, hash)| erynoa_store::export_line(e, hash))
        .collect();
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        format!("[{}]", lines.join(",")),
    )
        .into_response())
}

/// `POST /v1/log/checkpoint`: checkpoints everything written so far now
/// (from the newest checkpoint and the entries after it, off the live
/// state), and answers with it once its entry is durable.
async fn checkpoint(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let log = app
        .log
        .clone()
        .ok_or_else(|| ApiError::not_found("the service keeps no log (no `data` directory)"))?;
    let taken = tokio::task::spawn_blocking(move || log.checkpoint())
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the checkpoint did not finish",
            )
        })?
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "log-unavailable",
                e.to_string(),
            )
        })?;
    Ok(json(&serde_json::json!({
        "covers": taken.covers,
        "hash": taken.hash,
        "digest": taken.digest,
    })))
}

async fn log_head(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let log = app
        .log
        .as_ref()
        .ok_or_else(|| ApiError::not_found("the service keeps no log (no `data` directory)"))?;
    let (sequence, hash) = log.head();
    Ok(json(
        &serde_json::json!({"sequence": sequence, "hash": hash}),
    ))
}

async fn reload(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let catalog = app.catalog.clone();
    blocking(move || {
        catalog.scan(true);
        Ok(())
    })
    .await?;
    Ok(policies(State(app)).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
