use std::fmt;

pub use erynoa_core::{GasLayer, TrustVector, Value};

/// What a caller asks the policy to decide.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    caller: String,
    realm: String,
    action: String,
    resource: String,
    params: Vec<(String, Value)>,
}

impl Request {
    /// A request from `caller` in `realm`, with no action, resource or parameters.
    pub fn new(caller: impl Into<String>, realm: impl Into<String>) -> Self {
        Self {
            caller: caller.into(),
            realm: realm.into(),
            action: String::new(),
            resource: String::new(),
            params: Vec::new(),
        }
    }

    /// Sets the action.
    #[must_use]
    pub fn with_action(mut self, action: impl Into<String>) -> Self {
        self.action = action.into();
        self
    }

    /// Sets the resource.
    #[must_use]
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = resource.into();
        self
    }

    /// Adds a parameter.
    #[must_use]
    pub fn with_param(mut self, name: impl Into<String>, value: Value) -> Self {
        self.params.push((name.into(), value));
        self
    }

    /// DID of the caller.
    pub fn caller(&self) -> &str {
        &self.caller
    }

    /// Realm of the request.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The action asked for.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The resource the action is on.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// A parameter by name.
    pub fn param(&self, name: &str) -> Option<&Value> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// A number parameter; an error names the parameter if it is missing or not a number.
    pub fn number(&self, name: &str) -> Result<f64> {
        match self.param(name) {
            Some(Value::Number(n)) => Ok(*n),
            Some(other) => Err(Error::invalid(format!(
                "parameter `{name}` is {}, expected a number",
                other.kind()
            ))),
            None => Err(Error::invalid(format!("parameter `{name}` is missing"))),
        }
    }

    /// A text or DID parameter; an error names the parameter otherwise.
    pub fn text(&self, name: &str) -> Result<&str> {
        match self.param(name) {
            Some(Value::Text(s) | Value::Did(s)) => Ok(s),
            Some(other) => Err(Error::invalid(format!(
                "parameter `{name}` is {}, expected a string",
                other.kind()
            ))),
            None => Err(Error::invalid(format!("parameter `{name}` is missing"))),
        }
    }

    /// All parameters, in the order the host gave them.
    pub fn params(&self) -> &[(String, Value)] {
        &self.params
    }
}

/// The policy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    allowed: bool,
    reason: Option<String>,
}

impl Decision {
    /// Allow, without a reason.
    pub fn allow() -> Self {
        Self {
            allowed: true,
            reason: None,
        }
    }

    /// Allow, saying why.
    pub fn allow_because(reason: impl Into<String>) -> Self {
        Self {
            allowed: true,
            reason: Some(reason.into()),
        }
    }

    /// Deny, saying why. Keep reasons under 4 KiB: the host refuses longer ones.
    pub fn deny(reason: impl Into<String>) -> Self {
        Self {
            allowed: false,
            reason: Some(reason.into()),
        }
    }

    /// Whether this allows.
    pub fn is_allowed(&self) -> bool {
        self.allowed
    }

    /// The reason, if any.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
}

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Something does not exist.
    NotFound,
    /// An argument was malformed.
    InvalidArgument,
    /// A limit was hit.
    LimitExceeded,
    /// Something failed inside.
    Internal,
}

/// An error from a host call, or one a policy returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The kind.
    pub code: ErrorCode,
    /// What happened.
    pub message: String,
}

impl Error {
    /// An error of `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// An invalid-argument error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

impl From<erynoa_core::Rejected> for Error {
    fn from(e: erynoa_core::Rejected) -> Self {
        let code = match e.code {
            erynoa_core::RejectCode::InvalidArgument => ErrorCode::InvalidArgument,
            erynoa_core::RejectCode::LimitExceeded => ErrorCode::LimitExceeded,
        };
        Error {
            code,
            message: e.message,
        }
    }
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
