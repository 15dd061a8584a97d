//! Wire error codes. The list is alphabetized; each code carries its HTTP status and whether a
//! client may retry, so server and client libraries read one source of truth.

use std::fmt;

/// The `__type` of an error response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    AccessDenied,
    DryRunOperation,
    ExpiredIterator,
    ExpiredNextToken,
    IncompleteSignature,
    InternalFailure,
    InvalidArgument,
    InvalidSignature,
    LimitExceeded,
    MissingAuthenticationToken,
    ProvisionedThroughputExceeded,
    ResourceInUse,
    ResourceNotFound,
    Serialization,
    UnknownOperation,
    Validation,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AccessDenied => "AccessDeniedException",
            ErrorCode::DryRunOperation => "DryRunOperationException",
            ErrorCode::ExpiredIterator => "ExpiredIteratorException",
            ErrorCode::ExpiredNextToken => "ExpiredNextTokenException",
            ErrorCode::IncompleteSignature => "IncompleteSignatureException",
            ErrorCode::InternalFailure => "InternalFailureException",
            ErrorCode::InvalidArgument => "InvalidArgumentException",
            ErrorCode::InvalidSignature => "InvalidSignatureException",
            ErrorCode::LimitExceeded => "LimitExceededException",
            ErrorCode::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorCode::ProvisionedThroughputExceeded => "ProvisionedThroughputExceededException",
            ErrorCode::ResourceInUse => "ResourceInUseException",
            ErrorCode::ResourceNotFound => "ResourceNotFoundException",
            ErrorCode::Serialization => "SerializationException",
            ErrorCode::UnknownOperation => "UnknownOperationException",
            ErrorCode::Validation => "ValidationException",
        }
    }

    /// HTTP status: every modelled exception is 400 except the `fault` InternalFailure.
    pub const fn status(self) -> u16 {
        match self {
            ErrorCode::InternalFailure => 500,
            ErrorCode::AccessDenied
            | ErrorCode::DryRunOperation
            | ErrorCode::ExpiredIterator
            | ErrorCode::ExpiredNextToken
            | ErrorCode::IncompleteSignature
            | ErrorCode::InvalidArgument
            | ErrorCode::InvalidSignature
            | ErrorCode::LimitExceeded
            | ErrorCode::MissingAuthenticationToken
            | ErrorCode::ProvisionedThroughputExceeded
            | ErrorCode::ResourceInUse
            | ErrorCode::ResourceNotFound
            | ErrorCode::Serialization
            | ErrorCode::UnknownOperation
            | ErrorCode::Validation => 400,
        }
    }

    /// Whether repeating the same request may succeed.
    pub const fn is_retryable(self) -> bool {
        match self {
            ErrorCode::InternalFailure
            | ErrorCode::LimitExceeded
            | ErrorCode::ProvisionedThroughputExceeded => true,
            ErrorCode::AccessDenied
            | ErrorCode::DryRunOperation
            | ErrorCode::ExpiredIterator
            | ErrorCode::ExpiredNextToken
            | ErrorCode::IncompleteSignature
            | ErrorCode::InvalidArgument
            | ErrorCode::InvalidSignature
            | ErrorCode::MissingAuthenticationToken
            | ErrorCode::ResourceInUse
            | ErrorCode::ResourceNotFound
            | ErrorCode::Serialization
            | ErrorCode::UnknownOperation
            | ErrorCode::Validation => false,
        }
    }

    /// SerializationException is the one code whose body key is `Message` (capital M), as
    /// AWS's Coral layer emits it; SDKs accept either spelling.
    pub const fn message_key(self) -> &'static str {
        if matches!(self, ErrorCode::Serialization) {
            "Message"
        } else {
            "message"
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as it goes on the wire. `message: None` renders a body with only `__type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    pub code: ErrorCode,
    pub message: Option<String>,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError {
            code,
            message: Some(message.into()),
        }
    }

    pub fn bare(code: ErrorCode) -> Self {
        WireError {
            code,
            message: None,
        }
    }

    /// The JSON body: `{"__type":"<code>","message":"<text>"}`.
    pub fn to_json(&self) -> Vec<u8> {
        let mut map = serde_json::Map::new();
        map.insert("__type".into(), self.code.as_str().into());
        if let Some(m) = &self.message {
            map.insert(self.code.message_key().into(), m.clone().into());
        }
        serde_json::to_vec(&map).unwrap_or_default()
    }
}
