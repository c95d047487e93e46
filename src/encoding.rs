//! The one canonical binary encoding (bincode, fixed-width little-endian integers) used for
//! hashing, storage and the wire. Decoding untrusted bytes is bounded by a byte limit: a list
//! length prefix can make the decoder reserve at most 1 MiB up front (serde's cap on
//! pre-allocation; measured in tests/net_props.rs) before the missing bytes end the decode.

use serde::de::DeserializeOwned;
use serde::Serialize;

use bincode::Options;

/// Upper bound on any single decoded object (a block, a wire message), in bytes.
pub const MAX_DECODE_BYTES: u64 = 8 * 1024 * 1024;

/// Why bytes did not decode.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode {what}: {reason}")]
pub struct DecodeError {
    /// The type that was expected.
    pub what: &'static str,
    /// The decoder's message.
    pub reason: String,
}

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(MAX_DECODE_BYTES)
        .reject_trailing_bytes()
}

fn write_options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_no_limit()
}

/// Encodes a value canonically (the same bytes [`decode`] reads; no size limit on writing).
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    write_options()
        .serialize(value)
        .expect("chainlab types have no maps or unsized parts and always serialize")
}

/// The length of [`encode`]'s output without building it.
pub fn encoded_len<T: Serialize>(value: &T) -> u64 {
    write_options().serialized_size(value).unwrap_or(u64::MAX)
}

/// Decodes untrusted bytes; trailing bytes, truncation and oversize are errors.
///
/// # Errors
/// [`DecodeError`] naming the expected type and what went wrong.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    options().deserialize(bytes).map_err(|e| DecodeError {
        what: std::any::type_name::<T>(),
        reason: e.to_string(),
    })
}
