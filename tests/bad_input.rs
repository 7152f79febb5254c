//! Every class of bad input, sent through `pool-commands` to the real `poolbroker` binary: the
//! message is completed on its first delivery (never retried, never dead-lettered), the original
//! body lands in `pool-commands-rejected` with a specific error naming the field, and the sender
//! gets the same error in the reply.

mod common;

use common::*;
use functions_host::{HostEvent, Settlement};
use poolbroker::local::LocalWorld;
use serde_json::{Value, json};

/// What the rejection of one message must say.
struct Expect<'a> {
    code: &'a str,
    /// `error.field`; `None` when the body has no fields to name (not JSON, empty).
    field: Option<&'a str>,
    /// Each must appear in `error.message`.
    message: &'a [&'a str],
}

/// Sends `body` (with `content_type`), then checks the reply, the rejected-queue entry, the
/// settlement and that nothing was retried or dead-lettered, nor any compute touched.
async fn assert_rejected_once(
    world: &LocalWorld,
    body: &str,
    content_type: Option<&str>,
    expect: Expect<'_>,
) -> Value {
    let mut events = world.host.subscribe();
    let id = send_with(world, body, |m| {
        m.content_type = content_type.map(str::to_owned);
        m.application_properties
            .insert("source".into(), json!("bad-input-test"));
    });
    let reply = reply(world, &id).await;
    assert_eq!(reply["status"], "Rejected", "{reply:#}");
    assert_eq!(reply["correlationId"], id.as_str());
    let error = &reply["error"];
    assert_eq!(error["code"], expect.code, "{reply:#}");
    match expect.field {
        Some(field) => {
            assert_eq!(error["field"], field, "{reply:#}");
            assert!(
                error["details"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|x| x["field"] == field)),
                "{reply:#}"
            );
        }
        None => assert!(error.get("field").is_none(), "{reply:#}"),
    }
    let message = error["message"].as_str().expect("error.message");
    for needle in expect.message {
        assert!(
            message.contains(needle),
            "error.message lacks {needle:?}: {message}"
        );
    }

    let rejected = rejected(world, &id).await;
    assert_eq!(
        rejected["error"], *error,
        "the rejected queue and the reply carry the same error"
    );
    let original = &rejected["originalMessage"];
    assert_eq!(
        original["body"], body,
        "the rejected entry keeps the original body"
    );
    assert_eq!(original["correlationId"], id.as_str());
    assert_eq!(original["deliveryCount"], 1, "{rejected:#}");
    assert_eq!(original["replyTo"], REPLIES);
    assert_eq!(
        original["applicationProperties"]["source"], "bad-input-test",
        "{rejected:#}"
    );

    let settled = next_event(&mut events, WAIT, |e| match e {
        HostEvent::MessageSettled {
            queue,
            delivery_count,
            action,
            ..
        } if queue == COMMANDS => Some((*delivery_count, *action)),
        _ => None,
    })
    .await;
    assert_eq!(
        settled,
        Some((1, Settlement::Completed)),
        "bad input is completed on its first delivery"
    );
    assert!(
        pending_commands(world, &id).is_empty(),
        "nothing left to redeliver"
    );
    assert!(
        world.broker.dead_letters(COMMANDS).unwrap().is_empty(),
        "nothing dead-lettered"
    );
    assert!(
        world
            .arm
            .requests()
            .iter()
            .all(|r| r.method == "GET" && !r.path.contains("/computes/")),
        "bad input never reaches a compute: {:#?}",
        world.arm.requests()
    );
    reply
}

fn attach_spec(spec: Value) -> String {
    envelope("AttachPool", spec).to_string()
}

fn valid_attach_spec() -> Value {
    json!({"name": "spark-ok", "type": "synapsespark", "resource_id": POOL1})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_do_not_parse() {
    let world = start().await;
    assert_rejected_once(
        &world,
        r#"{"apiVersion": "poolbroker/v1", "kind": "AttachPool", "spec": "#,
        Some("application/json"),
        Expect {
            code: "InvalidMessage",
            field: None,
            message: &["not valid JSON", "line 1"],
        },
    )
    .await;
    assert_rejected_once(
        &world,
        "",
        Some("application/json"),
        Expect {
            code: "InvalidMessage",
            field: None,
            message: &["empty"],
        },
    )
    .await;
    // Whitespace only is empty too, whatever the content type says.
    assert_rejected_once(
        &world,
        "  \n ",
        None,
        Expect {
            code: "InvalidMessage",
            field: None,
            message: &["empty"],
        },
    )
    .await;
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kind_and_unknown_fields() {
    let world = start().await;
    let unknown_kind =
        json!({"apiVersion": "poolbroker/v1", "kind": "DeletePool", "spec": {"name": "spark-ok"}});
    assert_rejected_once(
        &world,
        &unknown_kind.to_string(),
        Some("application/json"),
        Expect {
            code: "ValidationFailed",
            field: Some("kind"),
            message: &["unknown kind 'DeletePool'", "AttachPool"],
        },
    )
    .await;

    let mut envelope_extra = envelope("AttachPool", valid_attach_spec());
    envelope_extra["replyQueue"] = json!("elsewhere");
    assert_rejected_once(
        &world,
        &envelope_extra.to_string(),
        Some("application/json"),
        Expect {
            code: "ValidationFailed",
            field: Some("replyQueue"),
            message: &["unknown field 'replyQueue'"],
        },
    )
    .await;

    let mut spec_extra = valid_attach_spec();
    spec_extra["node_count"] = json!(3);
    assert_rejected_once(
        &world,
        &attach_spec(spec_extra),
        Some("application/json"),
        Expect {
            code: "ValidationFailed",
            field: Some("spec.node_count"),
            message: &["unknown field 'node_count'"],
        },
    )
    .await;
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compute_names_breaking_the_rules() {
    let world = start().await;
    for (name, needle) in [
        ("ab", "3 to 24 characters"),
        ("spark-123", "must not end with a hyphen followed by digits"),
        ("1spark", "must start with a letter"),
    ] {
        let mut spec = valid_attach_spec();
        spec["name"] = json!(name);
        assert_rejected_once(
            &world,
            &attach_spec(spec),
            Some("application/json"),
            Expect {
                code: "ValidationFailed",
                field: Some("spec.name"),
                message: &[needle],
            },
        )
        .await;
    }
    // The same rules hold for every kind that names a compute.
    assert_rejected_once(
        &world,
        &envelope("DetachPool", json!({"name": "pool-7"})).to_string(),
        Some("application/json"),
        Expect {
            code: "ValidationFailed",
            field: Some("spec.name"),
            message: &["'pool-7'"],
        },
    )
    .await;
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_resource_ids() {
    let world = start().await;
    // A Synapse workspace id, not one of its bigDataPools.
    let mut spec = valid_attach_spec();
    spec["resource_id"] = json!(POOL1.split("/bigDataPools/").next().unwrap());
    assert_rejected_once(
        &world,
        &attach_spec(spec),
        Some("application/json"),
        Expect {
            code: "ValidationFailed",
            field: Some("spec.resource_id"),
            message: &["bigDataPools"],
        },
    )
    .await;

    let mut spec = valid_attach_spec();
    spec["identity"] = json!({"type": "user_assigned", "user_assigned_identities": [
        {"resource_id": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/identities/uai-poolbroker-1"}
    ]});
    assert_rejected_once(
        &world,
        &attach_spec(spec),
        Some("application/json"),
        Expect {
            code: "ValidationFailed",
            field: Some("spec.identity.user_assigned_identities[0].resource_id"),
            message: &["userAssignedIdentities"],
        },
    )
    .await;
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_lists_and_types() {
    let world = start().await;
    let mut spec = valid_attach_spec();
    spec["identity"] = json!({"type": "user_assigned", "user_assigned_identities": [
        {"resource_id": uai("uai-poolbroker-1")},
        {"resource_id": uai("uai-poolbroker-2")},
        // The same identity again, differently cased: ARM ids compare case-insensitively.
        {"resource_id": uai("UAI-POOLBROKER-1")},
    ]});
    assert_rejected_once(
        &world,
        &attach_spec(spec),
        Some("application/json"),
        Expect {
            code: "ValidationFailed",
            field: Some("spec.identity.user_assigned_identities[2].resource_id"),
            message: &["listed twice", "positions 0 and 2"],
        },
    )
    .await;

    let mut spec = valid_attach_spec();
    spec["identity"] = json!({"type": "user_assigned"});
    assert_rejected_once(
        &world,
        &attach_spec(spec),
        Some("application/json"),
        Expect {
            code: "ValidationFailed",
            field: Some("spec.identity.type"),
            message: &["needs at least one user-assigned identity"],
        },
    )
    .await;

    let mut spec = valid_attach_spec();
    spec["identity"] = json!({"type": "managed"});
    assert_rejected_once(
        &world,
        &attach_spec(spec),
        Some("application/json"),
        Expect {
            code: "ValidationFailed",
            field: Some("spec.identity.type"),
            message: &["expected one of", "system_assigned", "got 'managed'"],
        },
    )
    .await;

    // The update command validates the same way.
    let update = envelope(
        "UpdatePoolIdentity",
        json!({"name": "spark-ok", "identity": {"type": "UserAssigned", "user_assigned_identities": []}}),
    );
    assert_rejected_once(
        &world,
        &update.to_string(),
        Some("application/json"),
        Expect {
            code: "ValidationFailed",
            field: Some("spec.identity.type"),
            message: &["needs at least one user-assigned identity"],
        },
    )
    .await;
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yaml_attach_with_bad_input_is_rejected_with_its_field() {
    let world = start().await;
    let yaml = format!(
        "name: spark-ok\ntype: synapsespark\nresource_id: {POOL1}\nidentity:\n  type: system_assigned\n  colour: blue\n"
    );
    assert_rejected_once(
        &world,
        &yaml,
        Some("application/yaml"),
        Expect {
            code: "ValidationFailed",
            field: Some("identity.colour"),
            message: &["unknown field 'colour'"],
        },
    )
    .await;
    world.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_workspace_without_a_default_is_rejected() {
    let world = start_with(options_with(&[("POOLBROKER_DEFAULT_WORKSPACE", "")])).await;
    let reply = assert_rejected_once(
        &world,
        &attach_spec(valid_attach_spec()),
        Some("application/json"),
        Expect {
            code: "WorkspaceMissing",
            field: Some("workspace"),
            message: &["workspace:", "POOLBROKER_DEFAULT_WORKSPACE"],
        },
    )
    .await;
    assert!(
        world.arm.requests().is_empty(),
        "nothing is sent to ARM without a workspace"
    );
    assert_eq!(reply["kind"], "AttachPool");
    world.stop().await.unwrap();
}

/// Like every other validation error, the missing workspace should name its field in
/// `error.field`, so senders can handle all rejections the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_workspace_names_the_workspace_field() {
    let world = start_with(options_with(&[("POOLBROKER_DEFAULT_WORKSPACE", "")])).await;
    let id = send(&world, &attach_spec(valid_attach_spec()));
    let reply = reply(&world, &id).await;
    assert_eq!(reply["error"]["code"], "WorkspaceMissing", "{reply:#}");
    assert_eq!(reply["error"]["field"], "workspace", "{reply:#}");
    world.stop().await.unwrap();
}
