//! Every file in `examples/` parses as documented in `docs/messages.md`: good ones succeed, bad
//! ones fail on the documented field with the documented message. `include_str!` keeps the domain
//! free of I/O.

use super::*;

macro_rules! example {
    ($path:literal) => {
        (
            $path,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/", $path)),
        )
    };
}

fn content_type(path: &str) -> Option<&'static str> {
    path.ends_with(".yml").then_some("application/yaml")
}

#[test]
fn good_examples_parse() {
    let good = [
        (example!("attached-spark.yml"), "AttachPool"),
        (example!("attached-spark-system-identity.yml"), "AttachPool"),
        (example!("attached-spark-user-identity.yml"), "AttachPool"),
        (example!("attach-pool.json"), "AttachPool"),
        (example!("update-identity.json"), "UpdatePoolIdentity"),
        (example!("show-pool.json"), "ShowPool"),
        (example!("list-pools.json"), "ListPools"),
        (example!("detach-pool.json"), "DetachPool"),
    ];
    for ((path, body), kind) in good {
        // Declared and sniffed content types must agree.
        for ct in [content_type(path), None] {
            let env = parse_command(body.as_bytes(), ct).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(env.command.kind(), kind, "{path}");
            assert!(env.notes.is_empty(), "{path}: {:?}", env.notes);
        }
    }
}

#[test]
fn seed_yaml_examples_mean_what_the_docs_say() {
    let (_, body) = example!("attached-spark-user-identity.yml");
    let Command::AttachPool(spec) = parse_command(body.as_bytes(), None).unwrap().command else {
        panic!("not an attach")
    };
    let names: Vec<&str> = spec
        .identity
        .as_ref()
        .unwrap()
        .user_assigned()
        .iter()
        .map(|u| u.name())
        .collect();
    assert_eq!(names, vec!["uai-etl", "uai-reader"]);
    assert_eq!(spec.resource_id.pool_name(), "sparkpool1");
    let (_, body) = example!("attached-spark.yml");
    let Command::AttachPool(spec) = parse_command(body.as_bytes(), None).unwrap().command else {
        panic!("not an attach")
    };
    assert_eq!(spec.identity, None);
}

#[test]
fn bad_examples_fail_on_the_documented_field() {
    let bad = [
        (
            example!("bad/unknown-field.json"),
            "spec.node_count",
            "unknown field 'node_count'; allowed fields: $schema, name, type, resource_id, identity, tags, description, location, ttl",
        ),
        (
            example!("bad/compute-name-trailing-digits.json"),
            "spec.name",
            "compute name must not end with a hyphen followed by digits (like '-1'); got 'sparkpool-1'",
        ),
        (
            example!("bad/duplicate-identity.yml"),
            "identity.user_assigned_identities[1].resource_id",
            "user-assigned identity /subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/UAI-ETL is listed twice (positions 0 and 1)",
        ),
        (
            example!("bad/system-identity-with-uais.yml"),
            "identity.user_assigned_identities",
            "identity type system_assigned does not take user-assigned identities",
        ),
        (
            example!("bad/resource-id-not-a-pool.yml"),
            "resource_id",
            "ends after segment 8; 'bigDataPools' is missing; expected a Synapse Spark pool id of the form /subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.Synapse/workspaces/{workspace}/bigDataPools/{pool}",
        ),
        (
            example!("bad/user-assigned-without-identities.json"),
            "spec.identity.type",
            "identity type user_assigned needs at least one user-assigned identity",
        ),
        (
            example!("bad/unknown-kind.json"),
            "kind",
            "unknown kind 'DeletePool'; expected one of AttachPool, UpdatePoolIdentity, DetachPool, ShowPool, ListPools, SubmitSparkJob, CancelSparkJob, AwaitOperation",
        ),
        (
            example!("bad/bad-ttl.json"),
            "spec.ttl",
            "expected a duration like 30m, 8h, 7d or 1h30m (units d, h, m, largest first); got '2 weeks'",
        ),
    ];
    for ((path, body), field, problem) in bad {
        let err = parse_command(body.as_bytes(), content_type(path)).expect_err(path);
        assert_eq!(err.code(), "ValidationFailed", "{path}");
        assert_eq!(
            err.field_errors(),
            &[FieldError::new(field, problem)],
            "{path}: {err}"
        );
    }
}
