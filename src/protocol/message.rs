//! Messages (§4): the plaintext of an encrypted frame,
//! `u32 header_len | header (UTF-8 JSON object) | payload (the rest)`.
//!
//! This layer only splits and joins; what the header means is for
//! [`request`](super::request) and [`response`](super::response). It also
//! reads the two fields every message has, `type` and (for requests) `id`.

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

use super::frame::MAX_FRAME_LEN;
use super::{IdError, MessageError};

/// Bytes of the ChaCha20-Poly1305 tag that §3 adds to each plaintext.
const AEAD_TAG_LEN: usize = 16;

/// The largest plaintext that fits in one encrypted frame (§1 and §3:
/// `length = plaintext length + 16 <= 1 MiB`).
pub const MAX_MESSAGE_LEN: usize = MAX_FRAME_LEN - AEAD_TAG_LEN;

/// Bytes of `header_len`.
const HEADER_LEN_LEN: usize = 4;

/// A message split into its parts; the header is known to be a JSON object,
/// nothing more.
#[derive(Debug, Clone, PartialEq)]
pub struct RawMessage {
    /// The header's fields. Duplicate keys keep the last value (serde_json's
    /// rule); unknown fields are kept and ignored by the parsers above.
    pub header: Map<String, Value>,
    /// The binary payload (audio), possibly empty; shares the frame's buffer.
    pub payload: Bytes,
}

impl RawMessage {
    /// The `type` field, if it is a string.
    pub fn kind(&self) -> Option<&str> {
        message_type(&self.header)
    }
}

/// Joins a header and a payload into a message plaintext.
///
/// `header` may be any `Serialize` value that serialises to a JSON object
/// (a `serde_json::Map`, a `Value::Object`, a response struct). Fails if it
/// does not, or if the message would not fit in one frame
/// ([`MAX_MESSAGE_LEN`]), so an over-sized inline payload is caught before it
/// reaches the crypto layer.
pub fn encode_message<H: Serialize + ?Sized>(
    header: &H,
    payload: &[u8],
) -> Result<Vec<u8>, MessageError> {
    let header_json =
        serde_json::to_vec(header).map_err(|err| MessageError::NotJson(err.to_string()))?;
    if header_json.first() != Some(&b'{') {
        return Err(MessageError::NotObject);
    }
    let total = HEADER_LEN_LEN + header_json.len() + payload.len();
    if total > MAX_MESSAGE_LEN {
        return Err(MessageError::TooLong(total));
    }
    // Fits in a u32: bounded by MAX_MESSAGE_LEN just above.
    let header_len = u32::try_from(header_json.len()).map_err(|_| MessageError::TooLong(total))?;
    let mut message = Vec::with_capacity(total);
    message.extend_from_slice(&header_len.to_be_bytes());
    message.extend_from_slice(&header_json);
    message.extend_from_slice(payload);
    Ok(message)
}

/// Splits a message plaintext into its JSON-object header and its payload.
///
/// Every error here is answered by the server with `bad_request` without an
/// `id` (§4), and the session goes on.
pub fn decode_message(plaintext: Bytes) -> Result<RawMessage, MessageError> {
    let Some(len_bytes) = plaintext.get(..HEADER_LEN_LEN) else {
        return Err(MessageError::Truncated);
    };
    let mut header_len_be = [0u8; HEADER_LEN_LEN];
    header_len_be.copy_from_slice(len_bytes);
    let header_len = usize::try_from(u32::from_be_bytes(header_len_be)).unwrap_or(usize::MAX);
    let available = plaintext.len() - HEADER_LEN_LEN;
    if header_len > available {
        return Err(MessageError::HeaderLenPastEnd {
            header_len,
            available,
        });
    }
    let header_end = HEADER_LEN_LEN + header_len;
    let header_text = std::str::from_utf8(&plaintext[HEADER_LEN_LEN..header_end])
        .map_err(|_| MessageError::NotUtf8)?;
    let header = match serde_json::from_str::<Value>(header_text) {
        Ok(Value::Object(header)) => header,
        Ok(_) => return Err(MessageError::NotObject),
        Err(err) => return Err(MessageError::NotJson(err.to_string())),
    };
    Ok(RawMessage {
        header,
        payload: plaintext.slice(header_end..),
    })
}

/// The `type` of a header, if present and a string.
pub fn message_type(header: &Map<String, Value>) -> Option<&str> {
    header.get("type").and_then(Value::as_str)
}

/// The request `id` of a header (§4: an integer in 1..=2^32-1).
pub fn request_id(header: &Map<String, Value>) -> Result<u32, IdError> {
    parse_id(header.get("id"))
}

/// Reads a value that must be a request id: `id`, and `cancel`'s `target`.
///
/// Only JSON integers count: `1.0`, `1.5`, `1e0` and `"1"` are refused,
/// as are 0, negatives and anything above `u32::MAX`. `null` is missing.
pub fn parse_id(value: Option<&Value>) -> Result<u32, IdError> {
    let number = match value {
        None | Some(Value::Null) => return Err(IdError::Missing),
        Some(Value::Number(number)) => number,
        Some(_) => return Err(IdError::NotAnInteger),
    };
    if number.is_f64() {
        return Err(IdError::NotAnInteger);
    }
    match number.as_u64() {
        // A negative integer (is_i64 and not u64) is out of range too.
        None => Err(IdError::OutOfRange),
        Some(0) => Err(IdError::OutOfRange),
        Some(id) => u32::try_from(id).map_err(|_| IdError::OutOfRange),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plaintext(header: &[u8], payload: &[u8]) -> Bytes {
        let mut out = (header.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(header);
        out.extend_from_slice(payload);
        Bytes::from(out)
    }

    fn vector(hex_text: &str) -> Bytes {
        Bytes::from(hex::decode(hex_text).unwrap())
    }

    #[test]
    fn decodes_the_test_vector_plaintexts() {
        let ping = decode_message(vector(
            "000000167b2274797065223a2270696e67222c226964223a317d",
        ))
        .unwrap();
        assert_eq!(
            Value::Object(ping.header.clone()),
            json!({"type": "ping", "id": 1})
        );
        assert!(ping.payload.is_empty());
        assert_eq!(ping.kind(), Some("ping"));
        assert_eq!(request_id(&ping.header), Ok(1));

        let ok = decode_message(vector("000000337b2274797065223a226f6b222c226964223a312c227365727665725f74696d655f6d73223a313736333730303030303030307d")).unwrap();
        assert_eq!(
            Value::Object(ok.header),
            json!({"type": "ok", "id": 1, "server_time_ms": 1_763_700_000_000u64})
        );

        let save = decode_message(vector("000000297b2274797065223a22736f756e642e73617665222c226964223a322c226e616d65223a22626f70227d5249464600010203")).unwrap();
        assert_eq!(save.kind(), Some("sound.save"));
        assert_eq!(save.header["name"], "bop");
        assert_eq!(&save.payload[..], b"RIFF\x00\x01\x02\x03");
    }

    #[test]
    fn encodes_the_test_vector_plaintext_byte_for_byte() {
        #[derive(Serialize)]
        struct Ping {
            r#type: &'static str,
            id: u32,
        }
        let encoded = encode_message(
            &Ping {
                r#type: "ping",
                id: 1,
            },
            &[],
        )
        .unwrap();
        assert_eq!(
            hex::encode(encoded),
            "000000167b2274797065223a2270696e67222c226964223a317d"
        );
    }

    #[test]
    fn round_trips_header_and_payload() {
        let header = json!({"type": "stream.data", "id": 9, "stream_id": "s1"});
        let payload = [0u8, 1, 2, 255];
        let encoded = encode_message(&header, &payload).unwrap();
        let decoded = decode_message(Bytes::from(encoded)).unwrap();
        assert_eq!(Value::Object(decoded.header), header);
        assert_eq!(&decoded.payload[..], &payload);
    }

    #[test]
    fn encode_refuses_non_objects_and_over_long_messages() {
        assert_eq!(
            encode_message(&json!([1, 2]), &[]),
            Err(MessageError::NotObject)
        );
        assert_eq!(encode_message(&"ping", &[]), Err(MessageError::NotObject));
        let header = json!({"type": "ok", "id": 1});
        let header_len = serde_json::to_vec(&header).unwrap().len();
        let fits = vec![0u8; MAX_MESSAGE_LEN - 4 - header_len];
        assert_eq!(
            encode_message(&header, &fits).unwrap().len(),
            MAX_MESSAGE_LEN
        );
        let too_long = vec![0u8; fits.len() + 1];
        assert_eq!(
            encode_message(&header, &too_long),
            Err(MessageError::TooLong(MAX_MESSAGE_LEN + 1))
        );
    }

    #[test]
    fn header_len_past_the_end_is_refused() {
        let mut bytes = 100u32.to_be_bytes().to_vec();
        bytes.extend_from_slice(b"{\"type\":\"ping\"}");
        assert_eq!(
            decode_message(Bytes::from(bytes)),
            Err(MessageError::HeaderLenPastEnd {
                header_len: 100,
                available: 15
            })
        );
        let huge = Bytes::from(u32::MAX.to_be_bytes().to_vec());
        assert!(matches!(
            decode_message(huge),
            Err(MessageError::HeaderLenPastEnd { .. })
        ));
    }

    #[test]
    fn short_or_unreadable_headers_are_refused() {
        assert_eq!(
            decode_message(Bytes::from_static(&[0, 0, 1])),
            Err(MessageError::Truncated)
        );
        assert_eq!(decode_message(Bytes::new()), Err(MessageError::Truncated));
        assert!(matches!(
            decode_message(plaintext(b"", b"")),
            Err(MessageError::NotJson(_))
        ));
        assert_eq!(
            decode_message(plaintext(b"{\"type\":\"\xff\"}", b"")),
            Err(MessageError::NotUtf8)
        );
        assert!(matches!(
            decode_message(plaintext(b"{type: ping}", b"")),
            Err(MessageError::NotJson(_))
        ));
        assert!(matches!(
            decode_message(plaintext(b"{\"type\":\"ping\"} x", b"")),
            Err(MessageError::NotJson(_))
        ));
    }

    #[test]
    fn headers_that_are_not_objects_are_refused() {
        for header in [&b"[\"ping\",1]"[..], b"\"ping\"", b"1", b"null", b"true"] {
            assert_eq!(
                decode_message(plaintext(header, b"")),
                Err(MessageError::NotObject),
                "{}",
                String::from_utf8_lossy(header)
            );
        }
    }

    #[test]
    fn header_length_excludes_a_payload_that_looks_like_json() {
        let message = decode_message(plaintext(b"{\"type\":\"ping\",\"id\":3}", b"{}")).unwrap();
        assert_eq!(&message.payload[..], b"{}");
    }

    #[test]
    fn ids_follow_the_range_of_section_4() {
        let id_of = |value: Value| parse_id(Some(&value));
        assert_eq!(id_of(json!(1)), Ok(1));
        assert_eq!(id_of(json!(4_294_967_295u64)), Ok(u32::MAX));
        assert_eq!(id_of(json!(0)), Err(IdError::OutOfRange));
        assert_eq!(id_of(json!(-1)), Err(IdError::OutOfRange));
        assert_eq!(id_of(json!(4_294_967_296u64)), Err(IdError::OutOfRange));
        assert_eq!(id_of(json!(u64::MAX)), Err(IdError::OutOfRange));
        assert_eq!(id_of(json!(1.5)), Err(IdError::NotAnInteger));
        assert_eq!(id_of(json!(1.0)), Err(IdError::NotAnInteger));
        assert_eq!(id_of(json!("1")), Err(IdError::NotAnInteger));
        assert_eq!(id_of(json!(true)), Err(IdError::NotAnInteger));
        assert_eq!(id_of(json!([1])), Err(IdError::NotAnInteger));
        assert_eq!(id_of(Value::Null), Err(IdError::Missing));
        assert_eq!(parse_id(None), Err(IdError::Missing));
    }

    #[test]
    fn ids_written_as_json_text_parse_the_same() {
        // Through the real parser: `1e0` and `1.0` are floats in serde_json.
        for (text, expected) in [
            ("1", Ok(1)),
            ("1.0", Err(IdError::NotAnInteger)),
            ("1e0", Err(IdError::NotAnInteger)),
            ("-0", Err(IdError::NotAnInteger)), // serde_json reads -0 as a float
            ("-1", Err(IdError::OutOfRange)),
            ("18446744073709551616", Err(IdError::NotAnInteger)),
        ] {
            let header = format!("{{\"type\":\"ping\",\"id\":{text}}}");
            let message = decode_message(plaintext(header.as_bytes(), b"")).unwrap();
            assert_eq!(request_id(&message.header), expected, "{text}");
        }
    }
}
