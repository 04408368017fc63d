//! The client's typed view of what the server sends ([`ServerMessage`]).

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Push, RESERVED_FIELDS};
use crate::protocol::codes::ReceivedCode;
use crate::protocol::message::{parse_id, RawMessage};
use crate::protocol::ServerMessageError;

/// Reads the result fields of an `ok` answer as a typed result
/// (unknown fields are ignored).
pub fn result_as<T: DeserializeOwned>(fields: &Map<String, Value>) -> Result<T, serde_json::Error> {
    T::deserialize(Value::Object(fields.clone()))
}

/// A message from the server, as a client sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// The final success of request `id`.
    Ok {
        /// The request's id.
        id: u32,
        /// Every header field but `type` and `id` (read with [`result_as`]).
        fields: Map<String, Value>,
        /// The payload (the bytes of `sound.get`), often empty.
        payload: Bytes,
    },
    /// The final failure of request `id`, or of an unreadable message.
    Error {
        /// The request's id, absent for unreadable messages.
        id: Option<u32>,
        /// The code, kept even when this version does not know it.
        code: ReceivedCode,
        /// The human-readable message (empty if the server gave none).
        message: String,
        /// Extra fields (`retry_after_s`, `expected_offset`, `received`...).
        fields: Map<String, Value>,
    },
    /// A `progress`, `log`, `notice`, `shutdown` or `bye`.
    Push(Push),
    /// A `type` this version does not know, kept whole so a client can log
    /// and skip it.
    Other {
        /// The `type`.
        kind: String,
        /// The whole header.
        header: Map<String, Value>,
        /// The payload.
        payload: Bytes,
    },
}

impl ServerMessage {
    /// Interprets a decoded message from the server.
    pub fn parse(message: RawMessage) -> Result<ServerMessage, ServerMessageError> {
        let RawMessage {
            mut header,
            payload,
        } = message;
        let kind = match header.get("type") {
            Some(Value::String(kind)) => kind.clone(),
            _ => return Err(ServerMessageError::MissingType),
        };
        let invalid = |reason: String| ServerMessageError::Invalid {
            kind: kind.clone(),
            reason,
        };
        match kind.as_str() {
            "ok" => {
                let id =
                    parse_id(header.get("id")).map_err(|err| invalid(format!("`id` {err}")))?;
                header.remove("type");
                header.remove("id");
                Ok(ServerMessage::Ok {
                    id,
                    fields: header,
                    payload,
                })
            }
            "error" => {
                let id = match header.get("id") {
                    None | Some(Value::Null) => None,
                    value => Some(parse_id(value).map_err(|err| invalid(format!("`id` {err}")))?),
                };
                let code = match header.get("code") {
                    Some(Value::String(code)) => ReceivedCode::from_wire(code),
                    _ => return Err(invalid("`code` is missing or not a string".into())),
                };
                let message = match header.remove("message") {
                    Some(Value::String(message)) => message,
                    _ => String::new(),
                };
                for fixed in RESERVED_FIELDS {
                    header.remove(fixed);
                }
                Ok(ServerMessage::Error {
                    id,
                    code,
                    message,
                    fields: header,
                })
            }
            "progress" | "log" | "notice" | "shutdown" | "bye" => {
                Push::deserialize(Value::Object(header))
                    .map(ServerMessage::Push)
                    .map_err(|err| invalid(err.to_string()))
            }
            _ => Ok(ServerMessage::Other {
                kind,
                header,
                payload,
            }),
        }
    }

    /// The request this message answers or belongs to, if any.
    pub fn request_id(&self) -> Option<u32> {
        match self {
            ServerMessage::Ok { id, .. } => Some(*id),
            ServerMessage::Error { id, .. } => *id,
            ServerMessage::Push(push) => push.request_id(),
            ServerMessage::Other { .. } => None,
        }
    }
}
