//! Reading a request's fields from its header with serde ([`read`]), and
//! what the derives need to follow the conventions of the module: every
//! failure names its field in the module's words, `null` counts as absent
//! where a field has a default ([`null_is_default`]), and the wire forms of
//! a digest, a PCM format, a request id and the numeric options.

use serde::de::{Deserializer, Error as _, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use serde_path_to_error::Segment;

use super::rules::parse_sha256_hex;
use super::{PcmEncoding, PcmFormat, MAX_CHANNELS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};
use crate::protocol::message::parse_id;
use crate::protocol::{FieldError, IdError};

/// The fields of a request as a JSON object (one without fields, which
/// serialises to `null`, has none).
pub(super) fn fields_of<T: Serialize>(request: &T) -> Map<String, Value> {
    match serde_json::to_value(request) {
        Ok(Value::Object(fields)) => fields,
        _ => Map::new(),
    }
}

/// Reads the fields of one request type from its header (unknown fields,
/// `type` and `id` included, are ignored). A failure names the field, with
/// its parent for nested ones (`format.sample_rate`).
pub(super) fn read<'a, T: Deserialize<'a>>(
    header: &'a Map<String, Value>,
) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(header).map_err(|err| {
        let mut field: Vec<&str> = err
            .path()
            .iter()
            .filter_map(|segment| match segment {
                Segment::Map { key } => Some(key.as_str()),
                _ => None,
            })
            .collect();
        let message = err.inner().to_string();
        let reason = match missing_field(&message) {
            Some(name) => {
                field.push(name);
                "is missing".to_owned()
            }
            None => reason(&message),
        };
        FieldError::bad(field.join("."), reason)
    })
}

/// The field a "missing field `x`" error of serde names.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.strip_suffix('`')
}

/// The module's wording for one of serde's errors. serde words the failures
/// its derives and primitive types detect in a fixed form
/// (`serde::de::Error`'s provided methods: "invalid type: U, expected E",
/// "invalid value: U, expected E", "unknown variant `x`, expected E"); the
/// checks of this module's own types already speak its words and pass
/// through. The client's value is never repeated.
fn reason(message: &str) -> String {
    let typed = ["invalid type: ", "invalid value: "]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.rsplit_once(", expected "));
    if let Some((unexpected, expected)) = typed {
        return expectation(unexpected, expected);
    }
    if message.starts_with("unknown variant `") {
        if let Some((_, expected)) = message.rsplit_once(", expected ") {
            let choices: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            return format!("must be {}", one_of(&choices));
        }
    }
    message.to_owned()
}

/// What a field must be, from what serde expected of it.
fn expectation(unexpected: &str, expected: &str) -> String {
    if unexpected == "null" {
        // A required field given as `null` is missing.
        return "is missing".to_owned();
    }
    match expected {
        "a string" => "must be a string",
        "a boolean" => "must be true or false",
        "u8" | "u16" | "u32" | "u64" if unexpected.starts_with("integer `-") => {
            "must not be negative"
        }
        "u8" | "u16" | "u32" | "u64" if unexpected.starts_with("integer") => "is too large",
        "u8" | "u16" | "u32" | "u64" => "must be a non-negative integer",
        "f64" => "must be a number",
        _ if expected.starts_with("struct ") || expected == "a map" => "must be an object",
        _ => return format!("must be {expected}"),
    }
    .to_owned()
}

/// `"a", "b" or "c"`: the values a field may take, for its error message.
pub(super) fn one_of(choices: &[&str]) -> String {
    let quoted: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// An optional field with a default: absent and `null` both mean the
/// default (many client libraries write `None` as `null`).
pub(super) fn null_is_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// An optional object field with a default (`options`): absent and `null`
/// both mean the default, and only a JSON object is read ([`ObjectOnly`]).
pub(super) fn object_or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    struct Object<T>(T);
    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            T::deserialize(ObjectOnly(deserializer)).map(Object)
        }
    }
    Ok(Option::<Object<T>>::deserialize(deserializer)?.map_or_else(T::default, |o| o.0))
}

/// Reads a struct from a JSON object only: serde's derives would also take
/// an array of its values in field order, which the protocol never sends
/// (`"options": [0.5]` is `bad_request`).
struct ObjectOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// A string field read through the validated newtype `V` that holds its
/// rule (`checked::<SoundName, _>`), kept as the plain string the request
/// types carry (a client may send any string: the rule is the server's).
pub(super) fn checked<'de, V, D>(deserializer: D) -> Result<String, D::Error>
where
    V: Deserialize<'de> + Into<String>,
    D: Deserializer<'de>,
{
    V::deserialize(deserializer).map(Into::into)
}

/// `cancel`'s `target`: a request id, read by the rule of `id`.
pub(super) fn request_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let value = Value::deserialize(deserializer)?;
    parse_id(Some(&value)).map_err(|err| match err {
        IdError::Missing => D::Error::custom("is missing"),
        _ => D::Error::custom("must be a request id (an integer in 1..=4294967295)"),
    })
}

/// A number of seconds (`grace_s`): any JSON number at least 0.
pub(super) fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    at_least_zero(f64::deserialize(deserializer)?).map_err(D::Error::custom)
}

/// An optional shortest gap between events (`options.min_gap_s`): in
/// 0..=[`MAX_MIN_GAP_S`](crate::dsp::MAX_MIN_GAP_S) seconds.
pub(super) fn opt_min_gap<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<f64>, D::Error> {
    match Option::<f64>::deserialize(deserializer)? {
        Some(gap) if !(0.0..=crate::dsp::MAX_MIN_GAP_S).contains(&gap) => {
            Err(D::Error::custom(format!(
                "must be in 0..{} (seconds; four hours, the longest recording)",
                crate::dsp::MAX_MIN_GAP_S
            )))
        }
        gap => Ok(gap),
    }
}

/// An optional score (`options.threshold`): a number in 0..=1.
pub(super) fn opt_unit<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<f64>, D::Error> {
    match Option::<f64>::deserialize(deserializer)? {
        Some(x) if !(0.0..=1.0).contains(&x) => Err(D::Error::custom("must be in 0..1")),
        score => Ok(score),
    }
}

fn at_least_zero(x: f64) -> Result<f64, &'static str> {
    if x >= 0.0 {
        Ok(x)
    } else {
        Err("must be at least 0")
    }
}

/// A SHA-256 as 64 hex digits (either case read, lower case written).
pub(super) mod hex_digest {
    use super::*;

    pub(in super::super) fn serialize<S: Serializer>(
        digest: &[u8; 32],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(digest))
    }

    pub(in super::super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_sha256_hex(&text).map_err(D::Error::custom)
    }
}

/// A PCM format as `stream.open` carries it: `encoding`, `sample_rate`
/// (8000..=192000) and `channels` (1..=8), integers.
pub(super) mod pcm_format {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Wire {
        encoding: Encoding,
        sample_rate: SampleRate,
        channels: Channels,
    }

    #[derive(Clone, Copy, Serialize, Deserialize)]
    #[serde(try_from = "String", into = "&'static str")]
    struct Encoding(PcmEncoding);

    impl TryFrom<String> for Encoding {
        type Error = String;
        fn try_from(text: String) -> Result<Self, String> {
            PcmEncoding::from_wire(&text).map(Encoding).ok_or_else(|| {
                let names = PcmEncoding::ALL.map(PcmEncoding::as_wire);
                format!("must be {}", one_of(&names))
            })
        }
    }

    impl From<Encoding> for &'static str {
        fn from(encoding: Encoding) -> Self {
            encoding.0.as_wire()
        }
    }

    #[derive(Serialize, Deserialize)]
    #[serde(try_from = "u64")]
    struct SampleRate(u32);

    impl TryFrom<u64> for SampleRate {
        type Error = String;
        fn try_from(rate: u64) -> Result<Self, String> {
            in_range(rate, MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).map(SampleRate)
        }
    }

    #[derive(Serialize, Deserialize)]
    #[serde(try_from = "u64")]
    struct Channels(u16);

    impl TryFrom<u64> for Channels {
        type Error = String;
        fn try_from(channels: u64) -> Result<Self, String> {
            in_range(channels, 1..=MAX_CHANNELS).map(Channels)
        }
    }

    /// `value` as a `T` within `range`, or what it must be.
    fn in_range<T>(value: u64, range: std::ops::RangeInclusive<T>) -> Result<T, String>
    where
        T: TryFrom<u64> + PartialOrd + std::fmt::Display,
    {
        T::try_from(value)
            .ok()
            .filter(|value| range.contains(value))
            .ok_or_else(|| format!("must be in {}..={}", range.start(), range.end()))
    }

    pub(in super::super) fn serialize<S: Serializer>(
        format: &PcmFormat,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        Wire {
            encoding: Encoding(format.encoding),
            sample_rate: SampleRate(format.sample_rate),
            channels: Channels(format.channels),
        }
        .serialize(serializer)
    }

    pub(in super::super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<PcmFormat, D::Error> {
        let wire = Wire::deserialize(ObjectOnly(deserializer))?;
        Ok(PcmFormat {
            encoding: wire.encoding.0,
            sample_rate: wire.sample_rate.0,
            channels: wire.channels.0,
        })
    }
}
