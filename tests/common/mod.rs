//! Shared harness: the real local world (emulators + local Functions host running the real
//! `poolbroker` binary), on ephemeral ports.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use azureml_emulator::RecordedRequest;
use functions_host::HostEvent;
use poolbroker::local::{LocalOptions, LocalWorld};
use serde_json::{Value, json};
use servicebus_emulator::{OutgoingMessage, ReceivedMessage};
use tokio::sync::broadcast;

pub const REPLIES: &str = "pool-replies";
pub const COMMANDS: &str = "pool-commands";
pub const REJECTED: &str = "pool-commands-rejected";
pub const CLEANUP_REPORTS: &str = "cleanup-reports";
pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000001";
pub const RESOURCE_GROUP: &str = "poolbroker-demo";
pub const WORKSPACE_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.MachineLearningServices/workspaces/ml-demo";
pub const POOL1: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Synapse/workspaces/syn-demo/bigDataPools/sparkpool1";
pub const POOL2: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Synapse/workspaces/syn-demo/bigDataPools/sparkpool2";
/// The api-version poolbroker and the emulator speak.
pub const API_VERSION: &str = "2025-12-01";

/// How long a test waits for something the broker does in well under a second.
pub const WAIT: Duration = Duration::from_secs(30);

pub fn options() -> LocalOptions {
    let mut options =
        LocalOptions::new(env!("CARGO_MANIFEST_DIR"), env!("CARGO_BIN_EXE_poolbroker")).ephemeral();
    options.emulator.retry_after_secs = 0;
    // Operations and jobs finish as soon as they are read; tests about intermediate states set
    // durations and move the emulator's clock (`world.arm.advance_clock`).
    options.emulator = options.emulator.instant();
    options
        .extra_settings
        .insert("POOLBROKER_LOG".into(), "warn".into());
    options
}

/// `options()` plus app settings for the handler.
pub fn options_with(settings: &[(&str, &str)]) -> LocalOptions {
    let mut options = options();
    for (k, v) in settings {
        options
            .extra_settings
            .insert((*k).to_owned(), (*v).to_owned());
    }
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

/// A user-assigned identity id in the demo resource group.
pub fn uai(name: &str) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    )
}

/// The ARM id of a compute in the demo workspace.
pub fn compute_id(name: &str) -> String {
    format!("{WORKSPACE_ID}/computes/{name}")
}

/// An `AttachPool` envelope (default workspace).
pub fn attach(name: &str, pool: &str, identity: Option<Value>) -> Value {
    let mut spec = json!({"name": name, "type": "synapsespark", "resource_id": pool});
    if let Some(identity) = identity {
        spec["identity"] = identity;
    }
    envelope("AttachPool", spec)
}

pub fn envelope(kind: &str, spec: Value) -> Value {
    json!({"apiVersion": "poolbroker/v1", "kind": kind, "spec": spec})
}

pub fn user_assigned(names: &[&str]) -> Value {
    let list: Vec<Value> = names
        .iter()
        .map(|n| json!({"resource_id": uai(n)}))
        .collect();
    json!({"type": "user_assigned", "user_assigned_identities": list})
}

/// Sends a command with a fresh correlation id and returns that id.
pub fn send(world: &LocalWorld, body: &str) -> String {
    send_with(world, body, |_| {})
}

pub fn send_json(world: &LocalWorld, body: &Value) -> String {
    send(world, &body.to_string())
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

/// Sends `body` and waits for its reply.
pub async fn round_trip(world: &LocalWorld, body: &Value) -> Value {
    let id = send_json(world, body);
    reply(world, &id).await
}

/// Waits for the reply correlated to `correlation_id` (other replies are kept for later calls).
pub async fn reply(world: &LocalWorld, correlation_id: &str) -> Value {
    reply_within(world, correlation_id, WAIT)
        .await
        .unwrap_or_else(|| panic!("no reply for {correlation_id}"))
}

pub async fn reply_within(
    world: &LocalWorld,
    correlation_id: &str,
    timeout: Duration,
) -> Option<Value> {
    receive_matching(world, REPLIES, timeout, |m| {
        m.message.correlation_id.as_deref() == Some(correlation_id)
    })
    .await
    .map(|m| json_body(&m))
}

/// Waits for the rejected-queue entry of the command sent with `correlation_id`.
pub async fn rejected(world: &LocalWorld, correlation_id: &str) -> Value {
    receive_matching(world, REJECTED, WAIT, |m| {
        serde_json::from_slice::<Value>(&m.message.body)
            .is_ok_and(|v| v["correlationId"] == correlation_id)
    })
    .await
    .map(|m| json_body(&m))
    .unwrap_or_else(|| panic!("nothing in {REJECTED} for {correlation_id}"))
}

pub fn json_body(m: &ReceivedMessage) -> Value {
    serde_json::from_slice(&m.message.body).unwrap_or_else(|e| {
        panic!(
            "message body is not JSON ({e}): {}",
            String::from_utf8_lossy(&m.message.body)
        )
    })
}

type MailboxKey = (SocketAddr, String);

/// Messages a test took off a queue while looking for another one. Settling them keeps their
/// delivery count at 1 (abandoning would burn it and finally dead-letter them).
fn mailbox() -> &'static Mutex<HashMap<MailboxKey, Vec<ReceivedMessage>>> {
    static MAILBOX: OnceLock<Mutex<HashMap<MailboxKey, Vec<ReceivedMessage>>>> = OnceLock::new();
    MAILBOX.get_or_init(Default::default)
}

fn take_from_mailbox(
    key: &MailboxKey,
    matches: &impl Fn(&ReceivedMessage) -> bool,
) -> Option<ReceivedMessage> {
    let mut boxes = mailbox().lock().unwrap_or_else(|e| e.into_inner());
    let kept = boxes.get_mut(key)?;
    let at = kept.iter().position(matches)?;
    Some(kept.remove(at))
}

/// Takes (completes) the first message on `queue` that `matches`, waiting up to `timeout`.
/// Other messages received meanwhile are completed too and kept for later calls.
pub async fn receive_matching(
    world: &LocalWorld,
    queue: &str,
    timeout: Duration,
    matches: impl Fn(&ReceivedMessage) -> bool,
) -> Option<ReceivedMessage> {
    let key = (world.servicebus_addr, queue.to_owned());
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(m) = take_from_mailbox(&key, &matches) {
            return Some(m);
        }
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            return None;
        }
        let Some(m) = world
            .broker
            .receive(queue, remaining.min(Duration::from_millis(200)))
            .await
            .expect("receive")
        else {
            continue;
        };
        world
            .broker
            .complete(queue, m.lock_token)
            .expect("complete");
        if matches(&m) {
            return Some(m);
        }
        mailbox()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_default()
            .push(m);
    }
}

/// Polls `probe` every 20 ms until it gives a value, or panics after `timeout`.
pub async fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for the first host event `pick` accepts.
pub async fn next_event<T>(
    events: &mut broadcast::Receiver<HostEvent>,
    timeout: Duration,
    mut pick: impl FnMut(&HostEvent) -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(remaining, events.recv()).await {
            Err(_) => return None,
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(broadcast::error::RecvError::Closed)) => return None,
            Ok(Ok(event)) => {
                if let Some(v) = pick(&event) {
                    return Some(v);
                }
            }
        }
    }
}

/// ARM requests the emulator recorded for `method` on compute `name` (not the list, not polls).
pub fn compute_requests(world: &LocalWorld, method: &str, name: &str) -> Vec<RecordedRequest> {
    let suffix = format!("/computes/{name}").to_ascii_lowercase();
    world
        .arm
        .requests()
        .into_iter()
        .filter(|r| r.method == method && r.path.to_ascii_lowercase().ends_with(&suffix))
        .collect()
}

/// Keys of an ARM `userAssignedIdentities` map, in order.
pub fn uai_keys(identity: &Value) -> Vec<String> {
    identity["userAssignedIdentities"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// `resource_id`s of an az-ml `identity.user_assigned_identities` list, in order.
pub fn az_uai_ids(resource: &Value) -> Vec<String> {
    resource["identity"]["user_assigned_identities"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["resource_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A request straight to the ARM emulator, as any ARM client would send it (bearer token from
/// the emulated identity endpoint).
pub async fn arm_request(
    world: &LocalWorld,
    method: reqwest::Method,
    path_and_query: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let token = world.arm.issue_token("https://management.azure.com");
    let url = format!("{}{path_and_query}", world.arm_url());
    let mut request = world
        .arm_client()
        .expect("a client trusting the local CA")
        .request(method, url)
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("ARM emulator answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("ARM body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// Messages still on `pool-commands` (locked, scheduled or waiting) whose correlation id is `id`.
pub fn pending_commands(world: &LocalWorld, correlation_id: &str) -> Vec<ReceivedMessage> {
    world
        .broker
        .peek_all(COMMANDS)
        .expect("pool-commands exists")
        .into_iter()
        .filter(|m| m.message.correlation_id.as_deref() == Some(correlation_id))
        .collect()
}

/// The pid of the handler process the host started (the first subscriber sees everything since
/// the host started, handler start included).
pub async fn started_handler_pid(events: &mut broadcast::Receiver<HostEvent>) -> u32 {
    next_event(events, WAIT, |e| match e {
        HostEvent::HandlerStarted { pid, .. } => Some(*pid),
        _ => None,
    })
    .await
    .expect("the handler was started")
}

/// The ARM body of a Spark job on an attached compute, as an ARM client would PUT it.
pub fn spark_job_on(compute: &str) -> Value {
    json!({"properties": {
        "jobType": "Spark",
        "codeId": format!("{WORKSPACE_ID}/codes/sales-etl/versions/1"),
        "entry": {"sparkJobEntryType": "SparkJobPythonEntry", "file": "etl.py"},
        "conf": {
            "spark.driver.cores": 1, "spark.driver.memory": "2g",
            "spark.executor.cores": 2, "spark.executor.memory": "2g",
            "spark.executor.instances": 2
        },
        "computeId": compute_id(compute),
        "identity": {"identityType": "AMLToken"}
    }})
}

/// Another Functions host with the same app settings on the same Service Bus queues and ARM,
/// as a second instance of the Function App (scale-out) or the platform restarting a host that
/// hit its handler restart limit. Stop it with its token.
pub async fn start_extra_host(
    world: &LocalWorld,
) -> (
    functions_host::RunningHost,
    tokio_util::sync::CancellationToken,
) {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut config = functions_host::HostConfig::new(env!("CARGO_MANIFEST_DIR"));
    config.handler_executable = Some(env!("CARGO_BIN_EXE_poolbroker").into());
    config.app_settings = world.app_settings.clone();
    config.http_addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let host = functions_host::start(config, world.broker.clone(), shutdown.clone())
        .await
        .expect("another host starts");
    (host, shutdown)
}
