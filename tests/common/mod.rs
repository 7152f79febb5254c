//! Shared harness: the real local world (emulators + local Functions host running the real
//! `poolbroker` binary), on ephemeral ports.
#![allow(dead_code)]

use std::time::Duration;

use poolbroker::local::{LocalOptions, LocalWorld};
use serde_json::Value;
use servicebus_emulator::{OutgoingMessage, ReceivedMessage};

pub const REPLIES: &str = "pool-replies";
pub const COMMANDS: &str = "pool-commands";
pub const REJECTED: &str = "pool-commands-rejected";
pub const WORKSPACE_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.MachineLearningServices/workspaces/ml-demo";
pub const POOL1: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Synapse/workspaces/syn-demo/bigDataPools/sparkpool1";

pub fn options() -> LocalOptions {
    let mut options =
        LocalOptions::new(env!("CARGO_MANIFEST_DIR"), env!("CARGO_BIN_EXE_poolbroker")).ephemeral();
    options.emulator.retry_after_secs = 0;
    options
        .extra_settings
        .insert("POOLBROKER_LOG".into(), "warn".into());
    options
}

pub async fn start() -> LocalWorld {
    start_with(options()).await
}

pub async fn start_with(options: LocalOptions) -> LocalWorld {
    let world = LocalWorld::start(options)
        .await
        .expect("local world starts");
    world.broker.create_queue(REPLIES, Default::default());
    world
}

/// Sends a command with a fresh correlation id and returns that id.
pub fn send(world: &LocalWorld, body: &str) -> String {
    send_with(world, body, |_| {})
}

pub fn send_with(
    world: &LocalWorld,
    body: &str,
    customize: impl FnOnce(&mut OutgoingMessage),
) -> String {
    let correlation_id = uuid::Uuid::new_v4().simple().to_string();
    let mut message = OutgoingMessage {
        body: body.as_bytes().to_vec().into(),
        correlation_id: Some(correlation_id.clone()),
        reply_to: Some(REPLIES.into()),
        content_type: Some("application/json".into()),
        ..OutgoingMessage::default()
    };
    customize(&mut message);
    world.broker.send(COMMANDS, message).expect("send");
    correlation_id
}

/// Waits for the reply correlated to `correlation_id` (other replies stay in the queue).
pub async fn reply(world: &LocalWorld, correlation_id: &str) -> Value {
    receive_matching(world, REPLIES, Duration::from_secs(30), |m| {
        m.message.correlation_id.as_deref() == Some(correlation_id)
    })
    .await
    .map(|m| serde_json::from_slice(&m.message.body).expect("reply is JSON"))
    .unwrap_or_else(|| panic!("no reply for {correlation_id}"))
}

pub async fn receive_matching(
    world: &LocalWorld,
    queue: &str,
    timeout: Duration,
    matches: impl Fn(&ReceivedMessage) -> bool,
) -> Option<ReceivedMessage> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            return None;
        }
        match world
            .broker
            .receive(queue, remaining.min(Duration::from_millis(200)))
            .await
            .expect("receive")
        {
            Some(m) if matches(&m) => {
                world
                    .broker
                    .complete(queue, m.lock_token)
                    .expect("complete");
                return Some(m);
            }
            Some(m) => {
                world.broker.abandon(queue, m.lock_token).expect("abandon");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            None => {}
        }
    }
}
