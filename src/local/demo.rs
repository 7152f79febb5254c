//! `poolbroker local --demo`: a short scripted tour through the real queue, handler and
//! emulators; every step is a real message or HTTP request, and the output is what came back.

use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use servicebus_emulator::OutgoingMessage;

use super::LocalWorld;
use crate::config::{CLEANUP_REPORTS_QUEUE, COMMANDS_QUEUE, REJECTED_QUEUE, REPLIES_QUEUE};

pub const DEMO_WORKSPACE: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.MachineLearningServices/workspaces/ml-demo";
const POOL2: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Synapse/workspaces/syn-demo/bigDataPools/sparkpool2";
const POOL: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Synapse/workspaces/syn-demo/bigDataPools/sparkpool1";
const UAI: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities";
const WAIT: Duration = Duration::from_secs(60);
/// The SDK v1 linked service the demo world starts with (registered before registrations closed).
pub const DEMO_LINKED_SERVICE: &str = "synapselink1";
const SYNAPSE_WORKSPACE: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Synapse/workspaces/syn-demo";

/// Seeds the demo's existing linked service and closes new registrations, as Azure has.
pub fn seed_linked_service(
    arm: &azureml_emulator::EmulatorState,
    seed: &azureml_emulator::DemoSeed,
) {
    // The demo workspace was just created by seed_demo, so this cannot fail.
    let _ = arm.add_linked_service(&seed.workspace_id, DEMO_LINKED_SERVICE, SYNAPSE_WORKSPACE);
    arm.close_linked_service_registration(true);
}

pub async fn run_demo(world: &LocalWorld) -> anyhow::Result<()> {
    step("1. Attach sparkpool1 as 'spark-demo' with two user-assigned identities (AttachPool)");
    let reply = succeeded(world, attach_spark_demo()).await?;
    print_pool(&reply["resource"]);

    step("2. Attach it again, unchanged: idempotent, no PUT sent");
    let before = world.arm.requests().len();
    let reply = succeeded(world, attach_spark_demo()).await?;
    let puts = world.arm.requests()[before..]
        .iter()
        .filter(|r| r.method == "PUT")
        .count();
    say(&format!(
        "{} ({} ARM PUT sent)",
        reply["message"].as_str().unwrap_or(""),
        puts
    ));

    step("3. Show it (ShowPool)");
    let reply = succeeded(
        world,
        json!({"apiVersion": "poolbroker/v1", "kind": "ShowPool", "spec": {"name": "spark-demo"}}),
    )
    .await?;
    print_pool(&reply["resource"]);

    step("4. A Spark job on the attached pool: submitted as its FIRST user-assigned identity");
    print_job(&submit_job(world, "demo-pool-job", json!("spark-demo")).await?);

    step("5. The same job with compute: auto and no pool preferred: serverless Spark");
    print_job(&submit_job(world, "demo-serverless-job", json!("auto")).await?);

    step("6. Switch it to a system-assigned identity (UpdatePoolIdentity)");
    let reply = succeeded(
        world,
        json!({"apiVersion": "poolbroker/v1", "kind": "UpdatePoolIdentity",
               "spec": {"name": "spark-demo", "identity": {"type": "SystemAssigned"}}}),
    )
    .await?;
    print_pool(&reply["resource"]);

    step(
        "7. A bad message: rejected at once with a specific error, kept in pool-commands-rejected",
    );
    let reply = command(
        world,
        json!({"apiVersion": "poolbroker/v1", "kind": "AttachPool", "spec": {
            "name": "9-bad-name", "type": "synapsespark", "resource_id": POOL}}),
    )
    .await?;
    expect_status(&reply, "Rejected")?;
    say(&format!(
        "reply: {}",
        reply["error"]["message"].as_str().unwrap_or("")
    ));
    let rejected = receive(world, REJECTED_QUEUE, |_| true)
        .await?
        .context("nothing arrived in pool-commands-rejected")?;
    say(&format!(
        "pool-commands-rejected holds the original body with error code {}",
        rejected["error"]["code"]
    ));

    step("8. An Event Grid subscription handshake on the HTTP trigger (/api/events)");
    let http = reqwest::Client::new();
    let response = http
        .post(format!("http://{}/api/events", world.http_addr))
        .header("aeg-event-type", "SubscriptionValidation")
        .json(&json!([{
            "id": "demo-validation", "topic": "/subscriptions/x", "subject": "", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "eventTime": "2026-11-22T10:00:00Z", "dataVersion": "1", "metadataVersion": "1",
            "data": {"validationCode": "demo-code-42"}}]))
        .send()
        .await
        .context("calling the HTTP trigger")?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    say(&format!("HTTP {status}: {body}"));

    step(
        "9. A blob lands in landing/sales/: the Event Grid event becomes a Spark job (routes.local.yaml)",
    );
    let response = http
        .post(format!("http://{}/api/events", world.http_addr))
        .header("aeg-event-type", "Notification")
        .json(&json!([{
            "id": "demo-blob-1", "topic": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Storage/storageAccounts/stdemo",
            "subject": "/blobServices/default/containers/landing/blobs/sales/2026-11-22.csv",
            "eventType": "Microsoft.Storage.BlobCreated", "eventTime": "2026-11-22T10:00:00Z",
            "dataVersion": "1", "metadataVersion": "1",
            "data": {"api": "PutBlob", "blobType": "BlockBlob", "contentLength": 1024,
                     "url": "https://stdemo.blob.core.windows.net/landing/sales/2026-11-22.csv"}}]))
        .send()
        .await
        .context("calling the HTTP trigger")?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    say(&format!(
        "HTTP {status}: {} command(s) enqueued",
        body["accepted"]
    ));
    let reply = receive(world, REPLIES_QUEUE, |m| {
        m["kind"] == "SubmitSparkJob" && m["jobName"].is_string()
    })
    .await?
    .context("the job produced from the event never replied")?;
    expect_status(&reply, "Succeeded")?;
    print_job(&reply);

    step("10. The cleanup timer detaches a pool whose TTL has passed, and reports");
    seed_expired_pool(world, "spark-campaign").await?;
    say("(attached 'spark-campaign' with poolbroker-expires-at in the past, straight through ARM)");
    let report = receive(world, CLEANUP_REPORTS_QUEUE, |r| {
        r["workspaces"].as_array().is_some_and(|ws| {
            ws.iter()
                .any(|w| !w["detached"].as_array().is_none_or(Vec::is_empty))
        })
    })
    .await?
    .context("no cleanup report detached the expired pool")?;
    for ws in report["workspaces"].as_array().into_iter().flatten() {
        say(&format!(
            "report: examined {}, detached {}, kept {}",
            ws["examined"], ws["detached"], ws["kept"]
        ));
    }

    step(
        "11. Attach sparkpool2 through the SDK v1 linked service 'synapselink1' and grant Synapse access in one command",
    );
    let reply = succeeded(
        world,
        json!({"apiVersion": "poolbroker/v1", "kind": "AttachPool", "spec": {
            "name": "spark-linked", "type": "synapsespark",
            "linked_service": DEMO_LINKED_SERVICE, "pool_name": "sparkpool2",
            "identity": {"type": "system_assigned"}}}),
    )
    .await?;
    print_pool(&reply["resource"]);
    for grant in reply["synapseAccess"].as_array().into_iter().flatten() {
        say(&format!(
            "{}: {} at {} ({})",
            grant["identity"].as_str().unwrap_or(""),
            grant["role"].as_str().unwrap_or(""),
            grant["scope"].as_str().unwrap_or(""),
            grant["result"].as_str().unwrap_or("")
        ));
    }

    step("12. poolbroker doctor spark-linked (CheckPool)");
    let reply = succeeded(
        world,
        json!({"apiVersion": "poolbroker/v1", "kind": "CheckPool", "spec": {"name": "spark-linked"}}),
    )
    .await?;
    print!("{}", reply["message"].as_str().unwrap_or(""));
    if reply["checklist"]["ok"] != true {
        bail!(
            "doctor found problems with spark-linked: {}",
            reply["checklist"]
        );
    }

    step("13. Detach it (DetachPool): underlyingResourceAction=Detach, the Synapse pool stays");
    let reply = succeeded(
        world,
        json!({"apiVersion": "poolbroker/v1", "kind": "DetachPool", "spec": {"name": "spark-demo"}}),
    )
    .await?;
    say(reply["message"].as_str().unwrap_or(""));
    let actions: Vec<String> = world
        .arm
        .delete_actions()
        .iter()
        .map(|d| d.underlying_resource_action.clone().unwrap_or_default())
        .collect();
    say(&format!(
        "DELETE calls ARM saw: underlyingResourceAction={actions:?}"
    ));

    println!(
        "\nDemo finished: every step went through Service Bus, the local Functions host, the handler and the ARM emulator."
    );
    Ok(())
}

/// Sets the scene for cleanup: a compute attached by poolbroker whose TTL ran out, written
/// through the ARM emulator as a past attach would have left it.
async fn seed_expired_pool(world: &LocalWorld, name: &str) -> anyhow::Result<()> {
    let token = world.arm.issue_token("https://management.azure.com");
    let url = format!(
        "{}{DEMO_WORKSPACE}/computes/{name}?api-version=2025-12-01",
        world.arm_url()
    );
    let http = world.arm_client()?;
    let response = http
        .put(&url)
        .bearer_auth(&token)
        .json(&json!({"location": "eastus2",
            "tags": {"poolbroker-managed": "true", "poolbroker-expires-at": "2026-01-01T00:00:00Z"},
            "properties": {"computeType": "SynapseSpark", "resourceId": POOL2}}))
        .send()
        .await
        .context("attaching the expired pool")?;
    if !response.status().is_success() {
        bail!(
            "the ARM emulator refused the expired pool: {}",
            response.status()
        );
    }
    // Wait for the attach as any ARM client would: poll the operation, Retry-After apart.
    let retry_after = std::time::Duration::from_secs(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(1),
    );
    if let Some(operation) = response
        .headers()
        .get("azure-asyncoperation")
        .and_then(|v| v.to_str().ok())
    {
        for _ in 0..30 {
            let status: Value = http
                .get(operation)
                .bearer_auth(&token)
                .send()
                .await?
                .json()
                .await?;
            if status["status"] != "InProgress" {
                break;
            }
            tokio::time::sleep(retry_after).await;
        }
    }
    Ok(())
}

/// The AttachPool message of steps 1 and 2 (step 2 sends it again to show idempotency).
fn attach_spark_demo() -> Value {
    json!({"apiVersion": "poolbroker/v1", "kind": "AttachPool", "spec": {
            "name": "spark-demo", "type": "synapsespark", "resource_id": POOL,
            "identity": {"type": "user_assigned", "user_assigned_identities": [
                {"resource_id": format!("{UAI}/uai-poolbroker-1")},
                {"resource_id": format!("{UAI}/uai-poolbroker-2")}]},
            "description": "attached by the poolbroker demo"}})
}

/// Submits the demo's Spark job on `compute` and expects it to succeed.
async fn submit_job(world: &LocalWorld, key: &str, compute: Value) -> anyhow::Result<Value> {
    succeeded(
        world,
        json!({"apiVersion": "poolbroker/v1", "kind": "SubmitSparkJob", "idempotencyKey": key,
               "spec": spark_job(compute)}),
    )
    .await
}

/// Sends a command and expects it to end `Succeeded`.
async fn succeeded(world: &LocalWorld, body: Value) -> anyhow::Result<Value> {
    let reply = command(world, body).await?;
    expect_status(&reply, "Succeeded")?;
    Ok(reply)
}

fn spark_job(compute: Value) -> Value {
    json!({
        "type": "spark",
        "display_name": "sales-etl",
        "code": "azureml:sales-etl:1",
        "entry": {"file": "etl.py"},
        "conf": {"spark.driver.cores": 1, "spark.driver.memory": "2g", "spark.executor.cores": 2,
                 "spark.executor.memory": "2g", "spark.executor.instances": 2},
        "resources": {"runtime_version": "3.4"},
        "compute": compute,
    })
}

fn print_job(reply: &Value) {
    say(&format!(
        "job {}: {}",
        reply["jobName"].as_str().unwrap_or("?"),
        reply["jobStatus"].as_str().unwrap_or("?"),
    ));
    say(&format!(
        "compute: {}",
        reply["computeReason"].as_str().unwrap_or("?")
    ));
    say(&format!(
        "identity: {}",
        reply["identity"].as_str().unwrap_or("?")
    ));
}

fn step(title: &str) {
    println!("\n== {title}");
}

fn say(line: &str) {
    println!("   {line}");
}

fn print_pool(resource: &Value) {
    let identity = &resource["identity"];
    let uais: Vec<&str> = identity["user_assigned_identities"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|i| i["resource_id"].as_str())
                .filter_map(|id| id.rsplit('/').next())
                .collect()
        })
        .unwrap_or_default();
    say(&format!(
        "{} · {} · Spark {} · {} x {} · identity {}{}",
        resource["name"].as_str().unwrap_or("?"),
        resource["provisioning_state"].as_str().unwrap_or("?"),
        resource["spark_version"].as_str().unwrap_or("?"),
        resource["node_count"],
        resource["node_size"].as_str().unwrap_or("?"),
        identity["type"].as_str().unwrap_or("none"),
        if uais.is_empty() {
            String::new()
        } else {
            format!(" {uais:?} (the first submits jobs)")
        }
    ));
}

fn expect_status(reply: &Value, status: &str) -> anyhow::Result<()> {
    if reply["status"] == status {
        Ok(())
    } else {
        bail!("expected a {status} reply, got {reply:#}")
    }
}

/// Sends a command as a producer would (ReplyTo + CorrelationId) and waits for its reply.
async fn command(world: &LocalWorld, body: Value) -> anyhow::Result<Value> {
    let correlation_id = uuid::Uuid::new_v4().simple().to_string();
    let name = body["spec"]["name"]
        .as_str()
        .or(body["spec"]["display_name"].as_str())
        .unwrap_or("");
    say(&format!("→ {} {name}", body["kind"].as_str().unwrap_or("")));
    world.broker.send(
        COMMANDS_QUEUE,
        OutgoingMessage {
            body: body.to_string().into_bytes().into(),
            content_type: Some("application/json".into()),
            correlation_id: Some(correlation_id.clone()),
            reply_to: Some(REPLIES_QUEUE.into()),
            ..OutgoingMessage::default()
        },
    )?;
    let reply = receive(world, REPLIES_QUEUE, |m| {
        m["correlationId"] == correlation_id.as_str()
    })
    .await?
    .with_context(|| format!("no reply within {}s", WAIT.as_secs()))?;
    say(&format!(
        "← {} {}",
        reply["kind"].as_str().unwrap_or(""),
        reply["status"].as_str().unwrap_or("")
    ));
    Ok(reply)
}

async fn receive(
    world: &LocalWorld,
    queue: &str,
    wanted: impl Fn(&Value) -> bool,
) -> anyhow::Result<Option<Value>> {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        let Some(message) = world
            .broker
            .receive(queue, Duration::from_millis(250))
            .await?
        else {
            continue;
        };
        let body: Value = serde_json::from_slice(&message.message.body).unwrap_or(Value::Null);
        if wanted(&body) {
            world.broker.complete(queue, message.lock_token)?;
            return Ok(Some(body));
        }
        world.broker.abandon(queue, message.lock_token)?;
    }
    Ok(None)
}
