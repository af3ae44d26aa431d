//! Reading the napi call arguments: strings into reused buffers, uid strings, the uidOut buffer.

use std::ptr;

use napi::bindgen_prelude::BufferSlice;
use napi::{check_status, sys, Error, JsString, JsValue, Result, Status};

use crate::identity;

/// One reused buffer per string argument of `pixel()`/`events()`.
#[derive(Default)]
pub struct Texts {
    pub query: Vec<u8>,
    pub user_agent: Vec<u8>,
    pub referer: Vec<u8>,
    pub cookie: Vec<u8>,
}

/// A JS string as UTF-8 in `buf`, reusing its allocation. napi-rs's `String` asks the
/// engine for the UTF-8 length, allocates and copies: three steps where this takes one.
pub fn read<'b>(s: &JsString, buf: &'b mut Vec<u8>) -> Result<&'b str> {
    let value = s.value();
    let mut units = 0;
    // SAFETY: `value` is a live handle of this call; a null buffer asks for the UTF-16 length only.
    check_status!(
        unsafe {
            sys::napi_get_value_string_utf16(value.env, value.value, ptr::null_mut(), 0, &mut units)
        },
        "Expected a string argument"
    )?;
    // One UTF-16 unit never takes more than 3 UTF-8 bytes (a lone surrogate becomes
    // U+FFFD), and the engine adds a NUL.
    let room = units
        .checked_mul(3)
        .and_then(|n| n.checked_add(1))
        .ok_or_else(|| invalid("string argument too long".into()))?;
    buf.clear();
    buf.reserve(room);
    let mut written = 0;
    // SAFETY: `buf` has `capacity()` writable bytes, and the engine writes at most that many.
    check_status!(
        unsafe {
            sys::napi_get_value_string_utf8(
                value.env,
                value.value,
                buf.as_mut_ptr().cast(),
                buf.capacity(),
                &mut written,
            )
        },
        "Expected a string argument"
    )?;
    // SAFETY: the engine initialised `written` (< capacity) bytes.
    unsafe { buf.set_len(written.min(buf.capacity())) };
    std::str::from_utf8(buf).map_err(|_| invalid("string argument is not UTF-8".into()))
}

/// The uid16 of a uid string given to `uidBytes`/`userRowPrefix`; the encoder never stores an empty uid.
pub fn uid(uid: &str) -> Result<[u8; 16]> {
    if uid.is_empty() {
        return Err(invalid("uid must not be empty".into()));
    }
    Ok(identity::uid16(uid.as_bytes()))
}

/// The first 32 bytes of `uidOut`, where a minted uid's hex goes.
pub fn uid_out<'a>(buf: &'a mut BufferSlice) -> Result<&'a mut [u8; 32]> {
    buf.get_mut(..32)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| invalid("uidOut must be a Buffer of at least 32 bytes".into()))
}

/// An Error for a caller's mistake, thrown in JS.
pub fn invalid(msg: String) -> Error {
    Error::new(Status::InvalidArg, msg)
}
