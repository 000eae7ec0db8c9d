//! Errors as JS `Error` objects with a `code` (stable, for programs) and a `field`
//! (what was wrong), never bare strings.

use wasm_bindgen::JsValue;

/// Builds `new Error(message)` with `code` and, when known, `field` set on it.
#[must_use]
pub fn js_error(code: &str, field: Option<&str>, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("CartError");
    // Setting a property on a fresh Error cannot fail; if it did, the message still stands.
    let _ = js_sys::Reflect::set(&error, &"code".into(), &code.into());
    if let Some(field) = field {
        let _ = js_sys::Reflect::set(&error, &"field".into(), &field.into());
    }
    error.into()
}

/// An operation's refusal: invalid input names its field.
#[must_use]
pub fn op_error(e: &cart_core::OpError) -> JsValue {
    match e {
        cart_core::OpError::Input(input) => js_error("invalid_input", Some(input.field()), &e.to_string()),
        _ => js_error("counters_exhausted", None, &e.to_string()),
    }
}

/// Bytes that do not decode.
#[must_use]
pub fn decode_error(what: &str, e: &cart_core::DecodeError) -> JsValue {
    js_error("invalid_bytes", Some(what), &format!("{what}: {e}"))
}
