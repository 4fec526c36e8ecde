use std::collections::BTreeMap;
use std::sync::Arc;

use erynoa_core::{Value, is_did};
use serde::Deserialize;

use crate::engine::component::bindings::erynoa::ecl::types as wit;

impl From<&Value> for wit::Value {
    fn from(v: &Value) -> Self {
        match v {
            Value::Null => wit::Value::Null,
            Value::Bool(b) => wit::Value::Boolean(*b),
            Value::Number(n) => wit::Value::Number(*n),
            Value::Text(s) => wit::Value::Text(s.clone()),
            Value::Did(s) => wit::Value::Did(s.clone()),
        }
    }
}

/// What a caller asks a policy to decide.
///
/// Cheap to clone: evaluations share one immutable copy, already in the form
/// the guest receives, so nothing is rebuilt per evaluation.
///
/// ```
/// use erynoa_host::{Request, Value};
/// let req = Request::builder("did:erynoa:self:alice", "finance")
///     .action("transfer")
///     .resource("account:42")
///     .param("amount", Value::Number(250.0))
///     .build();
/// assert_eq!(req.param("amount"), Some(&Value::Number(250.0)));
/// ```
#[derive(Debug, Clone)]
pub struct Request(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    params: BTreeMap<String, Value>,
    timestamp: Option<u64>,
    wit: wit::Request,
}

/// Builds a [`Request`].
#[derive(Debug)]
pub struct RequestBuilder {
    caller: String,
    realm: String,
    action: String,
    resource: String,
    params: BTreeMap<String, Value>,
    timestamp: Option<u64>,
}

impl RequestBuilder {
    /// The action, e.g. `transfer`. Default empty.
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = action.into();
        self
    }

    /// The resource, e.g. `account:42`. Default empty.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = resource.into();
        self
    }

    /// Adds or replaces a parameter.
    pub fn param(mut self, name: impl Into<String>, value: Value) -> Self {
        self.params.insert(name.into(), value);
        self
    }

    /// The evaluation time in Unix seconds that `context.timestamp` returns.
    /// Default: the state's clock, else the time of evaluation.
    pub fn timestamp(mut self, unix_seconds: u64) -> Self {
        self.timestamp = Some(unix_seconds);
        self
    }

    /// Finishes the request.
    pub fn build(self) -> Request {
        let wit = wit::Request {
            caller: self.caller,
            realm: self.realm,
            action: self.action,
            resource: self.resource,
            params: self
                .params
                .iter()
                .map(|(name, value)| wit::Param {
                    name: name.clone(),
                    value: value.into(),
                })
                .collect(),
        };
        Request(Arc::new(Inner {
            params: self.params,
            timestamp: self.timestamp,
            wit,
        }))
    }
}

/// A request that could not be read. Each message is complete in itself
/// (no separate source), so it prints once whatever prints it.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The text is not valid JSON or lacks a field.
    #[error("invalid request JSON: {0}")]
    Json(serde_json::Error),
    /// A parameter has a value of a type requests cannot carry.
    #[error(
        "request parameter `{name}` is {found}; expected null, a bool, a number, a string or {{\"did\": \"did:...\"}}"
    )]
    ParamType {
        /// The parameter's name.
        name: String,
        /// What was found instead.
        found: &'static str,
    },
    /// One request of a list is malformed.
    #[error("request #{index}: {error}")]
    Item {
        /// Its position, from 0.
        index: usize,
        /// What is wrong with it.
        error: Box<RequestError>,
    },
    /// The caller is not a DID.
    #[error("request caller `{}` is not a DID (expected `did:<method>:<id>`)", .0.escape_debug())]
    Caller(String),
}

impl From<serde_json::Error> for RequestError {
    fn from(e: serde_json::Error) -> Self {
        RequestError::Json(e)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestJson {
    caller: String,
    #[serde(default)]
    realm: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    resource: String,
    #[serde(default)]
    params: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    timestamp: Option<u64>,
}

impl Request {
    /// Starts a request from `caller` in `realm`.
    pub fn builder(caller: impl Into<String>, realm: impl Into<String>) -> RequestBuilder {
        RequestBuilder {
            caller: caller.into(),
            realm: realm.into(),
            action: String::new(),
            resource: String::new(),
            params: BTreeMap::new(),
            timestamp: None,
        }
    }

    /// Reads a request from JSON:
    ///
    /// ```json
    /// {"caller": "did:erynoa:self:alice", "realm": "finance", "action": "transfer",
    ///  "resource": "account:42", "params": {"amount": 250, "to": {"did": "did:erynoa:self:bob"}},
    ///  "timestamp": 1700000000}
    /// ```
    ///
    /// Only `caller` is required. A parameter is null, a bool, a number, a
    /// string, or `{"did": "..."}` for a DID.
    pub fn from_json(text: &str) -> Result<Request, RequestError> {
        crate::json::check_unique_keys(text)?;
        Self::from_parsed(serde_json::from_str(text)?)
    }

    fn from_parsed(json: RequestJson) -> Result<Request, RequestError> {
        if !is_did(&json.caller) {
            return Err(RequestError::Caller(json.caller));
        }
        let mut builder = Request::builder(json.caller, json.realm)
            .action(json.action)
            .resource(json.resource);
        builder.timestamp = json.timestamp;
        for (name, value) in json.params {
            let value = param_from_json(&name, value)?;
            builder = builder.param(name, value);
        }
        Ok(builder.build())
    }

    /// Reads one request (a JSON object) or several (an array of them).
    ///
    /// ```
    /// use erynoa_host::Request;
    /// let reqs = Request::many_from_json(r#"[{"caller": "did:e:a"}, {"caller": "did:e:b"}]"#)?;
    /// assert_eq!(reqs[1].caller(), "did:e:b");
    /// # Ok::<(), erynoa_host::RequestError>(())
    /// ```
    pub fn many_from_json(text: &str) -> Result<Vec<Request>, RequestError> {
        match crate::json::parse(text)? {
            serde_json::Value::Array(values) => values
                .into_iter()
                .enumerate()
                .map(|(index, v)| {
                    Request::from_value(v).map_err(|e| RequestError::Item {
                        index,
                        error: Box::new(e),
                    })
                })
                .collect(),
            one => Ok(vec![Request::from_value(one)?]),
        }
    }

    fn from_value(value: serde_json::Value) -> Result<Request, RequestError> {
        let json: RequestJson = serde_json::from_value(value)?;
        Self::from_parsed(json)
    }

    /// DID of the caller.
    pub fn caller(&self) -> &str {
        &self.0.wit.caller
    }

    /// Realm of the request.
    pub fn realm(&self) -> &str {
        &self.0.wit.realm
    }

    /// The action asked for.
    pub fn action(&self) -> &str {
        &self.0.wit.action
    }

    /// The resource the action is on.
    pub fn resource(&self) -> &str {
        &self.0.wit.resource
    }

    /// A parameter by name.
    pub fn param(&self, name: &str) -> Option<&Value> {
        self.0.params.get(name)
    }

    /// All parameters, by name.
    pub fn params(&self) -> &BTreeMap<String, Value> {
        &self.0.params
    }

    /// The evaluation time the request fixes, if it fixes one.
    pub fn timestamp(&self) -> Option<u64> {
        self.0.timestamp
    }

    pub(crate) fn wit(&self) -> &wit::Request {
        &self.0.wit
    }
}

fn param_from_json(name: &str, value: serde_json::Value) -> Result<Value, RequestError> {
    use serde_json::Value as J;
    let wrong = |found| RequestError::ParamType {
        name: name.to_owned(),
        found,
    };
    Ok(match value {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(b),
        J::Number(n) => Value::Number(n.as_f64().ok_or_else(|| wrong("a number out of range"))?),
        J::String(s) => Value::Text(s),
        J::Array(_) => return Err(wrong("an array")),
        J::Object(mut map) => match (map.remove("did"), map.is_empty()) {
            (Some(J::String(did)), true) => Value::Did(did),
            _ => return Err(wrong("an object")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_request_with_every_parameter_type() {
        let req = Request::from_json(
            r#"{"caller": "did:erynoa:self:alice", "realm": "r", "action": "a",
                "params": {"n": 2.5, "b": true, "s": "x", "z": null, "d": {"did": "did:e:bob"}}}"#,
        )
        .unwrap();
        assert_eq!(req.caller(), "did:erynoa:self:alice");
        assert_eq!(req.param("n"), Some(&Value::Number(2.5)));
        assert_eq!(req.param("b"), Some(&Value::Bool(true)));
        assert_eq!(req.param("s"), Some(&Value::Text("x".into())));
        assert_eq!(req.param("z"), Some(&Value::Null));
        assert_eq!(req.param("d"), Some(&Value::Did("did:e:bob".into())));
        assert_eq!(req.wit().params.len(), 5);
    }

    #[test]
    fn malformed_requests_say_what_is_wrong() {
        let err = |text| Request::from_json(text).unwrap_err().to_string();
        assert!(err("{").starts_with("invalid request JSON"));
        assert!(err(r#"{"realm": "r"}"#).contains("missing field `caller`"));
        assert!(err(r#"{"caller": "alice"}"#).contains("`alice` is not a DID"));
        assert!(err(r#"{"caller": "did:e:a", "colour": 1}"#).contains("unknown field `colour`"));
        assert_eq!(
            err(r#"{"caller": "did:e:a", "params": {"xs": [1]}}"#),
            "request parameter `xs` is an array; expected null, a bool, a number, a string or {\"did\": \"did:...\"}"
        );
        assert!(
            err(r#"{"caller": "did:e:a", "params": {"o": {"did": 1}}}"#)
                .contains("`o` is an object")
        );
    }

    #[test]
    fn one_or_many() {
        assert_eq!(
            Request::many_from_json(r#"{"caller": "did:e:a"}"#)
                .unwrap()
                .len(),
            1
        );
        let err =
            Request::many_from_json(r#"[{"caller": "did:e:a"}, {"caller": "x"}]"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "request #1: request caller `x` is not a DID (expected `did:<method>:<id>`)"
        );
    }
}
