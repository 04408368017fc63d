//! Reading a header's fields with the conventions of the module (typed
//! reads that name the failing field), and writing them from the request
//! types.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::rules::validate_sound_name;
use super::{
    CountOptions, PcmEncoding, PcmFormat, TemplateSource, MAX_CHANNELS, MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
};
use crate::protocol::FieldError;

/// The fields of a request type as a JSON object (they always are one).
pub(super) fn fields_of<T: Serialize>(request: &T) -> Map<String, Value> {
    match serde_json::to_value(request) {
        Ok(Value::Object(fields)) => fields,
        _ => Map::new(),
    }
}

/// A SHA-256 as 64 lower-case hex digits.
pub(super) fn hex_digest<S: Serializer>(
    digest: &[u8; 32],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode(digest))
}

/// A PCM format as `stream.open` writes it.
pub(super) fn pcm_format<S: Serializer>(
    format: &PcmFormat,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Wire {
        encoding: &'static str,
        sample_rate: u32,
        channels: u16,
    }
    Wire {
        encoding: format.encoding.as_wire(),
        sample_rate: format.sample_rate,
        channels: format.channels,
    }
    .serialize(serializer)
}

/// Typed reads of header fields, each failing with a [`FieldError`] that
/// names the field.
pub(super) struct Fields<'a>(pub(super) &'a Map<String, Value>);

impl<'a> Fields<'a> {
    /// The field's value; `null` counts as absent.
    pub(super) fn get(&self, field: &str) -> Option<&'a Value> {
        self.0.get(field).filter(|value| !value.is_null())
    }

    pub(super) fn string(&self, field: &'static str) -> Result<String, FieldError> {
        self.opt_string(field)?
            .ok_or_else(|| FieldError::bad(field, "is missing"))
    }

    pub(super) fn opt_string(&self, field: &'static str) -> Result<Option<String>, FieldError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(FieldError::bad(field, "must be a string")),
        }
    }

    pub(super) fn u64(&self, field: &'static str) -> Result<u64, FieldError> {
        self.opt_u64(field)?
            .ok_or_else(|| FieldError::bad(field, "is missing"))
    }

    pub(super) fn opt_u64(&self, field: &'static str) -> Result<Option<u64>, FieldError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(number)) if !number.is_f64() => number
                .as_u64()
                .map(Some)
                .ok_or_else(|| FieldError::bad(field, "must not be negative")),
            Some(_) => Err(FieldError::bad(field, "must be a non-negative integer")),
        }
    }

    pub(super) fn opt_bool(&self, field: &'static str) -> Result<Option<bool>, FieldError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(_) => Err(FieldError::bad(field, "must be true or false")),
        }
    }

    pub(super) fn f64(&self, field: &'static str) -> Result<f64, FieldError> {
        number_in(field, self.get(field))?.ok_or_else(|| FieldError::bad(field, "is missing"))
    }

    pub(super) fn sound_name(&self, field: &'static str) -> Result<String, FieldError> {
        let name = self.string(field)?;
        validate_sound_name(&name).map_err(|rule| FieldError::bad(field, rule.0))?;
        Ok(name)
    }

    /// A string field that must be one of a wire enum's values.
    pub(super) fn wire<T>(
        &self,
        field: &'static str,
        from_wire: fn(&str) -> Option<T>,
        expected: &'static str,
    ) -> Result<T, FieldError> {
        from_wire(&self.string(field)?).ok_or_else(|| FieldError::bad(field, expected))
    }

    pub(super) fn template(&self) -> Result<TemplateSource, FieldError> {
        let sound = self.opt_string("sound")?;
        let upload = self.opt_string("template_upload")?;
        match (sound, upload) {
            (Some(name), None) => {
                validate_sound_name(&name).map_err(|rule| FieldError::bad("sound", rule.0))?;
                Ok(TemplateSource::Sound(name))
            }
            (None, Some(upload_id)) => Ok(TemplateSource::Upload(upload_id)),
            (None, None) => Err(FieldError::bad(
                "sound",
                "is missing: give `sound` or `template_upload`",
            )),
            (Some(_), Some(_)) => Err(FieldError::bad(
                "sound",
                "and `template_upload` are both given: give exactly one",
            )),
        }
    }

    pub(super) fn options(&self) -> Result<CountOptions, FieldError> {
        let options = match self.get("options") {
            None => return Ok(CountOptions::default()),
            Some(Value::Object(options)) => options,
            Some(_) => return Err(FieldError::bad("options", "must be an object")),
        };
        let threshold = number_in("options.threshold", options.get("threshold"))?;
        if threshold.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
            return Err(FieldError::bad("options.threshold", "must be in 0..1"));
        }
        let min_gap_s = number_in("options.min_gap_s", options.get("min_gap_s"))?;
        if min_gap_s.is_some_and(|gap| !(0.0..=crate::dsp::MAX_MIN_GAP_S).contains(&gap)) {
            return Err(FieldError::bad(
                "options.min_gap_s",
                "must be in 0..14400 (seconds; four hours, the longest recording)",
            ));
        }
        Ok(CountOptions {
            threshold,
            min_gap_s,
        })
    }

    pub(super) fn format(&self) -> Result<PcmFormat, FieldError> {
        let format = match self.get("format") {
            None => return Err(FieldError::bad("format", "is missing")),
            Some(Value::Object(format)) => Fields(format),
            Some(_) => return Err(FieldError::bad("format", "must be an object")),
        };
        let encoding = match format.get("encoding") {
            None => return Err(FieldError::bad("format.encoding", "is missing")),
            Some(Value::String(text)) => PcmEncoding::from_wire(text),
            Some(_) => None,
        }
        .ok_or_else(|| {
            FieldError::bad("format.encoding", "must be \"u8\", \"s16le\" or \"f32le\"")
        })?;
        let sample_rate = format
            .u64("sample_rate")
            .map_err(|err| FieldError::bad("format.sample_rate", err.reason))?;
        let sample_rate = u32::try_from(sample_rate)
            .ok()
            .filter(|rate| (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(rate))
            .ok_or_else(|| {
                FieldError::bad(
                    "format.sample_rate",
                    format!("must be in {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE}"),
                )
            })?;
        let channels = format
            .u64("channels")
            .map_err(|err| FieldError::bad("format.channels", err.reason))?;
        let channels = u16::try_from(channels)
            .ok()
            .filter(|channels| (1..=MAX_CHANNELS).contains(channels))
            .ok_or_else(|| {
                FieldError::bad("format.channels", format!("must be in 1..={MAX_CHANNELS}"))
            })?;
        Ok(PcmFormat {
            encoding,
            sample_rate,
            channels,
        })
    }
}

/// An optional finite JSON number (`null` is absent).
fn number_in(field: &'static str, value: Option<&Value>) -> Result<Option<f64>, FieldError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_f64()
            .filter(|x| x.is_finite())
            .map(Some)
            .ok_or_else(|| FieldError::bad(field, "must be a finite number")),
        Some(_) => Err(FieldError::bad(field, "must be a number")),
    }
}
