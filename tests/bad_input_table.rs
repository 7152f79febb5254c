//! Table-driven bad input: hundreds of malformed commands, each with the field its error must
//! name, sent through `pool-commands` to the real `poolbroker` binary. Every one must come back
//! `Rejected` with that field in `error.field` and `error.details`, be completed on its first
//! delivery (none dead-lettered), and reach no compute in ARM.

mod common;

use std::collections::HashMap;

use common::*;
use serde_json::{Value, json};

struct Case {
    what: String,
    body: String,
    content_type: &'static str,
    field: String,
}

fn case(what: impl Into<String>, body: &Value, field: &str) -> Case {
    Case {
        what: what.into(),
        body: body.to_string(),
        content_type: "application/json",
        field: field.to_owned(),
    }
}

fn raw(what: &str, body: &str, content_type: &'static str, field: &str) -> Case {
    Case {
        what: what.to_owned(),
        body: body.to_owned(),
        content_type,
        field: field.to_owned(),
    }
}

fn attach_spec() -> Value {
    json!({"name": "spark-ok", "type": "synapsespark", "resource_id": POOL1})
}

fn job_spec() -> Value {
    json!({
        "type": "spark", "code": "azureml:sales-etl:1", "entry": {"file": "etl.py"},
        "driver_cores": 1, "driver_memory": "2g",
        "executor_cores": 2, "executor_memory": "2g", "executor_instances": 2
    })
}

/// A valid command of each kind, whose fields the table breaks one at a time.
fn valid() -> Vec<(&'static str, Value)> {
    vec![
        ("AttachPool", attach_spec()),
        (
            "UpdatePoolIdentity",
            json!({"name": "spark-ok", "identity": {"type": "system_assigned"}}),
        ),
        ("DetachPool", json!({"name": "spark-ok", "force": false})),
        ("ShowPool", json!({"name": "spark-ok"})),
        ("ListPools", json!({"type": "synapsespark"})),
        ("SubmitSparkJob", job_spec()),
        ("CancelSparkJob", json!({"name": "job-1"})),
    ]
}

fn with(kind: &str, spec: &Value, key: &str, value: Value) -> Value {
    let mut spec = spec.clone();
    spec[key] = value;
    envelope(kind, spec)
}

fn without(kind: &str, spec: &Value, key: &str) -> Value {
    let mut spec = spec.clone();
    spec.as_object_mut().unwrap().remove(key);
    envelope(kind, spec)
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let wrong_types = [json!(42), json!(true), json!([]), json!({"x": 1})];

    // Every string field of every kind, given a value of the wrong type.
    let string_fields: &[(&str, &[&str])] = &[
        (
            "AttachPool",
            &[
                "name",
                "type",
                "resource_id",
                "description",
                "ttl",
                "location",
            ],
        ),
        ("UpdatePoolIdentity", &["name"]),
        ("DetachPool", &["name"]),
        ("ShowPool", &["name"]),
        ("ListPools", &["type"]),
        (
            "SubmitSparkJob",
            &[
                "code",
                "driver_memory",
                "executor_memory",
                "name",
                "environment",
                "compute",
                "experiment_name",
                "description",
                "args",
            ],
        ),
        ("CancelSparkJob", &["name"]),
    ];
    let specs: HashMap<&str, Value> = valid().into_iter().collect();
    for (kind, fields) in string_fields {
        for field in *fields {
            for bad in &wrong_types {
                out.push(case(
                    format!("{kind}.{field} = {bad}"),
                    &with(kind, &specs[kind], field, bad.clone()),
                    &format!("spec.{field}"),
                ));
            }
        }
    }
    // Required fields left out.
    for (kind, field) in [
        ("AttachPool", "name"),
        ("AttachPool", "type"),
        ("AttachPool", "resource_id"),
        ("UpdatePoolIdentity", "name"),
        ("UpdatePoolIdentity", "identity"),
        ("DetachPool", "name"),
        ("ShowPool", "name"),
        ("SubmitSparkJob", "code"),
        ("CancelSparkJob", "name"),
    ] {
        out.push(case(
            format!("{kind} without {field}"),
            &without(kind, &specs[kind], field),
            &format!("spec.{field}"),
        ));
    }
    // Unknown fields in every spec and in the envelope.
    for (kind, spec) in valid() {
        for unknown in [
            "colour",
            "Name",
            "resourceId",
            "spec",
            "x".repeat(300).as_str(),
        ] {
            out.push(case(
                format!("{kind} unknown {unknown:.20}"),
                &with(kind, &spec, unknown, json!(1)),
                &format!("spec.{unknown}"),
            ));
        }
        let mut e = envelope(kind, spec.clone());
        e["replyTo"] = json!("elsewhere");
        out.push(case(format!("{kind} envelope replyTo"), &e, "replyTo"));
    }
    // Booleans.
    for bad in [json!("yes"), json!(1), json!("true"), json!([true])] {
        out.push(case(
            format!("force = {bad}"),
            &with("DetachPool", &specs["DetachPool"], "force", bad),
            "spec.force",
        ));
    }
    // Compute names breaking the rules, in every kind that takes one.
    let names = [
        "",
        "ab",
        "-spark",
        "sp@rk",
        "9spark",
        "spark_pool",
        "spark pool",
        "spark.pool",
        "a-compute-name-far-longer-than-any-limit-allows-for-names",
        "pool-7",
        "spark/../x",
        "ünïcode",
        "SPARK!",
        "a\nb",
    ];
    for kind in ["AttachPool", "UpdatePoolIdentity", "DetachPool", "ShowPool"] {
        for name in names {
            out.push(case(
                format!("{kind} name {name:?}"),
                &with(kind, &specs[kind], "name", json!(name)),
                "spec.name",
            ));
        }
    }
    // Resource ids of the wrong shape.
    let pool_prefix = POOL1.split("/bigDataPools/").next().unwrap().to_owned();
    let bad_ids = [
        String::new(),
        "sparkpool1".into(),
        pool_prefix.clone(),
        format!("{pool_prefix}/bigDataPools/"),
        format!("{pool_prefix}/sqlPools/p1"),
        POOL1.replace("/subscriptions/", "/subscription/"),
        POOL1.replace("Microsoft.Synapse", "Microsoft.Storage"),
        format!("{POOL1}/extra"),
        format!(" {POOL1}"),
        POOL1.replace(SUBSCRIPTION, "not-a-guid"),
        format!("https://management.azure.com{POOL1}"),
        uai("etl"),
    ];
    for id in &bad_ids {
        out.push(case(
            format!("resource_id {id:.60}"),
            &with("AttachPool", &specs["AttachPool"], "resource_id", json!(id)),
            "spec.resource_id",
        ));
    }
    // Compute types.
    for t in ["kubernetes", "AmlCompute", "synapse", "", "spark"] {
        out.push(case(
            format!("type {t}"),
            &with("AttachPool", &specs["AttachPool"], "type", json!(t)),
            "spec.type",
        ));
    }
    // TTLs.
    for ttl in [
        "",
        "1",
        "0h",
        "-1h",
        "1y",
        "h",
        "1.5h",
        "1 h",
        "99999999999h",
        "1h30",
        "P1D",
        "forever",
    ] {
        out.push(case(
            format!("ttl {ttl:?}"),
            &with("AttachPool", &specs["AttachPool"], "ttl", json!(ttl)),
            "spec.ttl",
        ));
    }
    // Identities.
    let identities: Vec<(Value, &str)> = vec![
        (json!("system_assigned"), "spec.identity"),
        (json!({}), "spec.identity.type"),
        (json!({"type": "managed"}), "spec.identity.type"),
        (json!({"type": 3}), "spec.identity.type"),
        (json!({"type": "user_assigned"}), "spec.identity.type"),
        (
            json!({"type": "system_assigned", "user_assigned_identities": [{"resource_id": uai("etl")}]}),
            "spec.identity.user_assigned_identities",
        ),
        (
            json!({"type": "user_assigned", "user_assigned_identities": "x"}),
            "spec.identity.user_assigned_identities",
        ),
        (
            json!({"type": "user_assigned", "user_assigned_identities": [3]}),
            "spec.identity.user_assigned_identities[0]",
        ),
        (
            json!({"type": "user_assigned", "user_assigned_identities": [{}]}),
            "spec.identity.user_assigned_identities[0].resource_id",
        ),
        (
            json!({"type": "user_assigned", "user_assigned_identities": [{"resource_id": "x"}]}),
            "spec.identity.user_assigned_identities[0].resource_id",
        ),
        (
            json!({"type": "user_assigned", "user_assigned_identities": [{"resource_id": POOL1}]}),
            "spec.identity.user_assigned_identities[0].resource_id",
        ),
        (
            json!({"type": "user_assigned", "user_assigned_identities": [{"resource_id": uai("etl")}, {"resource_id": uai("etl")}]}),
            "spec.identity.user_assigned_identities[1].resource_id",
        ),
        (
            json!({"type": "user_assigned", "user_assigned_identities": [{"resource_id": uai("etl"), "colour": 1}]}),
            "spec.identity.user_assigned_identities[0].colour",
        ),
        (
            json!({"type": "system_assigned", "colour": 1}),
            "spec.identity.colour",
        ),
        (
            json!({"type": "user_assigned", "user_assigned_identities": [{"resource_id": uai("a")}]}),
            "spec.identity.user_assigned_identities[0].resource_id",
        ),
    ];
    for kind in ["AttachPool", "UpdatePoolIdentity"] {
        for (identity, field) in &identities {
            out.push(case(
                format!("{kind} identity {identity}"),
                &with(kind, &specs[kind], "identity", identity.clone()),
                field,
            ));
        }
    }
    // Tags.
    for (tags, field) in [
        (json!("team=a"), "spec.tags"),
        (json!(["a"]), "spec.tags"),
        (json!({"team": 1}), "spec.tags.team"),
        (json!({"team": {"x": 1}}), "spec.tags.team"),
        (
            json!({"poolbroker-managed": "true"}),
            "spec.tags.poolbroker-managed",
        ),
        (
            json!({"poolbroker-expires-at": "x"}),
            "spec.tags.poolbroker-expires-at",
        ),
        (json!({"a/b": "x"}), "spec.tags.a/b"),
        (json!({"a<b": "x"}), "spec.tags.a<b"),
        (json!({"": "x"}), "spec.tags."),
    ] {
        out.push(case(
            format!("tags {tags}"),
            &with("AttachPool", &specs["AttachPool"], "tags", tags),
            field,
        ));
    }
    // The envelope: apiVersion, kind, workspace, idempotencyKey.
    for (api, field) in [
        (json!("poolbroker/v2"), "apiVersion"),
        (json!(1), "apiVersion"),
        (json!(""), "apiVersion"),
    ] {
        let mut e = envelope("ShowPool", specs["ShowPool"].clone());
        e["apiVersion"] = api;
        out.push(case(format!("apiVersion {}", e["apiVersion"]), &e, field));
    }
    for kind in [
        json!("DeletePool"),
        json!("attachpool"),
        json!(7),
        json!(""),
        json!(["ShowPool"]),
    ] {
        let mut e = envelope("ShowPool", specs["ShowPool"].clone());
        e["kind"] = kind;
        out.push(case(format!("kind {}", e["kind"]), &e, "kind"));
    }
    for (ws, field) in [
        (json!(7), "workspace"),
        (json!("not-an-id"), "workspace"),
        (json!("/subscriptions/x/resourceGroups/rg"), "workspace"),
        (
            json!({"subscriptionId": SUBSCRIPTION, "resourceGroup": "rg"}),
            "workspace.name",
        ),
        (
            json!({"subscriptionId": SUBSCRIPTION, "name": "ml"}),
            "workspace.resourceGroup",
        ),
        (
            json!({"resourceGroup": "rg", "name": "ml"}),
            "workspace.subscriptionId",
        ),
        (
            json!({"subscriptionId": "nope", "resourceGroup": "rg", "name": "ml"}),
            "workspace.subscriptionId",
        ),
        (
            json!({"subscriptionId": SUBSCRIPTION, "resourceGroup": "rg!", "name": "ml"}),
            "workspace.resourceGroup",
        ),
        (
            json!({"subscriptionId": SUBSCRIPTION, "resourceGroup": "rg", "name": "m"}),
            "workspace.name",
        ),
        (
            json!({"subscriptionId": SUBSCRIPTION, "resourceGroup": "rg", "name": "ml", "x": 1}),
            "workspace.x",
        ),
        (
            json!({"subscriptionId": 1, "resourceGroup": "rg", "name": "ml"}),
            "workspace.subscriptionId",
        ),
    ] {
        let mut e = envelope("ShowPool", specs["ShowPool"].clone());
        e["workspace"] = ws;
        out.push(case(format!("workspace {}", e["workspace"]), &e, field));
    }
    for key in [
        json!(""),
        json!("x".repeat(129)),
        json!("a\u{0}b"),
        json!(5),
        json!({"k": 1}),
    ] {
        let mut e = envelope("ShowPool", specs["ShowPool"].clone());
        e["idempotencyKey"] = key;
        out.push(case(
            format!("idempotencyKey {:.30}", e["idempotencyKey"].to_string()),
            &e,
            "idempotencyKey",
        ));
    }
    for spec in [json!("spark-ok"), json!([]), json!(1)] {
        out.push(case(
            format!("ShowPool spec {spec}"),
            &envelope("ShowPool", spec),
            "spec",
        ));
    }
    out.push(case(
        "ShowPool without spec",
        &json!({"apiVersion": "poolbroker/v1", "kind": "ShowPool"}),
        "spec",
    ));
    // Internal kinds from outside.
    for (kind, first) in [
        ("AwaitOperation", "spec.operation"),
        ("TrackSparkJob", "spec.job"),
    ] {
        out.push(case(
            format!("{kind} empty spec"),
            &json!({"apiVersion": "poolbroker/v1", "kind": kind, "spec": {}}),
            first,
        ));
    }
    // Duplicate keys, JSON and YAML.
    out.push(raw("duplicate kind", r#"{"apiVersion":"poolbroker/v1","kind":"ShowPool","spec":{"name":"spark-ok"},"kind":"DetachPool"}"#, "application/json", "kind"));
    out.push(raw("duplicate spec.name", r#"{"apiVersion":"poolbroker/v1","kind":"ShowPool","spec":{"name":"spark-ok","name":"other-pool"}}"#, "application/json", "spec.name"));
    out.push(raw("duplicate tag", &format!(r#"{{"apiVersion":"poolbroker/v1","kind":"AttachPool","spec":{{"name":"spark-ok","type":"synapsespark","resource_id":"{POOL1}","tags":{{"a":"1","a":"2"}}}}}}"#), "application/json", "spec.tags.a"));
    out.push(raw(
        "yaml duplicate name",
        &format!("name: spark-ok\ntype: synapsespark\nresource_id: {POOL1}\nname: spark-two\n"),
        "application/yaml",
        "name",
    ));
    out.push(raw(
        "yaml duplicate in envelope",
        "apiVersion: poolbroker/v1\nkind: ShowPool\nspec:\n  name: spark-ok\n  name: x\n",
        "application/yaml",
        "spec.name",
    ));
    // Bare az-ml YAML with bad fields.
    for (yaml, field) in [
        (
            format!("name: 9bad\ntype: synapsespark\nresource_id: {POOL1}\n"),
            "name",
        ),
        (
            format!("name: spark-ok\ntype: kubernetes\nresource_id: {POOL1}\n"),
            "type",
        ),
        (
            "name: spark-ok\ntype: synapsespark\nresource_id: nope\n".to_owned(),
            "resource_id",
        ),
        (
            format!(
                "name: spark-ok\ntype: synapsespark\nresource_id: {POOL1}\nidentity:\n  type: bogus\n"
            ),
            "identity.type",
        ),
        (
            format!("name: spark-ok\ntype: synapsespark\nresource_id: {POOL1}\nttl: soon\n"),
            "ttl",
        ),
        (
            format!("name: spark-ok\ntype: synapsespark\nresource_id: {POOL1}\nnode_count: 3\n"),
            "node_count",
        ),
        (
            format!("name: spark-ok\ntype: synapsespark\nresource_id: {POOL1}\ntags: [a]\n"),
            "tags",
        ),
        (
            format!("type: synapsespark\nresource_id: {POOL1}\n"),
            "name",
        ),
    ] {
        out.push(Case {
            what: format!("yaml {field}"),
            body: yaml,
            content_type: "application/yaml",
            field: field.to_owned(),
        });
    }
    // Spark job specifics.
    for (key, value, field) in [
        ("type", json!("command"), "spec.type"),
        ("code", json!("./src"), "spec.code"),
        ("code", json!("azureml:sales-etl"), "spec.code"),
        ("code", json!("azureml:sales-etl@latest"), "spec.code"),
        ("entry", json!("etl.py"), "spec.entry"),
        ("entry", json!({}), "spec.entry"),
        (
            "entry",
            json!({"file": "a.py", "class_name": "A"}),
            "spec.entry",
        ),
        ("entry", json!({"file": "a.py", "x": 1}), "spec.entry.x"),
        ("driver_cores", json!("one"), "spec.driver_cores"),
        ("driver_cores", json!(0), "spec.driver_cores"),
        ("driver_cores", json!(-1), "spec.driver_cores"),
        ("driver_cores", json!(1.5), "spec.driver_cores"),
        (
            "executor_instances",
            json!("two"),
            "spec.executor_instances",
        ),
        ("executor_instances", json!(-1), "spec.executor_instances"),
        ("driver_memory", json!("2"), "spec.driver_memory"),
        ("driver_memory", json!("2q"), "spec.driver_memory"),
        ("executor_memory", json!("-2g"), "spec.executor_memory"),
        ("resources", json!("big"), "spec.resources"),
        (
            "resources",
            json!({"instance_type": 1}),
            "spec.resources.instance_type",
        ),
        ("resources", json!({"gpus": 1}), "spec.resources.gpus"),
        ("identity", json!({"type": "nobody"}), "spec.identity.type"),
        (
            "identity",
            json!({"type": "managed", "x": 1}),
            "spec.identity.x",
        ),
        ("identity", json!("managed"), "spec.identity"),
        ("conf", json!("x"), "spec.conf"),
        ("inputs", json!("x"), "spec.inputs"),
        ("outputs", json!("x"), "spec.outputs"),
        ("tags", json!("x"), "spec.tags"),
        ("fallback", json!("maybe"), "spec.fallback"),
    ] {
        out.push(case(
            format!("SubmitSparkJob {key} {value}"),
            &with("SubmitSparkJob", &specs["SubmitSparkJob"], key, value),
            field,
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_in_the_table_is_rejected_naming_its_field() {
    let table = cases();
    assert!(table.len() >= 250, "the table has {} cases", table.len());
    let world = start().await;
    let sent: Vec<(String, &Case)> = table
        .iter()
        .map(|c| {
            let id = send_with(&world, &c.body, |m| {
                m.content_type = Some(c.content_type.into())
            });
            (id, c)
        })
        .collect();
    let mut wrong = Vec::new();
    for (id, c) in &sent {
        let Some(reply) = reply_within(&world, id, WAIT).await else {
            wrong.push(format!("{}: no reply", c.what));
            continue;
        };
        let error = &reply["error"];
        let named = error["details"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x["field"] == c.field.as_str()));
        if reply["status"] != "Rejected" || error["field"] != c.field.as_str() || !named {
            wrong.push(format!(
                "{}: expected field {:?}, got status {} field {} ({})",
                c.what, c.field, reply["status"], error["field"], error["message"]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n{}",
        wrong.len(),
        sent.len(),
        wrong.join("\n")
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
            .all(|r| !r.path.contains("/computes/") && !r.path.contains("/jobs/")),
        "bad input never reaches a compute or a job"
    );
    world.stop().await.unwrap();
}
