//! The host over real processes and real HTTP, with the test handler (`src/bin/test-handler.rs`).

mod common;
mod config;
mod http;
mod process;
mod servicebus;
mod timer;
