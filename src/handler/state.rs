use std::sync::Arc;

use crate::engine::Engine;
use crate::servicebus::MessageSender;

/// Shared by every invocation.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub engine: Engine,
    /// Replies and follow-ups; `None` when no Service Bus is configured (replies are then only
    /// logged, and long operations are followed to the end within the invocation).
    pub sender: Option<MessageSender>,
}

impl AppState {
    pub fn new(engine: Engine, sender: Option<MessageSender>) -> Self {
        Self {
            inner: Arc::new(Inner { engine, sender }),
        }
    }
}
