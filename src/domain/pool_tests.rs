//! Attached pool state: reading ARM JSON, building PUT bodies, the no-op check, and `az` output.

use serde_json::{Value, json};
use time::macros::datetime;

use super::*;

const SUB: &str = "00000000-0000-0000-0000-000000000001";
const POOL: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.Synapse/workspaces/syn-demo/bigDataPools/sparkpool1";
const ETL: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-etl";
const READER: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-reader";
const COMPUTE_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/poolbroker-demo/providers/Microsoft.MachineLearningServices/workspaces/mlw-demo/computes/sparkpool1";

/// Shaped like reference §1.2, with the RP's lower-case `resourcegroups` echo in the UAI keys.
fn arm_uai_pool() -> Value {
    json!({
        "id": COMPUTE_ID,
        "name": "sparkpool1",
        "type": "Microsoft.MachineLearningServices/workspaces/computes",
        "location": "eastus2",
        "tags": {"team": "data", "env": "dev"},
        "identity": {
            "type": "UserAssigned",
            "userAssignedIdentities": {
                READER.replace("resourceGroups", "resourcegroups"): {"principalId": "p-reader", "clientId": "c-reader"},
                ETL.replace("resourceGroups", "resourcegroups"): {"principalId": "p-etl", "clientId": "c-etl"}
            }
        },
        "properties": {
            "computeType": "SynapseSpark",
            "computeLocation": "eastus2",
            "description": "etl pool",
            "createdOn": "2022-09-13T19:01:05.1098400+00:00",
            "modifiedOn": "2022-09-13T19:01:05.1098400+00:00",
            "resourceId": POOL,
            "provisioningState": "Succeeded",
            "provisioningErrors": null,
            "isAttachedCompute": true,
            "disableLocalAuth": false,
            "properties": {
                "autoScaleProperties": {"minNodeCount": 0, "enabled": false, "maxNodeCount": 0},
                "autoPauseProperties": {"delayInMinutes": 15, "enabled": true},
                "sparkVersion": "3.2",
                "nodeCount": 5,
                "nodeSize": "Small",
                "nodeSizeFamily": "MemoryOptimized",
                "subscriptionId": SUB,
                "resourceGroup": "poolbroker-demo",
                "workspaceName": "syn-demo",
                "poolName": "sparkpool1"
            }
        }
    })
}

fn attach_spec(identity: Option<IdentitySpec>) -> AttachPoolSpec {
    AttachPoolSpec {
        name: ComputeName::parse("sparkpool1").unwrap(),
        resource_id: SynapsePoolId::parse(POOL).unwrap(),
        identity,
        tags: [("team", "data"), ("env", "dev")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        description: Some("etl pool".into()),
        ttl: None,
        grant_synapse_access: true,
    }
}

fn uais(ids: &[&str]) -> IdentitySpec {
    IdentitySpec::build(
        IdentityType::UserAssigned,
        ids.iter()
            .map(|i| UserAssignedIdentityId::parse(i).unwrap())
            .collect(),
    )
    .unwrap()
}

#[test]
fn reads_every_field_of_an_arm_compute() {
    let pool = AttachedPool::from_arm(&arm_uai_pool()).unwrap();
    assert_eq!(pool.name, "sparkpool1");
    assert_eq!(pool.id, COMPUTE_ID);
    assert_eq!(pool.location.as_deref(), Some("eastus2"));
    assert_eq!(pool.tags.keys().collect::<Vec<_>>(), vec!["team", "env"]);
    assert_eq!(pool.description.as_deref(), Some("etl pool"));
    assert_eq!(pool.resource_id.as_deref(), Some(POOL));
    assert_eq!(pool.provisioning_state.as_deref(), Some("Succeeded"));
    assert_eq!(
        pool.created_on,
        Some(datetime!(2022-09-13 19:01:05.10984 UTC))
    );
    assert_eq!(pool.node_count, Some(5));
    assert_eq!(pool.node_size.as_deref(), Some("Small"));
    assert_eq!(pool.node_size_family.as_deref(), Some("MemoryOptimized"));
    assert_eq!(pool.spark_version.as_deref(), Some("3.2"));
    assert_eq!(
        pool.auto_scale,
        Some(AutoScale {
            enabled: Some(false),
            min_node_count: Some(0),
            max_node_count: Some(0)
        })
    );
    assert_eq!(
        pool.auto_pause,
        Some(AutoPause {
            enabled: Some(true),
            delay_in_minutes: Some(15)
        })
    );
    assert_eq!(pool.compute_type, "SynapseSpark");
    assert_eq!(pool.workspace_resource_group(), Some("poolbroker-demo"));
    let identity = pool.identity.unwrap();
    assert_eq!(identity.identity_type, IdentityType::UserAssigned);
    let order: Vec<(&str, Option<&str>)> = identity
        .user_assigned
        .iter()
        .map(|u| (u.resource_id.name(), u.client_id.as_deref()))
        .collect();
    assert_eq!(
        order,
        vec![("uai-reader", Some("c-reader")), ("uai-etl", Some("c-etl"))]
    );
}

#[test]
fn tolerates_missing_optional_fields_and_names_bad_paths() {
    let minimal = json!({"id": COMPUTE_ID, "name": "sparkpool1", "properties": {"computeType": "SynapseSpark"}});
    let pool = AttachedPool::from_arm(&minimal).unwrap();
    assert!(
        pool.identity.is_none()
            && pool.tags.is_empty()
            && pool.node_count.is_none()
            && pool.auto_pause.is_none()
    );
    assert!(pool.expires_at().is_none());

    let err = AttachedPool::from_arm(&json!({"name": 1, "properties": {"properties": {"nodeCount": "five"}, "createdOn": "yesterday"}, "identity": {"type": "Magic"}})).unwrap_err();
    let paths: Vec<&str> = err.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "name",
            "id",
            "identity.type",
            "properties.computeType",
            "properties.createdOn",
            "properties.properties.nodeCount"
        ]
    );
    let err = AttachedPool::from_arm(&json!({"id": COMPUTE_ID, "name": "p", "properties": {"computeType": "SynapseSpark", "createdOn": "yesterday", "properties": {"nodeCount": "five"}}})).unwrap_err();
    let paths: Vec<&str> = err.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["properties.createdOn", "properties.properties.nodeCount"]
    );
    assert!(
        err.to_string()
            .starts_with("unexpected compute resource from ARM: properties.createdOn")
    );
    assert!(AttachedPool::from_arm(&json!([])).is_err());
}

#[test]
fn system_assigned_identity_and_provisioning_error_and_expiry() {
    let mut v = arm_uai_pool();
    v["identity"] = json!({"type": "SystemAssigned", "principalId": "p-sys", "tenantId": "t-1"});
    v["properties"]["provisioningState"] = json!("Failed");
    v["properties"]["provisioningErrors"] =
        json!([{"error": {"code": "SynapsePoolNotFound", "message": "x"}}]);
    v["tags"]["poolbroker-expires-at"] = json!("2025-12-01T18:00:00Z");
    let pool = AttachedPool::from_arm(&v).unwrap();
    let id = pool.identity.as_ref().unwrap();
    assert_eq!(
        (id.principal_id.as_deref(), id.tenant_id.as_deref()),
        (Some("p-sys"), Some("t-1"))
    );
    assert_eq!(
        pool.provisioning_error.as_deref(),
        Some("SynapsePoolNotFound")
    );
    assert_eq!(pool.expires_at(), Some(datetime!(2025-12-01 18:00 UTC)));
}

#[test]
fn put_body_is_exactly_what_azure_ai_ml_sends() {
    let spec = attach_spec(Some(uais(&[READER, ETL])));
    let extra: Tags = [(
        "poolbroker-expires-at".to_string(),
        "2025-12-01T18:00:00Z".to_string(),
    )]
    .into_iter()
    .collect();
    let body = compute_put_body(&spec, "eastus2", &extra);
    let expected = format!(
        r#"{{"location":"eastus2","identity":{{"type":"UserAssigned","userAssignedIdentities":{{"{READER}":{{}},"{ETL}":{{}}}}}},"tags":{{"team":"data","env":"dev","poolbroker-expires-at":"2025-12-01T18:00:00Z"}},"properties":{{"computeType":"SynapseSpark","resourceId":"{POOL}","description":"etl pool"}}}}"#
    );
    assert_eq!(serde_json::to_string(&body).unwrap(), expected);

    let bare = AttachPoolSpec {
        identity: None,
        tags: Tags::new(),
        description: None,
        ..attach_spec(None)
    };
    assert_eq!(
        to_json(&compute_put_body(&bare, "westeurope", &Tags::new())),
        json!({"location": "westeurope", "tags": {}, "properties": {"computeType": "SynapseSpark", "resourceId": POOL}})
    );
    let both = IdentitySpec::build(
        IdentityType::SystemAndUserAssigned,
        vec![UserAssignedIdentityId::parse(ETL).unwrap()],
    )
    .unwrap();
    let body = to_json(&compute_put_body(
        &attach_spec(Some(both)),
        "eastus2",
        &Tags::new(),
    ));
    assert_eq!(body["identity"]["type"], "SystemAssigned,UserAssigned");
    assert_eq!(
        to_json(&compute_put_body(
            &attach_spec(Some(IdentitySpec::None)),
            "eastus2",
            &Tags::new()
        ))["identity"],
        json!({"type": "None"})
    );
    assert!(body["properties"].get("properties").is_none());
}

#[test]
fn ttl_tags_flow_into_the_body() {
    let spec = AttachPoolSpec {
        ttl: Some(Ttl::parse("7d").unwrap()),
        ..attach_spec(None)
    };
    let now = datetime!(2025-12-01 10:00 UTC);
    let body = to_json(&compute_put_body(&spec, "eastus2", &spec.tags_at(now)));
    assert_eq!(
        body["tags"]["poolbroker-expires-at"],
        "2025-12-08T10:00:00Z"
    );
    assert_eq!(
        body["tags"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .map(String::as_str),
        Some("team")
    );
}

#[test]
fn update_identity_body_keeps_everything_else() {
    let pool = AttachedPool::from_arm(&arm_uai_pool()).unwrap();
    let body = to_json(&update_identity_body(&pool, &IdentitySpec::SystemAssigned));
    assert_eq!(
        body,
        json!({
            "location": "eastus2",
            "identity": {"type": "SystemAssigned"},
            "tags": {"team": "data", "env": "dev"},
            "properties": {"computeType": "SynapseSpark", "resourceId": POOL, "description": "etl pool"}
        })
    );
    let body = to_json(&update_identity_body(&pool, &uais(&[ETL])));
    assert_eq!(
        body["identity"],
        json!({"type": "UserAssigned", "userAssignedIdentities": {ETL: {}}})
    );
}

#[test]
fn attach_noop_detects_each_difference() {
    let current = AttachedPool::from_arm(&arm_uai_pool()).unwrap();
    let same = attach_spec(Some(uais(&[READER, ETL])));
    assert!(
        attach_is_noop(&same, &current),
        "identical (UAI casing differs only in keywords)"
    );

    let reordered_tags = AttachPoolSpec {
        tags: [("env", "dev"), ("team", "data")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        ..same.clone()
    };
    assert!(
        attach_is_noop(&reordered_tags, &current),
        "tag order is not a difference"
    );
    let upper_pool = AttachPoolSpec {
        resource_id: SynapsePoolId::parse(&POOL.to_uppercase().replace(
            "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000001",
            &format!("/subscriptions/{SUB}"),
        ))
        .unwrap(),
        ..same.clone()
    };
    assert!(
        attach_is_noop(&upper_pool, &current),
        "resource id case is not a difference"
    );

    let differences = [
        (
            "resource id",
            AttachPoolSpec {
                resource_id: SynapsePoolId::parse(&POOL.replace("sparkpool1", "sparkpool2"))
                    .unwrap(),
                ..same.clone()
            },
        ),
        (
            "uai order",
            AttachPoolSpec {
                identity: Some(uais(&[ETL, READER])),
                ..same.clone()
            },
        ),
        (
            "uai set",
            AttachPoolSpec {
                identity: Some(uais(&[READER])),
                ..same.clone()
            },
        ),
        (
            "identity type",
            AttachPoolSpec {
                identity: Some(IdentitySpec::SystemAssigned),
                ..same.clone()
            },
        ),
        (
            "identity absent",
            AttachPoolSpec {
                identity: None,
                ..same.clone()
            },
        ),
        (
            "tag value",
            AttachPoolSpec {
                tags: [("team", "ml"), ("env", "dev")]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                ..same.clone()
            },
        ),
        (
            "tag removed",
            AttachPoolSpec {
                tags: [("team", "data")]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                ..same.clone()
            },
        ),
        (
            "description",
            AttachPoolSpec {
                description: Some("other".into()),
                ..same.clone()
            },
        ),
        (
            "description removed",
            AttachPoolSpec {
                description: None,
                ..same.clone()
            },
        ),
        (
            "ttl",
            AttachPoolSpec {
                ttl: Some(Ttl::parse("8h").unwrap()),
                ..same.clone()
            },
        ),
    ];
    for (what, desired) in differences {
        assert!(
            !attach_is_noop(&desired, &current),
            "{what} must need a PUT"
        );
    }

    let mut no_identity = arm_uai_pool();
    no_identity.as_object_mut().unwrap().remove("identity");
    let current = AttachedPool::from_arm(&no_identity).unwrap();
    assert!(attach_is_noop(
        &AttachPoolSpec {
            identity: None,
            ..same.clone()
        },
        &current
    ));
    assert!(attach_is_noop(
        &AttachPoolSpec {
            identity: Some(IdentitySpec::None),
            ..same.clone()
        },
        &current
    ));
    assert!(!attach_is_noop(&same, &current));
}

#[test]
fn az_output_matches_the_seed_shape_user_assigned() {
    let pool = AttachedPool::from_arm(&arm_uai_pool()).unwrap();
    let out = az_ml_output(&pool);
    let expected = json!({
        "auto_pause_settings": {"auto_pause_enabled": true, "delay_in_minutes": 15},
        "created_on": "2022-09-13 19:01:05.109840+00:00",
        "description": "etl pool",
        "id": COMPUTE_ID,
        "identity": {
            "type": "user_assigned",
            "user_assigned_identities": [
                {"client_id": "c-reader", "principal_id": "p-reader", "resource_id": READER.replace("resourceGroups", "resourcegroups")},
                {"client_id": "c-etl", "principal_id": "p-etl", "resource_id": ETL.replace("resourceGroups", "resourcegroups")}
            ]
        },
        "location": "eastus2",
        "name": "sparkpool1",
        "node_count": 5,
        "node_family": "MemoryOptimized",
        "node_size": "Small",
        "provisioning_state": "Succeeded",
        "resourceGroup": "poolbroker-demo",
        "resource_id": POOL,
        "scale_settings": {"auto_scale_enabled": false, "max_node_count": 0, "min_node_count": 0},
        "spark_version": "3.2",
        "tags": {"env": "dev", "team": "data"},
        "type": "synapsespark"
    });
    assert_eq!(out, expected);
    // Key order is az's (sorted, `resourceGroup` before `resource_id`), nested maps included.
    assert_eq!(
        serde_json::to_string(&out).unwrap(),
        serde_json::to_string(&expected).unwrap()
    );
}

#[test]
fn az_output_system_assigned_and_minimal() {
    let mut v = arm_uai_pool();
    v["identity"] = json!({"type": "SystemAssigned", "principalId": "p-sys", "tenantId": "t-1"});
    v["properties"]["createdOn"] = json!("2022-09-13T20:02:15Z");
    v.as_object_mut().unwrap().remove("tags");
    let out = az_ml_output(&AttachedPool::from_arm(&v).unwrap());
    assert_eq!(
        out["identity"],
        json!({"principal_id": "p-sys", "tenant_id": "t-1", "type": "system_assigned"})
    );
    assert_eq!(out["created_on"], "2022-09-13 20:02:15+00:00");
    assert!(out.get("tags").is_none());

    let minimal = json!({"id": COMPUTE_ID, "name": "sparkpool1", "properties": {"computeType": "SynapseSpark", "createdOn": "2022-09-13T20:02:15.5-07:30"}});
    let out = az_ml_output(&AttachedPool::from_arm(&minimal).unwrap());
    let keys: Vec<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        vec!["created_on", "id", "name", "resourceGroup", "type"]
    );
    assert_eq!(out["created_on"], "2022-09-13 20:02:15.500000-07:30");
}
