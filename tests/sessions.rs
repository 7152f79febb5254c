//! A session-enabled `pool-commands` queue (`commandSessionsEnabled` in infra/, docs/deploy.md):
//! Service Bus refuses any message without a `SessionId` there, so every message the broker puts
//! on the queue itself — the follow-up of an operation that outlives an invocation, a command
//! produced by a hook — must carry one, or the command never finishes.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use hmac::{Hmac, Mac};
use poolbroker::local::LocalWorld;
use serde_json::json;
use sha2::Sha256;

const SECRET: &str = "s3cr3t";

/// The app root (host.json, function definitions, the local routes) with the `pool-commands`
/// trigger switched to sessions, as docs/deploy.md tells users to do.
fn session_app_root() -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = std::env::temp_dir().join(format!(
        "poolbroker-sessions-{}",
        uuid::Uuid::new_v4().simple()
    ));
    for dir in [
        "function-definitions/pool-commands",
        "function-definitions/pipeline-events",
        "function-definitions/workspace-cleanup",
        "function-definitions/studio",
        "examples",
    ] {
        std::fs::create_dir_all(root.join(dir)).expect("temp app root");
    }
    for file in [
        "host.json",
        "function-definitions/pipeline-events/function.json",
        "function-definitions/workspace-cleanup/function.json",
        "function-definitions/studio/function.json",
        "examples/routes.local.yaml",
    ] {
        std::fs::copy(source.join(file), root.join(file)).expect("copy app file");
    }
    let trigger =
        std::fs::read_to_string(source.join("function-definitions/pool-commands/function.json"))
            .expect("pool-commands function.json");
    let with_sessions = trigger.replace(
        "\"isSessionsEnabled\": false",
        "\"isSessionsEnabled\": true",
    );
    assert_ne!(
        trigger, with_sessions,
        "the trigger names isSessionsEnabled"
    );
    std::fs::write(
        root.join("function-definitions/pool-commands/function.json"),
        with_sessions,
    )
    .expect("write function.json");
    root
}

async fn start_with_sessions(root: &Path) -> LocalWorld {
    let routes = format!(
        "{}/tests/fixtures/routes/hooks.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut options = options_with(&[
        ("POOLBROKER_ROUTES_FILE", routes.as_str()),
        ("POOLBROKER_WEBHOOK_SECRET", SECRET),
        // Shorter than the operation: the attach must be finished by a follow-up message.
        ("POOLBROKER_LRO_BUDGET_SECS", "1"),
    ]);
    options.app_root = root.to_owned();
    options.emulator.operation_duration = std::time::Duration::from_secs(3);
    options.emulator.retry_after_secs = 1;
    start_with(options).await
}

fn signature(timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={digest}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_session_queue_follow_ups_and_hook_commands_carry_a_session_and_finish() {
    let root = session_app_root();
    let world = start_with_sessions(&root).await;

    // A sender's attach, in its own session; the operation outlives the invocation.
    let id = send_with(
        &world,
        &attach("spark-sess", POOL1, None).to_string(),
        |m| m.session_id = Some("sender-session".into()),
    );
    let reply = reply(&world, &id).await;
    assert_eq!(reply["status"], "Succeeded", "{reply:#}");
    assert!(
        world.arm.compute(WORKSPACE_ID, "spark-sess").is_some(),
        "attached"
    );

    // A signed webhook becomes a DetachPool the handler puts on the session queue itself.
    let body = json!({"id": "sess-1", "type": "campaign.ended",
                      "data": {"workspace": WORKSPACE_ID, "pool": "spark-sess"}})
    .to_string();
    let now = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    let answer = reqwest::Client::new()
        .post(format!("http://{}/api/events", world.http_addr))
        .header("Content-Type", "application/json")
        .header("X-Poolbroker-Timestamp", &now)
        .header("X-Poolbroker-Signature", signature(&now, body.as_bytes()))
        .body(body)
        .send()
        .await
        .expect("the host answers");
    let status = answer.status().as_u16();
    let text = answer.text().await.unwrap_or_default();
    assert_eq!(status, 202, "{text}");
    eventually("the hook's detach to finish", WAIT, || {
        world
            .arm
            .compute(WORKSPACE_ID, "spark-sess")
            .is_none()
            .then_some(())
    })
    .await;

    world.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(root);
}
