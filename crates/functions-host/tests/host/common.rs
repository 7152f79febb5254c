//! Test app folders, the test handler, and waiting helpers.

use std::path::PathBuf;
use std::time::Duration;

use poolbroker_functions_host::{HostConfig, HostEvent, RunningHost};
use serde_json::{Value, json};
use servicebus_emulator::Broker;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub const CONNECTION: &str = "Endpoint=sb://local-test.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=c2VjcmV0";

pub struct TestApp {
    pub root: PathBuf,
    pub log: PathBuf,
}

impl TestApp {
    /// An app root with host.json (`extra` merged at the top level) and no functions yet.
    pub fn new(extra: Value) -> Self {
        let root = std::env::temp_dir().join(format!("fh-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&root).unwrap();
        let mut host = json!({
            "version": "2.0",
            "customHandler": {
                "description": {
                    "defaultExecutablePath": "handler",
                    "arguments": ["--from-host-json", "%TEST_ARG%"]
                }
            },
            "extensions": { "serviceBus": { "maxConcurrentCalls": 4 } }
        });
        if let (Some(h), Some(e)) = (host.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                h.insert(k.clone(), v.clone());
            }
        }
        std::fs::write(root.join("host.json"), host.to_string()).unwrap();
        let log = root.join("requests.jsonl");
        Self { root, log }
    }

    pub fn function(&self, name: &str, bindings: Value) -> &Self {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("function.json"),
            json!({ "bindings": bindings }).to_string(),
        )
        .unwrap();
        self
    }

    pub fn config(&self) -> HostConfig {
        let mut c = HostConfig::new(&self.root);
        c.handler_executable = Some(PathBuf::from(env!("CARGO_BIN_EXE_test-handler")));
        c.http_addr = "127.0.0.1:0".parse().unwrap();
        c.initialization_timeout = Duration::from_secs(10);
        c.app_settings
            .insert("ServiceBusConnection".into(), CONNECTION.into());
        c.app_settings
            .insert("TEST_HANDLER_LOG".into(), self.log.display().to_string());
        c.app_settings.insert("TEST_ARG".into(), "expanded".into());
        c
    }

    /// Invocation requests the handler received, in arrival order.
    pub fn invocations(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|r| r["method"] == "POST")
            .collect()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub struct Running {
    pub host: RunningHost,
    pub broker: Broker,
    pub events: broadcast::Receiver<HostEvent>,
    pub shutdown: CancellationToken,
}

impl Running {
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.host.stopped())
            .await
            .expect("host stops within 10 s")
            .expect("host stops cleanly");
    }
}

pub async fn start(config: HostConfig, broker: Broker) -> Running {
    let shutdown = CancellationToken::new();
    let host = poolbroker_functions_host::start(config, broker.clone(), shutdown.clone())
        .await
        .expect("host starts");
    let events = host.subscribe();
    Running {
        host,
        broker,
        events,
        shutdown,
    }
}

/// Polls `check` every 20 ms until it returns `Some`.
pub async fn eventually<T>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The next event matching `pred`, skipping others.
pub async fn next_event(
    rx: &mut broadcast::Receiver<HostEvent>,
    within: Duration,
    mut pred: impl FnMut(&HostEvent) -> bool,
) -> HostEvent {
    let fut = async {
        loop {
            match rx.recv().await {
                Ok(e) if pred(&e) => return e,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("event channel closed"),
            }
        }
    };
    tokio::time::timeout(within, fut)
        .await
        .expect("expected event did not arrive in time")
}

pub fn sb_trigger(name: &str, queue: &str) -> Value {
    json!({ "type": "serviceBusTrigger", "direction": "in", "name": name,
            "queueName": queue, "connection": "ServiceBusConnection" })
}
