//! Panics at the boundary. The shipped build aborts on panic (WebAssembly has no
//! unwinding without nightly features), which JavaScript sees as an opaque
//! `RuntimeError: unreachable`. The hook keeps the message; the package's JS wrapper
//! reads it with [`take_panic_message`], throws an `Error` with `code: "panic"`, and
//! replaces the instance, whose memory can no longer be trusted, with a fresh one
//! loaded from the last persisted state.

use std::sync::Mutex;

use wasm_bindgen::prelude::wasm_bindgen;

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Installs the hook when the module starts.
#[wasm_bindgen(start)]
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(info.to_string());
        }
    }));
}

/// The message of the panic that trapped, once.
#[wasm_bindgen(js_name = takePanicMessage)]
#[must_use]
pub fn take_panic_message() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|mut last| last.take())
}

/// Panics on purpose: the package's tests use it to check that a panic reaches
/// JavaScript as an `Error` with its message and that the cart recovers.
#[wasm_bindgen(js_name = debugPanic)]
#[allow(clippy::panic)] // the whole point
pub fn debug_panic(message: &str) {
    panic!("{message}");
}
