//! # cart-wasm: cart-core in browsers, webviews and Node
//!
//! The same merge as the server's, compiled to WebAssembly. This crate is only the
//! boundary; the npm package's JavaScript (`js/`) persists bytes in IndexedDB and moves
//! them to regions, and never interprets a cart itself.
//!
//! - [`replica::CoreReplica`]: one device's replica: operations return delta bytes,
//!   `join` takes bytes from anywhere, sync messages are built and read here;
//! - [`convert`]: what crosses to JavaScript: plain objects (never `Map`s), 64-bit
//!   counters as decimal strings, prices as exact decimal strings;
//! - [`error`]: every refusal is a JS `Error` with a stable `code` and the `field`;
//! - [`mod@panic`]: a Rust panic (a bug) leaves its message for the JS layer, which turns
//!   the trap into an `Error` and reloads a fresh instance from the last saved state;
//!
//! The spec's scenario files are replayed through this same API by the package's JS
//! (`src/scenario.js`), so the shipped module itself is what is checked byte for byte
//! against the native runner; the runner is not compiled in, which keeps the module small.

pub mod convert;
pub mod error;
pub mod panic;
pub mod replica;
