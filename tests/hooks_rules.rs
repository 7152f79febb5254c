//! routes.yaml validation at startup and matching, through the public hooks API.

use bytes::Bytes;
use poolbroker::hooks::{HookOutcome, HookRequest, HooksConfig, RoutesError, RoutingRules, handle};
use serde_json::json;
use time::macros::datetime;

const EXAMPLE: &str = include_str!("../routes.example.yaml");

fn error(yaml: &str) -> String {
    RoutingRules::parse(yaml).unwrap_err().to_string()
}

fn rule(matcher: &str, command: &str) -> String {
    format!("- name: r\n  match:\n{matcher}\n  command:\n{command}\n")
}

const OK_MATCH: &str = "    type: campaign.ended";
const OK_COMMAND: &str = "    kind: DetachPool\n    spec:\n      name: \"{{ data.pool }}\"";

#[test]
fn the_example_routes_file_is_valid() {
    let rules = RoutingRules::parse(EXAMPLE).unwrap();
    assert_eq!(
        rules.names().collect::<Vec<_>>(),
        ["sales-landing", "campaign-ended"]
    );
    assert_eq!(rules.len(), 2);
}

#[test]
fn template_errors_name_rule_field_and_problem() {
    assert_eq!(
        error(&rule(
            OK_MATCH,
            "    kind: DetachPool\n    spec:\n      name: \"{{ date.pool }}\""
        )),
        "rules[0] (r): command.spec.name: unknown placeholder root 'date' in 'date.pool': expected \
         one of id, type, source, subject, time, data"
    );
    assert_eq!(
        error(&rule(
            OK_MATCH,
            "    kind: DetachPool\n    spec:\n      name: \"pool-{{ data.pool\""
        )),
        "rules[0] (r): command.spec.name: unterminated '{{' at character 5 in 'pool-{{ data.pool': \
         expected a closing '}}'"
    );
    assert_eq!(
        error(&rule(
            OK_MATCH,
            "    kind: DetachPool\n    spec:\n      name: \"{{ data.pool | upper }}\""
        )),
        "rules[0] (r): command.spec.name: '{{ data.pool | upper }}': unknown filter 'upper': \
         expected one of after, before, basename, default"
    );
    assert!(
        error(&rule(
            OK_MATCH,
            "    kind: DetachPool\n    spec:\n      tags: [\"{{ subject | after }}\"]"
        ))
        .starts_with(
            "rules[0] (r): command.spec.tags[0]: '{{ subject | after }}': filter after needs an argument"
        )
    );
}

#[test]
fn command_envelope_errors() {
    assert_eq!(
        error(&rule(OK_MATCH, "    spec:\n      name: x")),
        "rules[0] (r): command.kind: required field is missing"
    );
    assert_eq!(
        error(&rule(OK_MATCH, "    kind: \"{{ data.kind }}\"")),
        "rules[0] (r): command.kind: must be a fixed command kind, not a placeholder"
    );
    assert_eq!(
        error(&rule(OK_MATCH, "    kind: 3")),
        "rules[0] (r): command.kind: expected a command kind such as SubmitSparkJob"
    );
    assert_eq!(
        error(&rule(
            OK_MATCH,
            "    apiVersion: poolbroker/v2\n    kind: DetachPool"
        )),
        "rules[0] (r): command.apiVersion: expected \"poolbroker/v1\", got \"poolbroker/v2\""
    );
    assert_eq!(
        error(&rule(OK_MATCH, "    kind: DetachPol")),
        "rules[0] (r): command.kind: unknown kind 'DetachPol': expected one of AttachPool, \
         UpdatePoolIdentity, DetachPool, ShowPool, ListPools, SubmitSparkJob, CancelSparkJob, \
         ListLinkedServices, ShowLinkedService, RegisterLinkedService, UnregisterLinkedService, \
         GrantPoolAccess, RevokePoolAccess, CheckPool"
    );
    assert!(
        error(&rule(OK_MATCH, "    kind: AwaitOperation"))
            .contains("unknown kind 'AwaitOperation'")
    );
    assert_eq!(
        error(&rule(OK_MATCH, "    kind: DetachPool\n    workspce: /x")),
        "rules[0] (r): command: unknown field 'workspce': expected one of apiVersion, kind, \
         workspace, idempotencyKey, spec"
    );
    assert_eq!(
        error("- name: r\n  match: {type: t}\n  command: [1]\n"),
        "rules[0] (r): command: expected a mapping (a poolbroker/v1 command envelope)"
    );
}

#[test]
fn match_errors() {
    assert!(
        error(&rule("    {}", OK_COMMAND))
            .starts_with("rules[0] (r): match: needs at least one of type")
    );
    assert_eq!(
        error(&rule("    typ: campaign.ended", OK_COMMAND)),
        "rules[0] (r): match: unknown criterion 'typ': expected one of type, subject_prefix, source, data"
    );
    assert_eq!(
        error(&rule("    type: 5", OK_COMMAND)),
        "rules[0] (r): match.type: expected a string"
    );
    assert_eq!(
        error(&rule("    data:\n      a..b: 1", OK_COMMAND)),
        "rules[0] (r): match.data.a..b: malformed path 'a..b': segment '' is empty or contains whitespace"
    );
    assert_eq!(
        error(&rule("    data: [1]", OK_COMMAND)),
        "rules[0] (r): match.data: expected a mapping of path: value"
    );
    assert_eq!(
        error("- name: r\n  command: {kind: ShowPool}\n"),
        "rules[0] (r): match: required field is missing"
    );
}

#[test]
fn rule_level_errors() {
    assert_eq!(
        error("- match: {type: t}\n  command: {kind: ShowPool}\n"),
        "rules[0] (unnamed): name: required field is missing"
    );
    let duplicate = format!(
        "{}{}",
        rule(OK_MATCH, OK_COMMAND),
        rule(OK_MATCH, OK_COMMAND)
    );
    assert_eq!(
        error(&duplicate),
        "rules[1] (r): name: duplicate rule name (names identify rules in replies and logs)"
    );
    assert_eq!(
        error("- name: r\n  match: {type: t}\n  command: {kind: ShowPool}\n  comand: {}\n"),
        "rules[0] (r): rule: unknown field 'comand': expected one of name, description, match, command"
    );
    assert!(error("rules: [\n").starts_with("not valid YAML: "));
    assert_eq!(
        error("routes: []"),
        "unknown top-level key 'routes': expected only 'rules'"
    );
    assert_eq!(
        error("42"),
        "expected a list of rules, or a mapping with a 'rules' list"
    );
    assert!(RoutingRules::parse("").unwrap().is_empty());
    assert_eq!(
        RoutingRules::parse(&rule(OK_MATCH, OK_COMMAND))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn loading_from_a_path_names_the_file() {
    let missing = std::env::temp_dir().join(format!(
        "poolbroker-no-such-routes-{}.yaml",
        std::process::id()
    ));
    let error = RoutingRules::load_from_path(&missing).unwrap_err();
    assert!(matches!(error, RoutesError::Read { .. }));
    assert!(
        error.to_string().contains("poolbroker-no-such-routes"),
        "{error}"
    );

    let broken = std::env::temp_dir().join(format!(
        "poolbroker-broken-routes-{}.yaml",
        std::process::id()
    ));
    std::fs::write(&broken, rule(OK_MATCH, "    spec: {}")).unwrap();
    let error = RoutingRules::load_from_path(&broken)
        .unwrap_err()
        .to_string();
    std::fs::remove_file(&broken).unwrap();
    assert!(
        error.ends_with(".yaml: rules[0] (r): command.kind: required field is missing"),
        "{error}"
    );
}

#[test]
fn source_globs_and_data_criteria_select_the_rule() {
    let routes = r#"
rules:
  - name: by-data
    match:
      source: "/pipelines/*"
      data:
        /stage: final
        run.ok: true
    command: {kind: SubmitSparkJob, spec: {run: "{{ data.run.id }}"}}
  - name: fallback
    match: {type: "*"}
    command: {kind: ShowPool, idempotencyKey: "show-{{ id }}", spec: {name: "{{ type }}"}}
"#;
    let config = HooksConfig::new(RoutingRules::parse(routes).unwrap());
    let event = |id: &str, source: &str, data: serde_json::Value| json!({"specversion": "1.0", "id": id, "source": source, "type": "t.x", "data": data});
    let body = json!([
        event(
            "1",
            "/pipelines/train",
            json!({"stage": "final", "run": {"ok": true, "id": 7}})
        ),
        event(
            "2",
            "/pipelines/train",
            json!({"stage": "final", "run": {"ok": "true", "id": 8}})
        ),
        event(
            "3",
            "/other",
            json!({"stage": "final", "run": {"ok": true, "id": 9}})
        ),
    ]);
    let request = HookRequest {
        method: "POST".into(),
        headers: vec![(
            "Content-Type".into(),
            "application/cloudevents-batch+json".into(),
        )],
        body: Bytes::from(serde_json::to_vec(&body).unwrap()),
        query: Vec::new(),
    };
    let HookOutcome::Enqueue {
        commands,
        unmatched,
    } = handle(&request, &config, datetime!(2026-11-22 12:00 UTC))
    else {
        panic!("expected commands");
    };
    assert!(unmatched.is_empty());
    let routed: Vec<(&str, &serde_json::Value)> = commands
        .iter()
        .map(|c| (c.rule.as_str(), &c.body["spec"]))
        .collect();
    assert_eq!(
        routed,
        [
            ("by-data", &json!({"run": 7})),
            ("fallback", &json!({"name": "t.x"})),
            ("fallback", &json!({"name": "t.x"}))
        ]
    );
    assert_eq!(commands[0].body["apiVersion"], "poolbroker/v1");
    assert_eq!(
        commands[0].body["idempotencyKey"],
        json!(commands[0].message_id)
    );
    assert_eq!(commands[1].body["idempotencyKey"], "show-2");
}

#[test]
fn commands_from_the_example_routes_parse_as_poolbroker_v1() {
    let config = HooksConfig::new(RoutingRules::parse(EXAMPLE).unwrap());
    let blob = json!([{
        "topic": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct",
        "subject": "/blobServices/default/containers/landing/blobs/sales/2026/orders.csv",
        "eventType": "Microsoft.Storage.BlobCreated",
        "id": "blob-1",
        "data": {"api": "PutBlob", "blobType": "BlockBlob", "url": "https://acct.blob.core.windows.net/landing/sales/2026/orders.csv"},
        "dataVersion": "", "metadataVersion": "1", "eventTime": "2026-11-22T11:59:58Z"
    }]);
    let campaign = json!({
        "specversion": "1.0", "id": "c-1", "source": "/pipelines/campaigns", "type": "campaign.ended",
        "data": {"workspace": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.MachineLearningServices/workspaces/ml-demo", "pool": "sparkpool1"}
    });
    let requests = [
        (
            vec![("aeg-event-type", "Notification")],
            blob,
            "SubmitSparkJob",
        ),
        (
            vec![("content-type", "application/cloudevents+json")],
            campaign,
            "DetachPool",
        ),
    ];
    for (headers, body, kind) in requests {
        let request = HookRequest {
            method: "POST".into(),
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Bytes::from(serde_json::to_vec(&body).unwrap()),
            query: Vec::new(),
        };
        let HookOutcome::Enqueue { commands, .. } =
            handle(&request, &config, datetime!(2026-11-22 12:00 UTC))
        else {
            panic!("expected a command for {kind}");
        };
        let wire = serde_json::to_vec(&commands[0].body).unwrap();
        let envelope = poolbroker::domain::parse_command(&wire, Some("application/json"))
            .unwrap_or_else(|error| panic!("{kind}: {error}"));
        assert_eq!(
            envelope.idempotency_key.as_deref(),
            Some(commands[0].message_id.as_str()),
            "{kind}"
        );
    }
}
