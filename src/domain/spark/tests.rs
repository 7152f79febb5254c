//! Every selection, identity, naming and spec rule of the Spark job module.

use serde_json::{Value, json};

use super::*;
use crate::domain::{AttachedPool, WorkspaceId};

const WS: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.MachineLearningServices/workspaces/ml-demo";

fn ws() -> WorkspaceId {
    WorkspaceId::parse(WS).unwrap()
}

fn uai(name: &str) -> String {
    format!(
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    )
}

fn client_id(name: &str) -> String {
    // Any stable GUID per identity will do for the rules under test.
    format!(
        "00000000-0000-0000-0000-{:012}",
        name.len() * 1000 + name.as_bytes()[name.len() - 1] as usize
    )
}

fn pool_with(name: &str, state: &str, version: &str, identity: Value, tags: Value) -> AttachedPool {
    let mut v = json!({
        "name": name,
        "id": format!("{WS}/computes/{name}"),
        "tags": tags,
        "properties": {
            "computeType": "SynapseSpark",
            "provisioningState": state,
            "properties": {"sparkVersion": version}
        }
    });
    if !identity.is_null() {
        v["identity"] = identity;
    }
    AttachedPool::from_arm(&v).unwrap()
}

fn pool(name: &str, state: &str, version: &str) -> AttachedPool {
    pool_with(name, state, version, Value::Null, json!({}))
}

fn uai_identity(names: &[&str]) -> Value {
    let map: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| {
            (
                uai(n),
                json!({"clientId": client_id(n), "principalId": client_id(n)}),
            )
        })
        .collect();
    json!({"type": "UserAssigned", "userAssignedIdentities": map})
}

fn base() -> Value {
    json!({
        "type": "spark",
        "code": "azureml:sales-etl:1",
        "entry": {"file": "etl.py"},
        "driver_cores": 1, "driver_memory": "2g",
        "executor_cores": 2, "executor_memory": "2g", "executor_instances": 2
    })
}

fn with(extra: Value) -> Value {
    let mut v = base();
    for (k, x) in extra.as_object().unwrap() {
        if x.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = x.clone();
        }
    }
    v
}

fn spec(extra: Value) -> SparkJobSpec {
    SparkJobSpec::parse(&with(extra), "spec").unwrap_or_else(|e| panic!("{e}"))
}

fn errors(extra: Value) -> Vec<String> {
    match SparkJobSpec::parse(&with(extra), "spec") {
        Ok(s) => panic!("expected errors, parsed {s:?}"),
        Err(e) => e.fields().iter().map(ToString::to_string).collect(),
    }
}

fn one_error(extra: Value) -> String {
    let errs = errors(extra);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    errs.into_iter().next().unwrap()
}

fn defaults() -> SparkDefaults {
    SparkDefaults::default()
}

// ---------------------------------------------------------------- spec

#[test]
fn minimal_spec_folds_sizing_into_conf_in_order() {
    let s = spec(json!({"conf": {"spark.sql.shuffle.partitions": 8, "spark.x.flag": true}}));
    assert_eq!(
        s.code,
        AssetRef::Versioned {
            name: "sales-etl".into(),
            version: "1".into()
        }
    );
    assert_eq!(
        s.entry,
        Entry::Python {
            file: "etl.py".into()
        }
    );
    assert_eq!(s.compute, ComputeRequest::Auto);
    assert_eq!(s.fallback, Fallback::Serverless);
    let conf: Vec<(&str, &str)> = s
        .conf
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        conf,
        [
            ("spark.sql.shuffle.partitions", "8"),
            ("spark.x.flag", "true"),
            ("spark.driver.cores", "1"),
            ("spark.driver.memory", "2g"),
            ("spark.executor.cores", "2"),
            ("spark.executor.memory", "2g"),
            ("spark.executor.instances", "2"),
        ]
    );
}

#[test]
fn sizing_may_come_from_conf_alone_and_must_agree_when_in_both() {
    let s = spec(json!({
        "driver_cores": null, "driver_memory": null, "executor_cores": null,
        "executor_memory": null, "executor_instances": null,
        "conf": {"spark.driver.cores": "1", "spark.driver.memory": "1g", "spark.executor.cores": 1,
                 "spark.executor.memory": "1g", "spark.executor.instances": 1}
    }));
    assert_eq!(s.conf["spark.driver.memory"], "1g");
    assert_eq!(
        one_error(json!({"conf": {"spark.driver.cores": "4"}})),
        "spec.driver_cores: 1 conflicts with spec.conf.spark.driver.cores = '4'; set it in one place"
    );
}

#[test]
fn missing_sizing_and_dynamic_allocation_rules() {
    assert_eq!(
        one_error(json!({"executor_instances": null})),
        "spec.executor_instances: is required (Spark jobs need driver_cores, driver_memory, executor_cores, executor_memory and executor_instances, or dynamic allocation with min/max executors); or set conf spark.executor.instances"
    );
    let dynamic = json!({"executor_instances": null, "dynamic_allocation_enabled": true,
        "dynamic_allocation_min_executors": 1, "dynamic_allocation_max_executors": 4});
    let s = spec(dynamic.clone());
    assert_eq!(s.conf["spark.dynamicAllocation.enabled"], "true");
    assert_eq!(s.conf["spark.dynamicAllocation.maxExecutors"], "4");
    assert_eq!(
        one_error(
            json!({"dynamic_allocation_enabled": true, "dynamic_allocation_min_executors": 1})
        ),
        "spec.dynamic_allocation_max_executors: is required with dynamic allocation; or set conf spark.dynamicAllocation.maxExecutors"
    );
    assert_eq!(
        one_error(
            json!({"dynamic_allocation_enabled": true, "dynamic_allocation_min_executors": 5,
            "dynamic_allocation_max_executors": 4})
        ),
        "spec.dynamic_allocation_min_executors: dynamic allocation needs 0 < min_executors <= max_executors; got 5 and 4"
    );
    assert_eq!(
        one_error(
            json!({"dynamic_allocation_enabled": true, "dynamic_allocation_min_executors": 3,
            "dynamic_allocation_max_executors": 4})
        ),
        "spec.executor_instances: 2 must be between min_executors 3 and max_executors 4"
    );
    assert_eq!(
        one_error(json!({"driver_cores": 0})),
        "spec.driver_cores: expected a whole number of at least 1, got 0"
    );
    assert_eq!(
        one_error(json!({"driver_memory": "2gb"})),
        "spec.driver_memory: expected a size with a unit like 2g or 512m (k, m, g or t), got '2gb'"
    );
    assert!(one_error(json!({"executor_memory": "2é"})).starts_with("spec.executor_memory:"));
}

#[test]
fn code_references() {
    let code = |c: &str| spec(json!({"code": c})).code;
    let arm = format!("{WS}/codes/sales-etl/versions/3");
    assert_eq!(code(&arm), AssetRef::Id(arm.clone()));
    assert_eq!(code(&format!("azureml:{arm}")), AssetRef::Id(arm.clone()));
    assert_eq!(
        code("https://acct.blob.core.windows.net/code/etl"),
        AssetRef::Id("https://acct.blob.core.windows.net/code/etl".into())
    );
    assert_eq!(
        code("azureml://registries/shared/codes/etl/versions/2"),
        AssetRef::Id("azureml://registries/shared/codes/etl/versions/2".into())
    );
    assert_eq!(
        code("azureml:sales-etl:1").arm_id(&ws(), "codes"),
        format!("{WS}/codes/sales-etl/versions/1")
    );
    assert_eq!(
        one_error(json!({"code": "./src"})),
        "spec.code: './src' looks like a local path: the broker does not upload local folders: register the code as an asset (az ml code create) and reference it as azureml:NAME:VERSION"
    );
    assert!(
        one_error(json!({"code": "azureml:sales-etl@latest"}))
            .contains("pin a version: azureml:sales-etl:VERSION")
    );
    assert_eq!(
        one_error(json!({"code": "azureml:sales-etl"})),
        "spec.code: 'azureml:sales-etl' has no version; write azureml:sales-etl:VERSION"
    );
    assert!(
        one_error(json!({"code": format!("{WS}/environments/e/versions/1")}))
            .contains("is not an asset version id")
    );
    assert!(one_error(json!({"code": "azureml:bad name:1"})).starts_with("spec.code: asset name"));
    assert!(one_error(json!({"environment": "./env.yml"})).contains("az ml environment create"));
    assert_eq!(
        spec(json!({"environment": "azureml:spark-env:2"}))
            .environment
            .unwrap()
            .arm_id(&ws(), "environments"),
        format!("{WS}/environments/spark-env/versions/2")
    );
}

#[test]
fn entry_is_exactly_one_of_file_or_class_name() {
    assert_eq!(
        spec(json!({"entry": {"class_name": "com.contoso.Etl"}})).entry,
        Entry::Scala {
            class_name: "com.contoso.Etl".into()
        }
    );
    assert_eq!(
        one_error(json!({"entry": {"file": "a.py", "class_name": "B"}})),
        "spec.entry: set exactly one of file or class_name, not both"
    );
    assert_eq!(
        one_error(json!({"entry": {}})),
        "spec.entry: set exactly one of file (Python) or class_name (Scala/Java)"
    );
    assert_eq!(
        one_error(json!({"entry": {"file": "a.py", "module": "x"}})),
        "spec.entry.module: unknown field 'module'; allowed fields: file, class_name"
    );
}

#[test]
fn unknown_fields_are_named_and_all_errors_reported() {
    let errs = errors(json!({"colour": "red", "type": "command", "fallback": "maybe"}));
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert!(errs[0].starts_with(
        "spec.colour: unknown field 'colour'; allowed fields: $schema, type, name, code"
    ));
    assert_eq!(errs[1], "spec.type: expected spark; got 'command'");
    assert_eq!(
        errs[2],
        "spec.fallback: expected serverless or none; got 'maybe'"
    );
    // `$schema` from az ml YAML files is accepted.
    spec(json!({"$schema": "https://azuremlschemas.azureedge.net/latest/sparkJob.schema.json"}));
}

#[test]
fn inputs_and_outputs_are_direct_data_or_literals() {
    let s = spec(json!({
        "inputs": {"sales": {"type": "uri_file", "path": "azureml://datastores/workspaceblobstore/paths/sales.csv", "mode": "direct"},
                   "threshold": 0.5},
        "outputs": {"report": {"type": "uri_folder"}}
    }));
    assert_eq!(s.inputs["threshold"], JobInput::Literal("0.5".into()));
    assert_eq!(s.outputs["report"].path, None);
    assert_eq!(
        one_error(
            json!({"inputs": {"sales": {"type": "uri_file", "path": "x", "mode": "ro_mount"}}})
        ),
        "spec.inputs.sales.mode: Spark jobs only accept mode direct; got 'ro_mount'"
    );
    assert_eq!(
        one_error(json!({"outputs": {"model": {"type": "mlflow_model"}}})),
        "spec.outputs.model.type: Spark jobs read and write uri_file, uri_folder, mltable; got 'mlflow_model'"
    );
    assert_eq!(
        one_error(json!({"inputs": {"sales": {"type": "uri_file"}}})),
        "spec.inputs.sales.path: is required"
    );
    assert_eq!(
        one_error(json!({"inputs": {"bad-name": 1}})),
        "spec.inputs.bad-name: names are letters, digits and '_', starting with a letter or '_'"
    );
}

#[test]
fn resources_compute_identity_and_preferences() {
    let s = spec(
        json!({"resources": {"instance_type": "Standard_E8S_V3", "runtime_version": 3.3},
        "compute": "azureml:spark-a", "pool_preference": ["spark-b"], "workload": "etl"}),
    );
    assert_eq!(
        s.resources.instance_type.unwrap().as_str(),
        "standard_e8s_v3"
    );
    assert_eq!(s.resources.runtime_version.unwrap().to_string(), "3.3");
    assert!(matches!(&s.compute, ComputeRequest::Named(n) if n.as_str() == "spark-a"));
    assert_eq!(
        s.fallback,
        Fallback::None,
        "an explicit compute does not fall back by default"
    );
    assert_eq!(s.pool_preference[0].as_str(), "spark-b");
    assert_eq!(
        one_error(json!({"resources": {"instance_type": "standard_d4s_v3"}})),
        "spec.resources.instance_type: 'standard_d4s_v3' is not a serverless Spark instance type; expected one of standard_e4s_v3, standard_e8s_v3, standard_e16s_v3, standard_e32s_v3, standard_e64s_v3"
    );
    assert_eq!(
        one_error(json!({"resources": {"runtime_version": "3"}})),
        "spec.resources.runtime_version: expected a Spark version like 3.4 (major.minor); got '3'"
    );
    assert_eq!(
        spec(json!({"identity": {"type": "managed", "resource_id": uai("uai-etl")}})).identity,
        Some(RequestedIdentity::Managed {
            resource_id: Some(
                crate::domain::UserAssignedIdentityId::parse(&uai("uai-etl")).unwrap()
            ),
            client_id: None
        })
    );
    assert_eq!(
        one_error(json!({"identity": {"type": "user_identity", "client_id": "x"}})),
        "spec.identity: client_id and resource_id only go with type managed, not user_identity"
    );
    assert_eq!(
        one_error(json!({"identity": {"type": "managed", "client_id": "not-a-guid"}})),
        "spec.identity.client_id: expected a GUID, got 'not-a-guid'"
    );
    assert_eq!(
        one_error(json!({"identity": {"type": "service_principal"}})),
        "spec.identity.type: expected one of user_identity, managed, aml_token; got 'service_principal'"
    );
    assert!(
        one_error(json!({"pool_preference": ["okay", "x"]}))
            .starts_with("spec.pool_preference[1]:")
    );
    assert!(
        one_error(json!({"tags": {"poolbroker-compute-decision": "x"}}))
            .contains("reserved for poolbroker")
    );
}

// ---------------------------------------------------------------- compute selection

fn decide(s: &SparkJobSpec, pools: &[AttachedPool]) -> Result<ComputeDecision, SparkJobError> {
    decide_compute(s, pools, &defaults())
}

fn pool_name(d: &ComputeDecision) -> &str {
    match &d.target {
        ComputeTarget::Pool { name, .. } => name,
        other => panic!("expected a pool, got {other:?}"),
    }
}

fn assert_serverless(d: &ComputeDecision, instance: &str, runtime: &str) {
    match &d.target {
        ComputeTarget::Serverless {
            instance_type,
            runtime_version,
        } => {
            assert_eq!(instance_type.as_str(), instance);
            assert_eq!(runtime_version.to_string(), runtime);
        }
        other => panic!("expected serverless, got {other:?}"),
    }
}

#[test]
fn explicit_compute_is_honoured_when_healthy() {
    let pools = [
        pool("spark-a", "Succeeded", "3.4"),
        pool("spark-b", "Succeeded", "3.3"),
    ];
    let d = decide(&spec(json!({"compute": "spark-b"})), &pools).unwrap();
    assert_eq!(pool_name(&d), "spark-b");
    assert_eq!(d.reason, "pool spark-b as requested (Spark 3.3)");
    assert_eq!(
        d.target,
        ComputeTarget::Pool {
            name: "spark-b".into(),
            compute_id: format!("{WS}/computes/spark-b")
        }
    );
}

#[test]
fn explicit_compute_errors_are_specific() {
    let pools = [
        pool("spark-a", "Updating", "3.4"),
        pool("spark-b", "Succeeded", "3.3"),
    ];
    let err = decide(&spec(json!({"compute": "spark-x"})), &pools).unwrap_err();
    assert_eq!(err.code(), "PoolNotFound");
    assert_eq!(
        err.to_string(),
        "spec.compute: pool spark-x is not attached (attached Spark pools: spark-a, spark-b); choose another compute, or set fallback: serverless"
    );
    let err = decide(&spec(json!({"compute": "spark-a"})), &pools).unwrap_err();
    assert_eq!(err.code(), "PoolNotReady");
    assert!(
        err.to_string().contains("pool spark-a is Updating"),
        "{err}"
    );
    let err = decide(
        &spec(json!({"compute": "spark-b", "resources": {"runtime_version": "3.4"}})),
        &pools,
    )
    .unwrap_err();
    assert_eq!(err.code(), "RuntimeMismatch");
    assert!(
        err.to_string()
            .contains("pool spark-b runs Spark 3.3, the job needs 3.4"),
        "{err}"
    );
    let mut aml = pool("cpu-a", "Succeeded", "3.4");
    aml.compute_type = "AmlCompute".into();
    let err = decide(&spec(json!({"compute": "cpu-a"})), &[aml]).unwrap_err();
    assert_eq!(err.code(), "ComputeNotSparkPool");
}

#[test]
fn explicit_compute_falls_back_to_serverless_when_asked() {
    for (pools, why) in [
        (
            vec![pool("spark-a", "Updating", "3.4")],
            "pool spark-a is Updating",
        ),
        (
            vec![pool("spark-a", "Failed", "3.4")],
            "pool spark-a is Failed",
        ),
        (vec![], "pool spark-a is not attached"),
    ] {
        let d = decide(
            &spec(json!({"compute": "spark-a", "fallback": "serverless"})),
            &pools,
        )
        .unwrap();
        assert_serverless(&d, "standard_e4s_v3", "3.4");
        assert_eq!(
            d.reason,
            format!("{why}; fell back to serverless (standard_e4s_v3, Spark 3.4)")
        );
    }
}

#[test]
fn auto_takes_the_first_eligible_pool_in_preference_order() {
    let pools = [
        pool("spark-a", "Updating", "3.4"),
        pool("spark-b", "Succeeded", "3.3"),
        pool("spark-c", "Succeeded", "3.4"),
    ];
    let d = decide(
        &spec(json!({"pool_preference": ["spark-x", "spark-a", "spark-c", "spark-b"]})),
        &pools,
    )
    .unwrap();
    assert_eq!(pool_name(&d), "spark-c");
    assert_eq!(
        d.reason,
        "pool spark-c: first eligible pool in pool_preference (Spark 3.4) (skipped: pool spark-x is not attached; pool spark-a is Updating)"
    );
    // The runtime filter: spark-b (3.3) comes first but the job needs 3.4.
    let d = decide(
        &spec(json!({"pool_preference": ["spark-b", "spark-c"], "resources": {"runtime_version": "3.4"}})),
        &pools,
    )
    .unwrap();
    assert_eq!(pool_name(&d), "spark-c");
    assert!(
        d.reason
            .contains("pool spark-b runs Spark 3.3, the job needs 3.4"),
        "{}",
        d.reason
    );
}

#[test]
fn auto_falls_back_to_serverless_with_the_reasons() {
    let pools = [
        pool("spark-a", "Updating", "3.4"),
        pool("spark-b", "Succeeded", "3.3"),
    ];
    let d = decide(
        &spec(json!({"pool_preference": ["spark-a", "spark-b"], "resources": {"runtime_version": "3.4", "instance_type": "standard_e8s_v3"}})),
        &pools,
    )
    .unwrap();
    assert_serverless(&d, "standard_e8s_v3", "3.4");
    assert_eq!(
        d.reason,
        "no eligible pool (pool spark-a is Updating; pool spark-b runs Spark 3.3, the job needs 3.4); fell back to serverless (standard_e8s_v3, Spark 3.4)"
    );
    let d = decide(&spec(json!({})), &pools).unwrap();
    assert_eq!(
        d.reason,
        "no pool_preference or workload given; fell back to serverless (standard_e4s_v3, Spark 3.4)"
    );
    let err = decide(
        &spec(json!({"pool_preference": ["spark-a"], "fallback": "none"})),
        &pools,
    )
    .unwrap_err();
    assert_eq!(err.code(), "NoEligiblePool");
    assert_eq!(
        err.to_string(),
        "spec.compute: no eligible pool (pool spark-a is Updating), and fallback is none"
    );
}

#[test]
fn auto_by_workload_tag_in_name_order() {
    let tagged = |name: &str, state: &str, w: &str| {
        pool_with(name, state, "3.4", Value::Null, json!({WORKLOAD_TAG: w}))
    };
    let pools = [
        tagged("spark-z", "Succeeded", "etl"),
        tagged("spark-m", "Succeeded", "ml"),
        tagged("spark-b", "Succeeded", "ETL"),
        tagged("spark-a", "Creating", "etl"),
    ];
    let d = decide(&spec(json!({"workload": "etl"})), &pools).unwrap();
    assert_eq!(pool_name(&d), "spark-b");
    assert_eq!(
        d.reason,
        "pool spark-b: first eligible pool tagged poolbroker-workload=etl (Spark 3.4) (skipped: pool spark-a is Creating)"
    );
    let d = decide(&spec(json!({"workload": "bi"})), &pools).unwrap();
    assert_eq!(
        d.reason,
        "no pool tagged poolbroker-workload=bi; fell back to serverless (standard_e4s_v3, Spark 3.4)"
    );
    // An explicit preference wins over the workload tag.
    let d = decide(
        &spec(json!({"workload": "etl", "pool_preference": ["spark-m"]})),
        &pools,
    )
    .unwrap();
    assert_eq!(pool_name(&d), "spark-m");
}

#[test]
fn serverless_runtime_and_defaults_are_validated() {
    let err = decide(&spec(json!({"resources": {"runtime_version": "3.2"}})), &[]).unwrap_err();
    assert_eq!(err.code(), "UnsupportedRuntime");
    assert_eq!(err.fields()[0].path, "spec.resources.runtime_version");
    // A 3.2 pool can still run a 3.2 job.
    let d = decide(
        &spec(json!({"resources": {"runtime_version": "3.2"}, "pool_preference": ["old"]})),
        &[pool("old", "Succeeded", "3.2")],
    )
    .unwrap();
    assert_eq!(pool_name(&d), "old");
    let custom = SparkDefaults::from_lookup(|k| match k {
        ENV_SPARK_INSTANCE_TYPE => Some("standard_e16s_v3".into()),
        ENV_SPARK_RUNTIME_VERSION => Some("3.3".into()),
        _ => None,
    })
    .unwrap();
    let d = decide_compute(&spec(json!({})), &[], &custom).unwrap();
    assert_serverless(&d, "standard_e16s_v3", "3.3");
}

// ---------------------------------------------------------------- identity

fn identity_for(requested: Value, pool: &AttachedPool) -> Result<IdentityChoice, SparkJobError> {
    let s = spec(json!({"identity": requested}));
    let target = ComputeTarget::Pool {
        name: pool.name.clone(),
        compute_id: pool.id.clone(),
    };
    choose_identity(
        s.identity.as_ref(),
        &target,
        std::slice::from_ref(pool),
        &ServerlessIdentityDefault::UserIdentity,
    )
}

#[test]
fn first_user_assigned_identity_of_the_pool_by_default() {
    // Not alphabetical: the pool's own order decides.
    let p = pool_with(
        "spark-a",
        "Succeeded",
        "3.4",
        uai_identity(&["uai-etl", "uai-reader"]),
        json!({}),
    );
    let c = identity_for(Value::Null, &p).unwrap();
    assert_eq!(
        c.identity.to_arm(),
        json!({"identityType": "Managed", "resourceId": uai("uai-etl"), "clientId": client_id("uai-etl")})
    );
    assert_eq!(
        c.description,
        "managed uai-etl (first user-assigned identity of spark-a)"
    );
    let p = pool_with(
        "spark-a",
        "Succeeded",
        "3.4",
        uai_identity(&["uai-reader", "uai-etl"]),
        json!({}),
    );
    assert_eq!(
        identity_for(Value::Null, &p).unwrap().identity.to_arm()["resourceId"],
        uai("uai-reader")
    );
}

#[test]
fn an_explicit_identity_wins_and_must_be_attached() {
    let p = pool_with(
        "spark-a",
        "Succeeded",
        "3.4",
        uai_identity(&["uai-etl", "uai-reader"]),
        json!({}),
    );
    let c = identity_for(
        json!({"type": "managed", "resource_id": uai("uai-reader")}),
        &p,
    )
    .unwrap();
    assert_eq!(
        c.identity.to_arm(),
        json!({"identityType": "Managed", "resourceId": uai("uai-reader"), "clientId": client_id("uai-reader")})
    );
    assert_eq!(
        c.description,
        "managed uai-reader (requested; attached to spark-a)"
    );
    // By client id alone; the resource id is filled in from the pool.
    let c = identity_for(
        json!({"type": "managed", "client_id": client_id("uai-reader")}),
        &p,
    )
    .unwrap();
    assert_eq!(c.identity.to_arm()["resourceId"], uai("uai-reader"));

    let err = identity_for(
        json!({"type": "managed", "resource_id": uai("uai-other")}),
        &p,
    )
    .unwrap_err();
    assert_eq!(err.code(), "IdentityNotAttached");
    assert_eq!(err.fields()[0].path, "spec.identity.resource_id");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "the user-assigned identity {} is not attached to compute spark-a",
            uai("uai-other")
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "attached: {} (client id {})",
            uai("uai-etl"),
            client_id("uai-etl")
        )),
        "{text}"
    );
    assert!(text.contains(&uai("uai-reader")), "{text}");

    let c = identity_for(json!({"type": "user_identity"}), &p).unwrap();
    assert_eq!(c.identity.to_arm(), json!({"identityType": "UserIdentity"}));
    let c = identity_for(json!({"type": "aml_token"}), &p).unwrap();
    assert_eq!(c.identity.to_arm(), json!({"identityType": "AMLToken"}));
    // `managed` without ids on a UAI-only pool: its first UAI.
    let c = identity_for(json!({"type": "managed"}), &p).unwrap();
    assert_eq!(c.identity.to_arm()["resourceId"], uai("uai-etl"));
}

#[test]
fn system_assigned_and_identity_less_pools() {
    let system = pool_with(
        "spark-s",
        "Succeeded",
        "3.4",
        json!({"type": "SystemAssigned", "principalId": "p"}),
        json!({}),
    );
    let c = identity_for(Value::Null, &system).unwrap();
    assert_eq!(c.identity.to_arm(), json!({"identityType": "Managed"}));
    assert_eq!(c.description, "managed system-assigned identity of spark-s");
    let c = identity_for(json!({"type": "managed"}), &system).unwrap();
    assert_eq!(c.identity.to_arm(), json!({"identityType": "Managed"}));
    let err = identity_for(
        json!({"type": "managed", "resource_id": uai("uai-etl")}),
        &system,
    )
    .unwrap_err();
    assert!(err.to_string().ends_with("attached: none"), "{err}");

    let bare = pool("spark-n", "Succeeded", "3.4");
    let c = identity_for(Value::Null, &bare).unwrap();
    assert_eq!(c.identity.to_arm(), json!({"identityType": "UserIdentity"}));
    assert_eq!(
        c.description,
        "user identity (spark-n has no managed identity)"
    );
    assert_eq!(
        identity_for(json!({"type": "managed"}), &bare)
            .unwrap_err()
            .code(),
        "IdentityNotAttached"
    );
}

#[test]
fn serverless_identity_is_the_command_s_or_the_setting_s() {
    let target = ComputeTarget::Serverless {
        instance_type: defaults().instance_type,
        runtime_version: defaults().runtime_version,
    };
    let pick = |requested: Value, default: &ServerlessIdentityDefault| {
        let s = spec(json!({"identity": requested}));
        choose_identity(s.identity.as_ref(), &target, &[], default)
    };
    let user = ServerlessIdentityDefault::UserIdentity;
    let c = pick(Value::Null, &user).unwrap();
    assert_eq!(c.identity.to_arm(), json!({"identityType": "UserIdentity"}));
    assert_eq!(c.description, "user identity (serverless default)");
    let c = pick(json!({"type": "aml_token"}), &user).unwrap();
    assert_eq!(c.identity.to_arm(), json!({"identityType": "AMLToken"}));
    let c = pick(
        json!({"type": "managed", "resource_id": uai("uai-poolbroker-1")}),
        &user,
    )
    .unwrap();
    assert_eq!(
        c.identity.to_arm(),
        json!({"identityType": "Managed", "resourceId": uai("uai-poolbroker-1")})
    );
    assert_eq!(
        pick(json!({"type": "managed"}), &user).unwrap_err().code(),
        "IdentityNotAttached"
    );
    let from_settings = SparkDefaults::from_lookup(|k| {
        (k == ENV_SERVERLESS_IDENTITY).then(|| uai("uai-poolbroker-2"))
    })
    .unwrap();
    let c = pick(Value::Null, &from_settings.serverless_identity).unwrap();
    assert_eq!(c.identity.to_arm()["resourceId"], uai("uai-poolbroker-2"));
    assert!(c.description.contains("POOLBROKER_SERVERLESS_IDENTITY"));
}

// ---------------------------------------------------------------- naming

#[test]
fn job_names_are_deterministic_per_workspace_and_key() {
    let a = derive_job_name(&ws(), "key-1");
    assert_eq!(a, derive_job_name(&ws(), "key-1"));
    assert_ne!(a, derive_job_name(&ws(), "key-2"));
    let other = WorkspaceId::parse(&WS.replace("ml-demo", "ml-other")).unwrap();
    assert_ne!(a, derive_job_name(&other, "key-1"));
    let upper = WorkspaceId::parse(
        &WS.to_uppercase()
            .replace("/SUBSCRIPTIONS/", "/subscriptions/"),
    )
    .unwrap();
    assert_eq!(
        a,
        derive_job_name(&upper, "key-1"),
        "workspace ids compare ignoring case"
    );
    let s = a.as_str();
    assert_eq!(s.len(), 27);
    assert!(
        s.starts_with("pb-")
            && s[3..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{s}"
    );
    assert!(JobName::parse(s).is_ok());
}

#[test]
fn job_name_rules_and_key_precedence() {
    assert!(JobName::parse("etl-nightly_1").is_ok());
    assert!(JobName::parse("-x").is_err());
    assert!(JobName::parse("a.b").is_err());
    assert!(JobName::parse(&"a".repeat(256)).is_err());
    assert!(JobName::parse(&"a".repeat(255)).is_ok());
    let plain = spec(json!({}));
    let (n, src) = job_name_for(&plain, &ws(), Some("k"), Some("m")).unwrap();
    assert_eq!(
        (n, src),
        (
            derive_job_name(&ws(), "k"),
            JobKeySource::IdempotencyKey("k".into())
        )
    );
    let (n, src) = job_name_for(&plain, &ws(), None, Some("m")).unwrap();
    assert_eq!(
        (n, src),
        (
            derive_job_name(&ws(), "m"),
            JobKeySource::MessageId("m".into())
        )
    );
    let named = spec(json!({"name": "etl-2025-12-01"}));
    let (n, src) = job_name_for(&named, &ws(), Some("k"), Some("m")).unwrap();
    assert_eq!(
        (n.as_str(), src),
        ("etl-2025-12-01", JobKeySource::SpecName)
    );
    let err = job_name_for(&plain, &ws(), None, None).unwrap_err();
    assert_eq!(err.code(), "IdempotencyKeyMissing");
    assert_eq!(
        one_error(json!({"name": "bad name"})).split(':').next(),
        Some("spec.name")
    );
}

// ---------------------------------------------------------------- body and plan

fn plan(s: &SparkJobSpec, pools: &[AttachedPool]) -> JobPlan {
    plan_job(
        s,
        &PlanInput {
            workspace: &ws(),
            pools,
            defaults: &defaults(),
            idempotency_key: Some("nightly-2025-12-01"),
            message_id: Some("mid-1"),
            correlation_id: "corr-1",
        },
    )
    .unwrap()
}

#[test]
fn pool_body_has_compute_id_identity_and_decision_tags() {
    let p = pool_with(
        "spark-a",
        "Succeeded",
        "3.4",
        uai_identity(&["uai-etl"]),
        json!({}),
    );
    let s = spec(json!({
        "args": "--in ${{inputs.sales}}",
        "inputs": {"sales": {"type": "uri_file", "path": "azureml://datastores/d/paths/s.csv"}},
        "outputs": {"report": {"type": "uri_folder", "path": "azureml://datastores/d/paths/r/"}},
        "environment": "azureml:spark-env:2",
        "pool_preference": ["spark-a"],
        "py_files": ["util.py"],
        "tags": {"team": "sales"},
        "display_name": "nightly etl"
    }));
    let plan = plan(&s, &[p]);
    assert_eq!(plan.job_name, derive_job_name(&ws(), "nightly-2025-12-01"));
    let body = &crate::domain::to_json(&plan.body)["properties"];
    assert_eq!(body["jobType"], "Spark");
    assert_eq!(body["codeId"], format!("{WS}/codes/sales-etl/versions/1"));
    assert_eq!(
        body["environmentId"],
        format!("{WS}/environments/spark-env/versions/2")
    );
    assert_eq!(
        body["entry"],
        json!({"sparkJobEntryType": "SparkJobPythonEntry", "file": "etl.py"})
    );
    assert_eq!(body["pyFiles"], json!(["util.py"]));
    assert_eq!(body["computeId"], format!("{WS}/computes/spark-a"));
    assert!(body.get("resources").is_none());
    assert_eq!(body["identity"]["resourceId"], uai("uai-etl"));
    assert_eq!(
        body["conf"]["spark.executor.instances"], "2",
        "conf values are strings"
    );
    assert_eq!(
        body["inputs"]["sales"],
        json!({"jobInputType": "uri_file", "uri": "azureml://datastores/d/paths/s.csv", "mode": "Direct"})
    );
    assert_eq!(body["outputs"]["report"]["jobOutputType"], "uri_folder");
    assert_eq!(body["outputs"]["report"]["mode"], "Direct");
    assert_eq!(body["experimentName"], "poolbroker");
    assert_eq!(body["displayName"], "nightly etl");
    let tags = &body["tags"];
    assert_eq!(tags["team"], "sales");
    assert_eq!(tags[TAG_COMPUTE_DECISION], json!(plan.compute.reason));
    assert_eq!(
        tags[TAG_IDENTITY],
        "managed uai-etl (first user-assigned identity of spark-a)"
    );
    assert_eq!(tags[TAG_IDEMPOTENCY_KEY], "nightly-2025-12-01");
    assert_eq!(tags[TAG_CORRELATION_ID], "corr-1");
}

#[test]
fn serverless_body_has_resources_and_no_compute_id_and_is_deterministic() {
    let s = spec(json!({"entry": {"class_name": "com.contoso.Etl"}, "jars": ["etl.jar"]}));
    let a = plan(&s, &[]);
    assert_eq!(a.body, plan(&s, &[]).body, "same inputs, same body");
    let body = &crate::domain::to_json(&a.body)["properties"];
    assert!(body.get("computeId").is_none());
    assert_eq!(
        body["resources"],
        json!({"instanceType": "standard_e4s_v3", "runtimeVersion": "3.4"})
    );
    assert_eq!(body["identity"], json!({"identityType": "UserIdentity"}));
    assert_eq!(
        body["entry"],
        json!({"sparkJobEntryType": "SparkJobScalaEntry", "className": "com.contoso.Etl"})
    );
}

#[test]
fn the_decision_tag_is_cut_to_arm_s_limit() {
    let names: Vec<String> = (0..40).map(|i| format!("missing-pool{i:02}x")).collect();
    let s = spec(json!({"pool_preference": names}));
    let plan = plan(&s, &[]);
    assert!(plan.compute.reason.chars().count() > 256);
    let body = crate::domain::to_json(&plan.body);
    let tag = body["properties"]["tags"][TAG_COMPUTE_DECISION]
        .as_str()
        .unwrap();
    assert_eq!(tag.chars().count(), 256);
    assert!(tag.ends_with('…'));
}

// ---------------------------------------------------------------- settings and view

#[test]
fn settings_defaults_and_errors() {
    let d = SparkDefaults::from_lookup(|_| None).unwrap();
    assert_eq!(d.instance_type.as_str(), "standard_e4s_v3");
    assert_eq!(d.runtime_version.to_string(), "3.4");
    assert_eq!(
        d.serverless_identity,
        ServerlessIdentityDefault::UserIdentity
    );
    assert_eq!(d.poll_interval.as_secs(), 30);
    let bad = |k: &'static str, v: &'static str| {
        SparkDefaults::from_lookup(move |name| (name == k).then(|| v.to_owned())).unwrap_err()
    };
    assert_eq!(
        bad(ENV_SPARK_INSTANCE_TYPE, "tiny").name,
        ENV_SPARK_INSTANCE_TYPE
    );
    assert_eq!(
        bad(ENV_SPARK_RUNTIME_VERSION, "3.2").problem,
        "serverless Spark runs 3.3 or 3.4"
    );
    assert_eq!(bad(ENV_JOB_POLL_SECS, "0").name, ENV_JOB_POLL_SECS);
    assert!(
        bad(ENV_SERVERLESS_IDENTITY, "someone")
            .problem
            .starts_with("expected user_identity, aml_token")
    );
    let aml =
        SparkDefaults::from_lookup(|k| (k == ENV_SERVERLESS_IDENTITY).then(|| "AML_TOKEN".into()))
            .unwrap();
    assert_eq!(aml.serverless_identity, ServerlessIdentityDefault::AmlToken);
}

#[test]
fn job_view_reads_status_compute_identity_and_studio_url() {
    let resource = json!({
        "name": "pb-1",
        "properties": {
            "status": "Failed",
            "computeId": format!("{WS}/computes/spark-a"),
            "identity": {"identityType": "Managed", "resourceId": uai("uai-etl")},
            "services": {"Studio": {"endpoint": "https://ml.azure.com/runs/pb-1"}},
            "error": {"code": "SparkError", "message": "boom"},
            "tags": {TAG_COMPUTE_DECISION: "pool spark-a as requested"}
        }
    });
    let v = SparkJobView::from_arm(&resource).unwrap();
    assert!(v.is_terminal() && !v.is_completed());
    assert_eq!(v.compute_summary(), "pool spark-a");
    let f = v.reply_fields();
    assert_eq!(f["jobName"], "pb-1");
    assert_eq!(f["jobStatus"], "Failed");
    assert_eq!(
        f["compute"],
        json!({"type": "pool", "name": "spark-a", "id": format!("{WS}/computes/spark-a")})
    );
    assert_eq!(f["computeReason"], "pool spark-a as requested");
    assert_eq!(f["identity"], "managed uai-etl");
    assert_eq!(f["studioUrl"], "https://ml.azure.com/runs/pb-1");
    assert_eq!(
        f["jobError"],
        json!({"code": "SparkError", "message": "boom"})
    );

    let serverless = SparkJobView::from_arm(&json!({"name": "pb-2", "properties": {
        "status": "Running", "resources": {"instanceType": "standard_e4s_v3", "runtimeVersion": "3.4"},
        "identity": {"identityType": "AMLToken"}}}))
    .unwrap();
    assert!(!serverless.is_terminal());
    assert_eq!(
        serverless.compute_summary(),
        "serverless (standard_e4s_v3, Spark 3.4)"
    );
    assert_eq!(serverless.identity_description(), "AML token");
    assert!(SparkJobView::from_arm(&json!({"properties": {}})).is_none());
}

// ---------------------------------------------------------------- examples/jobs

fn example_yaml(text: &str) -> SparkJobSpec {
    let value: Value = serde_yaml_ng::from_str(text).unwrap();
    SparkJobSpec::parse(&value, "").unwrap_or_else(|e| panic!("{e}"))
}

fn example_envelope(text: &str) -> (crate::domain::Envelope, SparkJobSpec) {
    let env = crate::domain::parse_command(text.as_bytes(), None).unwrap();
    let crate::domain::Command::SubmitSparkJob(raw) = &env.command else {
        panic!("not a SubmitSparkJob: {env:?}");
    };
    let spec = SparkJobSpec::parse(&raw.0, "spec").unwrap_or_else(|e| panic!("{e}"));
    (env, spec)
}

#[test]
fn the_job_examples_parse_and_plan_as_documented() {
    let sparkpool1 = pool_with(
        "sparkpool1",
        "Succeeded",
        "3.4",
        uai_identity(&["uai-poolbroker-1", "uai-poolbroker-2"]),
        json!({}),
    );
    let pools = [sparkpool1, pool("sparkpool2", "Succeeded", "3.3")];

    let pool_job = example_yaml(include_str!("../../../examples/jobs/pool-job.yml"));
    let p = plan(&pool_job, &pools);
    assert_eq!(pool_name(&p.compute), "sparkpool1");
    assert_eq!(
        p.identity.description,
        "managed uai-poolbroker-1 (first user-assigned identity of sparkpool1)"
    );
    assert_eq!(
        crate::domain::to_json(&p.body)["properties"]["experimentName"],
        "sales-etl"
    );

    let serverless_job = example_yaml(include_str!("../../../examples/jobs/serverless-job.yml"));
    let p = plan(&serverless_job, &pools);
    assert_serverless(&p.compute, "standard_e8s_v3", "3.4");
    assert_eq!(
        crate::domain::to_json(&p.body)["properties"]["conf"]["spark.dynamicAllocation.maxExecutors"],
        "4"
    );
    assert_eq!(
        crate::domain::to_json(&p.body)["properties"]["identity"],
        json!({"identityType": "UserIdentity"})
    );

    let (env, spec) = example_envelope(include_str!("../../../examples/jobs/submit-pool-job.json"));
    assert_eq!(env.idempotency_key.as_deref(), Some("sales-etl-2025-12-01"));
    assert_eq!(spec.fallback, Fallback::Serverless);
    assert_eq!(pool_name(&plan(&spec, &pools).compute), "sparkpool1");
    let updating = [pool("sparkpool1", "Updating", "3.4")];
    assert!(
        plan(&spec, &updating)
            .compute
            .reason
            .starts_with("pool sparkpool1 is Updating; fell back to serverless")
    );

    let (_, spec) = example_envelope(include_str!(
        "../../../examples/jobs/submit-serverless-job.json"
    ));
    let p = plan(&spec, &pools);
    assert_serverless(&p.compute, "standard_e4s_v3", "3.4");
    assert_eq!(
        crate::domain::to_json(&p.body)["properties"]["identity"]["resourceId"],
        uai("uai-poolbroker-1")
    );

    let cancel = crate::domain::parse_command(
        include_bytes!("../../../examples/jobs/cancel-job.json"),
        None,
    )
    .unwrap();
    assert_eq!(cancel.command.kind(), "CancelSparkJob");
}
