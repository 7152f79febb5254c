//! Criterion micro-benchmarks of the pure functions every `pool-commands` invocation runs:
//! decoding the host's payload, parsing and validating the command, building the ARM body, and
//! reading ARM's answer back into the `az ml` output shape. `cargo bench --bench hot_paths`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use poolbroker::domain::{
    AttachedPool, Command, Tags, az_ml_output, compute_put_body, parse_command,
};
use poolbroker::functions::{InvocationRequest, ServiceBusDelivery};
use serde_json::{Value, json};

const POOL: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Synapse/workspaces/syn-demo/bigDataPools/sparkpool1";
const UAI1: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-poolbroker-1";
const UAI2: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-poolbroker-2";
const COMPUTE_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.MachineLearningServices/workspaces/ml-demo/computes/sparkpool1";

fn attach_envelope() -> String {
    json!({
        "apiVersion": "poolbroker/v1",
        "kind": "AttachPool",
        "spec": {
            "name": "sparkpool1",
            "type": "synapsespark",
            "resource_id": POOL,
            "identity": {"type": "user_assigned", "user_assigned_identities": [
                {"resource_id": UAI1}, {"resource_id": UAI2}
            ]},
            "tags": {"team": "data"}
        }
    })
    .to_string()
}

/// The `az ml compute attach --file` YAML, sent as is.
fn attach_yaml() -> String {
    format!(
        "$schema: https://azuremlschemas.azureedge.net/latest/synapsespark.schema.json\n\
         name: sparkpool1\n\
         type: synapsespark\n\
         resource_id: {POOL}\n\
         identity:\n  type: user_assigned\n  user_assigned_identities:\n    - resource_id: {UAI1}\n    - resource_id: {UAI2}\n\
         tags:\n  team: data\n"
    )
}

/// Wrong type, bad name, unknown identity type, unknown field: every check reports.
fn bad_envelope() -> String {
    json!({
        "apiVersion": "poolbroker/v1",
        "kind": "AttachPool",
        "spec": {
            "name": "-bad name-1",
            "type": "kubernetes",
            "resource_id": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Synapse/workspaces/z",
            "identity": {"type": "magic"},
            "colour": "blue"
        }
    })
    .to_string()
}

/// A GET of an attached pool, as ARM (and the emulator) answers it.
fn arm_compute() -> Value {
    json!({
        "id": COMPUTE_ID,
        "name": "sparkpool1",
        "type": "Microsoft.MachineLearningServices/workspaces/computes",
        "location": "eastus2",
        "tags": {"team": "data", "poolbroker/managed": "true"},
        "identity": {
            "type": "UserAssigned",
            "userAssignedIdentities": {
                UAI1: {"principalId": "6f1d5b2e-0000-4000-8000-000000000001", "clientId": "6f1d5b2e-0000-4000-8000-000000000002"},
                UAI2: {"principalId": "6f1d5b2e-0000-4000-8000-000000000003", "clientId": "6f1d5b2e-0000-4000-8000-000000000004"}
            }
        },
        "properties": {
            "computeType": "SynapseSpark",
            "computeLocation": "eastus2",
            "createdOn": "2026-11-01T10:00:00.0000000+00:00",
            "modifiedOn": "2026-11-01T10:00:00.0000000+00:00",
            "resourceId": POOL,
            "provisioningState": "Succeeded",
            "provisioningErrors": null,
            "isAttachedCompute": true,
            "disableLocalAuth": false,
            "properties": {
                "autoScaleProperties": {"minNodeCount": 0, "enabled": false, "maxNodeCount": 0},
                "autoPauseProperties": {"delayInMinutes": 15, "enabled": true},
                "sparkVersion": "3.4",
                "nodeCount": 5,
                "nodeSize": "Small",
                "nodeSizeFamily": "MemoryOptimized",
                "subscriptionId": "00000000-0000-0000-0000-000000000001",
                "resourceGroup": "poolbroker-demo",
                "workspaceName": "syn-demo",
                "poolName": "sparkpool1"
            }
        }
    })
}

/// What the Functions host POSTs for one message (strings double-encoded, numbers as strings).
fn invocation_body() -> Vec<u8> {
    let command = Value::String(Value::String(attach_envelope()).to_string());
    json!({
        "Data": {"command": command},
        "Metadata": {
            "DeliveryCount": "1",
            "LockToken": "\"3c6a2b9e-1d7f-4a51-9b1e-2f8d5c7a9e10\"",
            "EnqueuedTimeUtc": "2026-11-01T10:00:00",
            "EnqueuedTime": "2026-11-01T10:00:00+00:00",
            "MessageId": "\"m-1\"",
            "ContentType": "\"application/json\"",
            "ReplyTo": "\"pool-replies\"",
            "SequenceNumber": "42",
            "CorrelationId": "\"req-123\"",
            "ApplicationProperties": {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
            "UserProperties": {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
            "Client": {"FullyQualifiedNamespace": "poolbroker-local.servicebus.windows.net", "IsClosed": false, "TransportType": 0, "Identifier": "x"},
            "sys": {"MethodName": "pool-commands", "UtcNow": "2026-11-01T10:00:00.1234567Z", "RandGuid": "0d7e4c1a-5b2f-4e8a-9c3d-1f6b7a8e9d20"}
        }
    })
    .to_string()
    .into_bytes()
}

fn benches(c: &mut Criterion) {
    let json_body = attach_envelope();
    let yaml_body = attach_yaml();
    let bad_body = bad_envelope();
    // Each case must take the path it is named for, or its timing means nothing.
    assert!(parse_command(yaml_body.as_bytes(), Some("application/yaml")).is_ok());
    assert!(parse_command(bad_body.as_bytes(), Some("application/json")).is_err());
    assert!(AttachedPool::from_arm(&arm_compute()).is_ok());
    let decoded = InvocationRequest::parse(&invocation_body())
        .and_then(|r| ServiceBusDelivery::from_invocation(&r, "command", false));
    assert!(decoded.is_ok_and(|d| d.body == attach_envelope().as_bytes()));
    c.bench_function("parse_command/json_attach_envelope", |b| {
        b.iter(|| parse_command(black_box(json_body.as_bytes()), Some("application/json")))
    });
    c.bench_function("parse_command/yaml_az_ml_attach", |b| {
        b.iter(|| parse_command(black_box(yaml_body.as_bytes()), Some("application/yaml")))
    });
    c.bench_function("parse_command/invalid_attach_rejected", |b| {
        b.iter(|| parse_command(black_box(bad_body.as_bytes()), Some("application/json")))
    });

    let envelope = match parse_command(json_body.as_bytes(), Some("application/json")) {
        Ok(e) => e,
        Err(e) => panic!("the benchmark's attach command must parse: {e}"),
    };
    let Command::AttachPool(spec) = envelope.command else {
        panic!("the benchmark's command is an AttachPool");
    };
    let expiry = Tags::new();
    c.bench_function("compute_put_body/attach_two_uai", |b| {
        b.iter(|| compute_put_body(black_box(&spec), black_box("eastus2"), &expiry))
    });

    let compute = arm_compute();
    c.bench_function("AttachedPool::from_arm+az_ml_output", |b| {
        b.iter(|| {
            let pool = AttachedPool::from_arm(black_box(&compute));
            pool.map(|p| az_ml_output(&p))
        })
    });

    let invocation = invocation_body();
    c.bench_function("ServiceBusDelivery::from_invocation", |b| {
        b.iter(|| {
            let request = InvocationRequest::parse(black_box(&invocation));
            request.map(|r| {
                ServiceBusDelivery::from_invocation(&r, "command", false).map(|d| d.body.len())
            })
        })
    });
}

criterion_group!(hot_paths, benches);
criterion_main!(hot_paths);
