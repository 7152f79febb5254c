//! Tests of the wire contract: every kind, both body forms, every error path, hostile input.

use serde_json::{Value, json};
use time::macros::datetime;

use super::*;

const SUB: &str = "00000000-0000-0000-0000-000000000001";
const POOL: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Synapse/workspaces/syn-demo/bigDataPools/sparkpool1";
const ETL: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-etl";
const READER: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-reader";

fn parse_json(v: Value) -> Result<Envelope, CommandError> {
    parse_command(v.to_string().as_bytes(), Some("application/json"))
}

fn paths(e: &CommandError) -> Vec<String> {
    e.field_errors().iter().map(|f| f.path.clone()).collect()
}

fn envelope(kind: &str, spec: Value) -> Value {
    json!({"apiVersion": "poolbroker/v1", "kind": kind, "spec": spec})
}

#[test]
fn attach_envelope_parses_every_field() {
    let env = parse_json(json!({
        "apiVersion": "poolbroker/v1",
        "kind": "AttachPool",
        "workspace": {"subscriptionId": SUB, "resourceGroup": "poolbroker-demo", "name": "mlw-demo"},
        "idempotencyKey": "attach-1",
        "spec": {
            "name": "sparkpool1", "type": "SynapseSpark", "resource_id": POOL,
            "identity": {"type": "user_assigned", "user_assigned_identities": [{"resource_id": READER}, {"resource_id": ETL}]},
            "tags": {"team": "data", "cost": "42"}, "description": "etl pool", "ttl": "8h", "location": "westeurope"
        }
    }))
    .unwrap();
    assert_eq!(env.workspace.as_ref().unwrap().name(), "mlw-demo");
    assert_eq!(env.idempotency_key.as_deref(), Some("attach-1"));
    assert_eq!(env.command.kind(), "AttachPool");
    let Command::AttachPool(spec) = &env.command else {
        panic!()
    };
    assert_eq!(spec.name.as_str(), "sparkpool1");
    assert_eq!(spec.resource_id.pool_name(), "sparkpool1");
    assert_eq!(
        spec.identity.as_ref().unwrap().user_assigned()[0].name(),
        "uai-reader"
    );
    assert_eq!(spec.tags.keys().collect::<Vec<_>>(), vec!["team", "cost"]);
    assert_eq!(spec.description.as_deref(), Some("etl pool"));
    assert_eq!(spec.ttl.unwrap().to_string(), "8h");
    assert_eq!(
        env.notes,
        vec![
            "spec.location: 'westeurope' ignored; az ml attaches computes in the workspace's location"
        ]
    );
    let tags = spec.tags_at(datetime!(2025-12-01 10:00 UTC));
    assert_eq!(
        tags.get("poolbroker-expires-at").map(String::as_str),
        Some("2025-12-01T18:00:00Z")
    );
}

#[test]
fn bare_yaml_body_is_an_attach_declared_or_detected() {
    let yaml = format!(
        "# attached-spark.yml\nname: sparkpool1\n  \ntype: synapsespark\n\nresource_id: {POOL}\n\nidentity:\n  type: system_assigned\n"
    );
    for ct in [
        Some("application/yaml"),
        Some("application/x-yaml"),
        Some("text/yaml; charset=utf-8"),
        None,
        Some("application/octet-stream"),
    ] {
        let env = parse_command(yaml.as_bytes(), ct).unwrap_or_else(|e| panic!("{ct:?}: {e}"));
        let Command::AttachPool(spec) = env.command else {
            panic!()
        };
        assert_eq!(spec.identity, Some(IdentitySpec::SystemAssigned));
        assert!(env.workspace.is_none());
    }
    // A JSON document of the same shape is accepted too.
    let env = parse_command(
        json!({"name": "sparkpool1", "type": "synapsespark", "resource_id": POOL})
            .to_string()
            .as_bytes(),
        None,
    )
    .unwrap();
    assert!(matches!(
        env.command,
        Command::AttachPool(AttachPoolSpec { identity: None, .. })
    ));
}

#[test]
fn bare_yaml_errors_have_no_spec_prefix() {
    let yaml = "name: pool-1\ntype: synapsespark\nresource_id: /subscriptions/<SUBSCRIPTION_ID>/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/w/bigDataPools/p\nidentity:\n  type: user_assigned\ncolour: red\n";
    let err = parse_command(yaml.as_bytes(), Some("application/yaml")).unwrap_err();
    assert_eq!(
        paths(&err),
        vec!["colour", "name", "resource_id", "identity.type"]
    );
    // Declared YAML that is not an attach is reported against `type`.
    let err = parse_command(b"name: x\ntype: amlcompute\n", Some("text/yaml")).unwrap_err();
    assert!(paths(&err).contains(&"type".to_string()));
    // Undeclared and unrecognisable.
    let err = parse_command(br#"{"hello": "world"}"#, None).unwrap_err();
    assert_eq!(paths(&err), vec![""]);
    assert!(
        err.to_string().contains("expected a poolbroker envelope"),
        "{err}"
    );
}

#[test]
fn unknown_fields_rejected_at_every_level() {
    let err = parse_json(json!({
        "apiVersion": "poolbroker/v1", "kind": "AttachPool", "priority": 1,
        "workspace": {"subscriptionId": SUB, "resourceGroup": "rg", "name": "mlw", "tenant": "t"},
        "spec": {"name": "sparkpool1", "type": "synapsespark", "resource_id": POOL, "size": "L",
                 "identity": {"type": "user_assigned", "mode": 1, "user_assigned_identities": [{"resource_id": ETL, "weight": 1}]}}
    }))
    .unwrap_err();
    assert_eq!(
        paths(&err),
        vec![
            "priority",
            "workspace.tenant",
            "spec.size",
            "spec.identity.mode",
            "spec.identity.user_assigned_identities[0].weight"
        ]
    );
    let first = &err.field_errors()[0];
    assert_eq!(
        first.problem,
        "unknown field 'priority'; allowed fields: apiVersion, kind, workspace, idempotencyKey, spec"
    );
    assert_eq!(err.code(), "ValidationFailed");
    assert_eq!(err.field(), Some("priority"));
}

#[test]
fn envelope_level_errors() {
    let err = parse_json(json!({"apiVersion": "v2", "kind": "Attach", "spec": {}})).unwrap_err();
    assert_eq!(paths(&err), vec!["apiVersion", "kind"]);
    assert!(
        err.field_errors()[1]
            .problem
            .contains("expected one of AttachPool, UpdatePoolIdentity")
    );
    let err = parse_json(json!({"kind": "ShowPool"})).unwrap_err();
    assert_eq!(paths(&err), vec!["apiVersion", "spec"]);
    let err = parse_json(json!({"apiVersion": "poolbroker/v1", "kind": "ShowPool", "idempotencyKey": "", "workspace": "/subscriptions/x", "spec": {"name": "p"}})).unwrap_err();
    assert_eq!(
        paths(&err),
        vec!["workspace", "idempotencyKey", "spec.name"]
    );
    let err = parse_json(json!({"apiVersion": "poolbroker/v1", "kind": "ShowPool", "idempotencyKey": "k".repeat(129), "spec": {"name": "pool"}})).unwrap_err();
    assert_eq!(paths(&err), vec!["idempotencyKey"]);
}

#[test]
fn workspace_as_arm_id_string() {
    let ws = format!(
        "/subscriptions/{SUB}/resourcegroups/poolbroker-demo/providers/Microsoft.MachineLearningServices/workspaces/mlw-demo"
    );
    let env = parse_json(json!({"apiVersion": "poolbroker/v1", "kind": "ShowPool", "workspace": ws, "spec": {"name": "sparkpool1"}})).unwrap();
    assert_eq!(env.workspace.unwrap().resource_group(), "poolbroker-demo");
}

#[test]
fn update_identity_forms() {
    let env = parse_json(envelope("UpdatePoolIdentity", json!({"name": "sparkpool1", "identity": {"type": "UserAssigned", "user_assigned_identities": [ETL, {"resource_id": READER}]}}))).unwrap();
    let Command::UpdatePoolIdentity(spec) = env.command else {
        panic!()
    };
    assert_eq!(spec.identity.user_assigned().len(), 2);
    let env = parse_json(envelope(
        "UpdatePoolIdentity",
        json!({"name": "sparkpool1", "identity": {"type": "system_assigned"}}),
    ))
    .unwrap();
    assert!(matches!(
        env.command,
        Command::UpdatePoolIdentity(UpdatePoolIdentitySpec {
            identity: IdentitySpec::SystemAssigned,
            ..
        })
    ));
    let err = parse_json(envelope(
        "UpdatePoolIdentity",
        json!({"name": "sparkpool1"}),
    ))
    .unwrap_err();
    assert_eq!(paths(&err), vec!["spec.identity"]);
    let err = parse_json(envelope("UpdatePoolIdentity", json!({"name": "sparkpool1", "identity": {"type": "UserAssigned", "user_assigned_identities": [ETL, ETL]}}))).unwrap_err();
    assert_eq!(
        paths(&err),
        vec!["spec.identity.user_assigned_identities[1]"]
    );
}

#[test]
fn detach_show_list_and_job_kinds() {
    let env = parse_json(envelope("DetachPool", json!({"name": "sparkpool1"}))).unwrap();
    assert_eq!(
        env.command,
        Command::DetachPool(DetachPoolSpec {
            name: ComputeName::parse("sparkpool1").unwrap(),
            force: false
        })
    );
    let err = parse_json(envelope(
        "DetachPool",
        json!({"name": "sparkpool1", "force": "yes"}),
    ))
    .unwrap_err();
    assert_eq!(paths(&err), vec!["spec.force"]);
    let env = parse_json(json!({"apiVersion": "poolbroker/v1", "kind": "ListPools"})).unwrap();
    let Command::ListPools(list) = env.command else {
        panic!()
    };
    assert_eq!(list.compute_type(), "synapsespark");
    assert!(list.matches("SynapseSpark") && !list.matches("AmlCompute"));
    let env = parse_json(envelope("ListPools", json!({"type": "AmlCompute"}))).unwrap();
    let Command::ListPools(list) = env.command else {
        panic!()
    };
    assert!(list.matches("AmlCompute"));
    assert_eq!(
        paths(&parse_json(envelope("ListPools", json!({"type": "gpu"}))).unwrap_err()),
        vec!["spec.type"]
    );
    let env = parse_json(envelope("SubmitSparkJob", json!({"anything": [1, 2]}))).unwrap();
    assert_eq!(
        env.command,
        Command::SubmitSparkJob(RawSpec(json!({"anything": [1, 2]})))
    );
    assert_eq!(
        paths(&parse_json(envelope("SubmitSparkJob", json!([1]))).unwrap_err()),
        vec!["spec"]
    );
    let env = parse_json(envelope(
        "CancelSparkJob",
        json!({"name": "poolbroker-job_01"}),
    ))
    .unwrap();
    assert_eq!(
        env.command,
        Command::CancelSparkJob {
            name: crate::domain::spark::JobName::parse("poolbroker-job_01").unwrap()
        }
    );
    assert_eq!(
        paths(&parse_json(envelope("CancelSparkJob", json!({"name": "-x"}))).unwrap_err()),
        vec!["spec.name"]
    );
}

fn await_op() -> AwaitOperation {
    AwaitOperation {
        operation: OperationRef {
            url: "http://127.0.0.1:41234/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.MachineLearningServices/locations/westeurope/computeOperationsStatus/op-1?api-version=2025-12-01".into(),
            kind: OperationKind::AsyncOperation,
        },
        action: PendingAction::UpdateIdentity { name: ComputeName::parse("sparkpool1").unwrap() },
        reply: ReplyRoute { reply_to: Some("pool-replies".into()), correlation_id: "corr-1".into() },
        deadline: datetime!(2025-12-01 10:15:30.123456789 +01:00),
        attempt: 3,
        grant: Some(crate::domain::GrantAfter {
            linked_service: Some(crate::domain::LinkedServiceName::parse("synapselink1").unwrap()),
        }),
    }
}

#[test]
fn every_kind_round_trips_through_the_serializer() {
    let ws = WorkspaceId::new(SUB, "poolbroker-demo", "mlw-demo").unwrap();
    let uais = vec![
        UserAssignedIdentityId::parse(READER).unwrap(),
        UserAssignedIdentityId::parse(ETL).unwrap(),
    ];
    let name = ComputeName::parse("sparkpool1").unwrap();
    let commands = vec![
        Command::AttachPool(AttachPoolSpec {
            name: name.clone(),
            resource_id: SynapsePoolId::parse(POOL).unwrap(),
            identity: Some(
                IdentitySpec::build(IdentityType::SystemAndUserAssigned, uais.clone()).unwrap(),
            ),
            tags: [
                ("b".to_string(), "1".to_string()),
                ("a".to_string(), "2".to_string()),
            ]
            .into_iter()
            .collect(),
            description: Some("d".into()),
            ttl: Some(Ttl::parse("30m").unwrap()),
            grant_synapse_access: false,
        }),
        Command::AttachPool(AttachPoolSpec {
            name: name.clone(),
            resource_id: SynapsePoolId::parse(POOL).unwrap(),
            identity: None,
            tags: Tags::new(),
            description: None,
            ttl: None,
            grant_synapse_access: true,
        }),
        Command::UpdatePoolIdentity(UpdatePoolIdentitySpec {
            name: name.clone(),
            identity: IdentitySpec::build(IdentityType::UserAssigned, uais).unwrap(),
            grant_synapse_access: true,
        }),
        Command::UpdatePoolIdentity(UpdatePoolIdentitySpec {
            name: name.clone(),
            identity: IdentitySpec::None,
            grant_synapse_access: false,
        }),
        Command::DetachPool(DetachPoolSpec {
            name: name.clone(),
            force: true,
        }),
        Command::ShowPool(ShowPoolSpec { name: name.clone() }),
        Command::ListPools(ListPoolsSpec::default()),
        Command::SubmitSparkJob(RawSpec(
            json!({"code": "./src", "entry": {"file": "main.py"}}),
        )),
        Command::CancelSparkJob {
            name: crate::domain::spark::JobName::parse("job-1").unwrap(),
        },
        Command::AwaitOperation(await_op()),
        Command::AttachLinkedPool(AttachLinkedPoolSpec {
            linked_service: LinkedServiceName::parse("synapselink1").unwrap(),
            pool_name: "sparkpool2".into(),
            name: name.clone(),
            identity: Some(IdentitySpec::SystemAssigned),
            tags: Tags::new(),
            description: None,
            ttl: None,
            grant_synapse_access: false,
        }),
        Command::ListLinkedServices,
        Command::ShowLinkedService(LinkedServiceRef {
            name: LinkedServiceName::parse("synapselink1").unwrap(),
        }),
        Command::UnregisterLinkedService(LinkedServiceRef {
            name: LinkedServiceName::parse("link-2").unwrap(),
        }),
        Command::RegisterLinkedService(RegisterLinkedServiceSpec {
            name: LinkedServiceName::parse("link-2").unwrap(),
            synapse_workspace_id: SynapseWorkspaceId::parse(
                POOL.split("/bigDataPools").next().unwrap(),
            )
            .unwrap(),
        }),
        Command::GrantPoolAccess(PoolAccessSpec {
            name: name.clone(),
            linked_service: Some(LinkedServiceName::parse("synapselink1").unwrap()),
        }),
        Command::RevokePoolAccess(PoolAccessSpec {
            name: name.clone(),
            linked_service: None,
        }),
        Command::CheckPool(CheckPoolSpec { name: name.clone() }),
        Command::AwaitOperation(AwaitOperation {
            operation: OperationRef {
                url: "https://management.azure.com/x?y=1".into(),
                kind: OperationKind::Location,
            },
            action: PendingAction::Detach { name: name.clone() },
            reply: ReplyRoute {
                reply_to: None,
                correlation_id: "c".into(),
            },
            deadline: datetime!(2025-12-01 10:15:30 UTC),
            attempt: 0,
            grant: None,
        }),
    ];
    for (i, command) in commands.into_iter().enumerate() {
        let mut env = Envelope::new(command);
        if i % 2 == 0 {
            env.workspace = Some(ws.clone());
            env.idempotency_key = Some(format!("key-{i}"));
        }
        let bytes = env.to_bytes().unwrap();
        let back = parse_command(&bytes, None)
            .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(&bytes)));
        assert_eq!(back, env, "{}", String::from_utf8_lossy(&bytes));
        // And the same through YAML, since senders may use it.
        let yaml = serde_yaml_ng::to_string(&env.to_json().unwrap()).unwrap();
        assert_eq!(
            parse_command(yaml.as_bytes(), Some("application/yaml")).unwrap(),
            env,
            "{yaml}"
        );
    }
}

#[test]
fn await_operation_wire_shape_and_exact_deadline() {
    let env = Envelope::new(Command::AwaitOperation(await_op()));
    let v = env.to_json().unwrap();
    assert_eq!(v["spec"]["deadline"], "2025-12-01T10:15:30.123456789+01:00");
    assert_eq!(
        v["spec"]["action"],
        json!({"type": "UpdateIdentity", "name": "sparkpool1"})
    );
    assert_eq!(
        v["spec"]["reply"],
        json!({"replyTo": "pool-replies", "correlationId": "corr-1"})
    );
    let Command::AwaitOperation(back) = parse_command(&env.to_bytes().unwrap(), None)
        .unwrap()
        .command
    else {
        panic!()
    };
    assert_eq!(
        back.deadline.offset(),
        time::UtcOffset::from_hms(1, 0, 0).unwrap()
    );
    assert_eq!(back.deadline.nanosecond(), 123_456_789);
    assert_eq!(back.action.command_kind(), "UpdatePoolIdentity");
}

#[test]
fn await_operation_errors() {
    let err = parse_json(envelope(
        "AwaitOperation",
        json!({
            "operation": {"url": "ftp://x/y", "kind": "Poll"},
            "action": {"type": "Create", "name": "p"},
            "reply": {"correlationId": ""},
            "deadline": "tomorrow",
            "attempt": 1e40
        }),
    ))
    .unwrap_err();
    assert_eq!(
        paths(&err),
        vec![
            "spec.operation.url",
            "spec.operation.kind",
            "spec.action.name",
            "spec.action.type",
            "spec.reply.correlationId",
            "spec.deadline",
            "spec.attempt"
        ]
    );
    let err = parse_json(envelope(
        "AwaitOperation",
        json!({"operation": {"url": "not a url", "kind": "Location"}, "attempt": -1}),
    ))
    .unwrap_err();
    assert_eq!(
        paths(&err),
        vec![
            "spec.operation.url",
            "spec.action",
            "spec.reply",
            "spec.deadline",
            "spec.attempt"
        ]
    );
}

#[test]
fn syntax_errors_carry_positions() {
    let err = parse_command(b"{\n  \"kind\": \"ShowPool\",\n  oops\n}", None).unwrap_err();
    let CommandError::NotJson {
        line,
        column,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*line, *column), (3, 3));
    assert!(!message.contains("at line"), "{message}");
    assert_eq!(err.code(), "InvalidMessage");
    let err = parse_command(b"name: a\n  type: : x\n- 1", Some("application/yaml")).unwrap_err();
    let CommandError::NotYaml { line, .. } = err else {
        panic!("{err:?}")
    };
    assert!(line >= 2);
    // Declared JSON that is really YAML is a JSON error, not silently re-interpreted.
    assert!(matches!(
        parse_command(b"name: x", Some("application/json")),
        Err(CommandError::NotJson { .. })
    ));
}

#[test]
fn adversarial_bodies_never_panic() {
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_flow_yaml = format!(
        "a: don't\nb: {}{}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep_yaml = "- ".repeat(50_000) + "x";
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    let cases: Vec<(Vec<u8>, Option<&str>)> = vec![
        (b"".to_vec(), None),
        (b"   \n\t".to_vec(), Some("application/json")),
        (vec![0xff, 0xfe, 0x00, 0x01], None),
        ((0u8..=255).collect(), Some("application/yaml")),
        (b"\x00\x00\x00".to_vec(), None),
        (b"null".to_vec(), None),
        (b"42".to_vec(), None),
        (b"\"kind\"".to_vec(), Some("application/json")),
        (b"[1,2,3]".to_vec(), None),
        (b"{\"apiVersion\": 1e999999, \"kind\": 123456789012345678901234567890}".to_vec(), None),
        (b"{\"apiVersion\":\"poolbroker/v1\",\"kind\":\"AwaitOperation\",\"spec\":{\"attempt\":184467440737095516160000}}".to_vec(), None),
        (deep_json.into_bytes(), None),
        (deep_yaml.into_bytes(), Some("text/yaml")),
        (deep_flow_yaml.into_bytes(), Some("text/yaml")),
        (vec![b' '; MAX_BODY_BYTES + 1], None),
        (bomb.as_bytes().to_vec(), Some("text/yaml")),
        (b"? [a, b]\n: c\n".to_vec(), Some("text/yaml")),
        (b"1: x\n2: y\n".to_vec(), Some("text/yaml")),
        (b"--- a\n--- b\n".to_vec(), Some("text/yaml")),
        (b"!!binary aGVsbG8=".to_vec(), Some("text/yaml")),
        (b"kind: .nan\napiVersion: .inf\n".to_vec(), Some("text/yaml")),
        (b"{\"apiVersion\":\"poolbroker/v1\",\"kind\":\"AttachPool\",\"spec\":{\"name\":{\"name\":{\"name\":[[[{}]]]}},\"tags\":{\"\":null},\"identity\":[]}}".to_vec(), None),
        (format!("{{\"apiVersion\":\"poolbroker/v1\",\"kind\":\"ShowPool\",\"spec\":{{\"name\":\"{}\"}}}}", "é".repeat(100_000)).into_bytes(), None),
    ];
    for (i, (body, ct)) in cases.into_iter().enumerate() {
        let started = std::time::Instant::now();
        let result = parse_command(&body, ct);
        // Generous for debug builds; the unguarded deep-flow YAML case took seconds.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "case {i} took {:?}",
            started.elapsed()
        );
        let err = result.expect_err(&format!("case {i} should be rejected"));
        let shown = err.to_string();
        assert!(!shown.is_empty());
        assert!(
            shown.len() < 4_000,
            "case {i}: error message too long ({} bytes)",
            shown.len()
        );
    }
}

#[test]
fn flow_depth_guard_allows_ordinary_documents() {
    let yaml = format!(
        "name: sparkpool1\ntype: synapsespark\nresource_id: {POOL}\ntags: {{a: '[[[[', b: \"{{{{{{\"}}\n"
    );
    let env = parse_command(yaml.as_bytes(), Some("text/yaml")).unwrap();
    let Command::AttachPool(spec) = env.command else {
        panic!()
    };
    assert_eq!(spec.tags["a"], "[[[[");
    let err = parse_command(
        format!("x: {}", "[".repeat(65)).as_bytes(),
        Some("text/yaml"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("nesting deeper than 64"), "{err}");
    let err = parse_command(&vec![b'a'; MAX_BODY_BYTES + 1], None).unwrap_err();
    assert_eq!(
        err,
        CommandError::TooLarge {
            size: MAX_BODY_BYTES + 1,
            limit: MAX_BODY_BYTES
        }
    );
}

#[test]
fn error_display_lists_every_problem() {
    let err = parse_json(envelope("ShowPool", json!({"name": "x", "extra": true}))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid message: spec.extra: unknown field 'extra'; allowed fields: name; spec.name: compute name must be 3 to 24 characters long; got 1"
    );
    assert_eq!(CommandError::Empty.to_string(), "message body is empty");
    assert_eq!(
        parse_command(&[0x80], None).unwrap_err(),
        CommandError::NotUtf8 { valid_up_to: 0 }
    );
}
