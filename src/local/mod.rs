//! The embedded local world: Service Bus emulator, ARM / Azure ML emulator with its managed
//! identity endpoint, and the local Functions host running this very binary as the handler.
//! `poolbroker local` and the integration tests start it the same way.

mod demo;
mod world;

pub use demo::run_demo;
pub use world::{
    LOCAL_NAMESPACE, LOCAL_SAS_KEY, LOCAL_SAS_KEY_NAME, LocalError, LocalOptions, LocalWorld,
    STATE_DIR_ENV, default_tls_dir,
};
