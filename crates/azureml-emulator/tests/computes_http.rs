//! Compute attach / update / show / list / detach over real HTTP.

mod common;

use common::{API, error_code, header, start, test_config};
use poolbroker_azureml_emulator::{EmulatorConfig, uai_client_id, uai_principal_id};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn attach_with_two_uais_keeps_key_order_and_completes_through_the_lro() {
    let emu = start(EmulatorConfig {
        operation_duration: std::time::Duration::from_secs(10),
        ..test_config()
    })
    .await;
    // Second UAI first, and with a lower-case `resourcegroups`: order and spelling are the caller's.
    let second = emu.uai(1).replace("resourceGroups", "resourcegroups");
    let first = emu.uai(0);
    let identity = json!({"type": "UserAssigned", "userAssignedIdentities": {second.clone(): {}, first.clone(): {}}});
    let resp = emu
        .put(
            &emu.compute_url("sparkattach"),
            &emu.attach_body(0, identity),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let op_url = header(&resp, "azure-asyncoperation");
    assert!(
        op_url.starts_with(&emu.base),
        "absolute URL on our host: {op_url}"
    );
    assert!(op_url.contains(
        "/providers/Microsoft.MachineLearningServices/locations/eastus2/computeOperationsStatus/"
    ));
    assert_eq!(header(&resp, "retry-after"), "0");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["properties"]["provisioningState"], "Creating");
    let uais = body["identity"]["userAssignedIdentities"]
        .as_object()
        .unwrap();
    assert_eq!(
        uais.keys().cloned().collect::<Vec<_>>(),
        vec![second.clone(), first.clone()]
    );
    assert_eq!(
        uais[&second]["clientId"],
        uai_client_id(&emu.uai(1)).to_string()
    );
    assert_eq!(
        uais[&first]["principalId"],
        uai_principal_id(&first).to_string()
    );
    let pool = &body["properties"]["properties"];
    assert_eq!(pool["sparkVersion"], "3.4");
    assert_eq!(pool["poolName"], "sparkpool1");
    assert_eq!(pool["workspaceName"], "syn-demo");
    assert_eq!(pool["nodeSizeFamily"], "MemoryOptimized");

    let shown: Value = emu
        .get(&emu.compute_url("sparkattach"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["properties"]["provisioningState"], "Creating");

    emu.state.advance_clock(std::time::Duration::from_secs(10));
    let op: Value = emu.get(&op_url).await.json().await.unwrap();
    assert_eq!(op["status"], "Succeeded");
    assert!(op["endTime"].is_string());
    let shown: Value = emu
        .get(&emu.compute_url("sparkattach"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["properties"]["provisioningState"], "Succeeded");
    let stored = emu.state.compute(&emu.ws_path(), "sparkattach").unwrap();
    let keys: Vec<_> = stored["identity"]["userAssignedIdentities"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, vec![second, first]);
}

#[tokio::test]
async fn put_on_existing_compute_is_an_update_with_200_and_updating() {
    let emu = start(EmulatorConfig {
        operation_duration: std::time::Duration::from_secs(10),
        ..test_config()
    })
    .await;
    emu.attach_done(
        "pool-a",
        1,
        json!({"type": "UserAssigned", "userAssignedIdentities": {emu.uai(0): {}}}),
    )
    .await;
    let before = emu.state.compute(&emu.ws_path(), "pool-a").unwrap();
    let mut body = emu.attach_body(1, json!({"type": "SystemAssigned"}));
    body["tags"] = json!({"team": "data"});
    let resp = emu.put(&emu.compute_url("pool-a"), &body).await;
    assert_eq!(resp.status(), 200);
    let op_url = header(&resp, "azure-asyncoperation");
    let updated: Value = resp.json().await.unwrap();
    assert_eq!(updated["properties"]["provisioningState"], "Updating");
    assert_eq!(
        updated["properties"]["createdOn"],
        before["properties"]["createdOn"]
    );
    assert_eq!(
        updated["tags"],
        json!({"team": "data"}),
        "PUT replaces tags"
    );
    assert_eq!(updated["identity"]["type"], "SystemAssigned");
    assert!(updated["identity"]["principalId"].is_string());
    assert!(updated["identity"].get("userAssignedIdentities").is_none());

    // A second PUT while the update runs is refused.
    let (status, code, _) = error_code(emu.put(&emu.compute_url("pool-a"), &body).await).await;
    assert_eq!((status, code.as_str()), (409, "Conflict"));

    emu.state.advance_clock(std::time::Duration::from_secs(10));
    let op: Value = emu.get(&op_url).await.json().await.unwrap();
    assert_eq!(op["status"], "Succeeded");
    let shown: Value = emu
        .get(&emu.compute_url("pool-a"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        shown["identity"]["principalId"],
        updated["identity"]["principalId"]
    );
}

#[tokio::test]
async fn list_pages_with_an_absolute_next_link() {
    let emu = start(EmulatorConfig {
        page_size: 2,
        ..test_config()
    })
    .await;
    let names = ["poola", "poolb", "poolc", "poold", "poole"];
    for n in names {
        let resp = emu
            .put(
                &emu.compute_url(n),
                &emu.attach_body(0, json!({"type": "SystemAssigned"})),
            )
            .await;
        assert_eq!(resp.status(), 201);
    }
    let mut url = format!("{}{}/computes?{API}", emu.base, emu.ws_path());
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page: Value = emu.get(&url).await.json().await.unwrap();
        pages += 1;
        for c in page["value"].as_array().unwrap() {
            assert_eq!(c["properties"]["provisioningState"], "Succeeded");
            seen.push(c["name"].as_str().unwrap().to_owned());
        }
        match page.get("nextLink").and_then(Value::as_str) {
            Some(next) => {
                assert!(next.starts_with(&emu.base), "{next}");
                assert!(
                    next.contains("api-version=2025-12-01") && next.contains("$skip="),
                    "{next}"
                );
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, names);
    let (status, _, _) = error_code(
        emu.get(&format!(
            "{}{}/computes?{API}&$skip=garbage",
            emu.base,
            emu.ws_path()
        ))
        .await,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn detach_requires_the_action_then_202_then_gone_then_204() {
    let emu = start(EmulatorConfig {
        operation_duration: std::time::Duration::from_secs(30),
        ..test_config()
    })
    .await;
    emu.attach_done("pool-d", 0, json!({"type": "SystemAssigned"}))
        .await;
    let base = emu.compute_url("pool-d");

    let (status, code, msg) = error_code(emu.delete(&base).await).await;
    assert_eq!((status, code.as_str()), (400, "UserError"));
    assert!(msg.contains("underlyingResourceAction"), "{msg}");
    let (status, _, msg) = error_code(
        emu.delete(&format!("{base}&underlyingResourceAction=Delete"))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(msg.contains("Detach"), "{msg}");
    let (status, _, _) = error_code(
        emu.delete(&format!("{base}&underlyingResourceAction=Remove"))
            .await,
    )
    .await;
    assert_eq!(status, 400);

    let resp = emu
        .delete(&format!("{base}&underlyingResourceAction=Detach"))
        .await;
    assert_eq!(resp.status(), 202);
    let location = header(&resp, "location");
    header(&resp, "azure-asyncoperation");
    assert_eq!(header(&resp, "retry-after"), "0");
    let shown: Value = emu.get(&base).await.json().await.unwrap();
    assert_eq!(shown["properties"]["provisioningState"], "Deleting");

    let first = emu.get(&location).await;
    assert_eq!(first.status(), 202);
    emu.state.advance_clock(std::time::Duration::from_secs(29));
    assert_eq!(
        emu.get(&location).await.status(),
        202,
        "not yet: 29 of 30 s"
    );
    emu.state.advance_clock(std::time::Duration::from_secs(1));
    // The operation finished on the clock; reading the compute shows it, no poll needed.
    let (status, code, _) = error_code(emu.get(&base).await).await;
    assert_eq!((status, code.as_str()), (404, "NotFound"));
    let second = emu.get(&location).await;
    assert_eq!(second.status(), 204);
    let (status, code, _) = error_code(emu.get(&base).await).await;
    assert_eq!((status, code.as_str()), (404, "NotFound"));
    assert_eq!(
        emu.delete(&format!("{base}&underlyingResourceAction=Detach"))
            .await
            .status(),
        204
    );

    let actions: Vec<Option<String>> = emu
        .state
        .delete_actions()
        .into_iter()
        .map(|d| d.underlying_resource_action)
        .collect();
    assert_eq!(
        actions,
        [
            None,
            Some("Delete"),
            Some("Remove"),
            Some("Detach"),
            Some("Detach")
        ]
        .map(|a| a.map(String::from))
        .to_vec()
    );
}

#[tokio::test]
async fn attach_validation_errors_use_the_arm_error_envelope() {
    let emu = start(test_config()).await;
    let ok_identity = json!({"type": "SystemAssigned"});
    let cases: Vec<(&str, Value, &str)> = vec![
        ("pool-1", emu.attach_body(0, ok_identity.clone()), "computeName"),
        ("spark", { let mut b = emu.attach_body(0, ok_identity.clone()); b["location"] = json!("westus"); b }, "location"),
        ("spark", { let mut b = emu.attach_body(0, ok_identity.clone()); b["properties"]["computeType"] = json!("AKS"); b }, "properties.computeType"),
        ("spark", { let mut b = emu.attach_body(0, ok_identity.clone()); b["properties"]["resourceId"] = json!(emu.pool_id(0).replace("sparkpool1", "nopool")); b }, "properties.resourceId"),
        ("spark", emu.attach_body(0, json!({"type": "Managed"})), "identity.type"),
        ("spark", emu.attach_body(0, json!({"type": "UserAssigned"})), "identity.userAssignedIdentities"),
        ("spark", emu.attach_body(0, json!({"type": "UserAssigned", "userAssignedIdentities": {"/subscriptions/x/uai": {}}})), "identity.userAssignedIdentities['/subscriptions/x/uai']"),
        ("spark", emu.attach_body(0, json!({"type": "UserAssigned", "userAssignedIdentities": {emu.uai(0): {"foo": 1}}})), ""),
        ("spark", emu.attach_body(0, json!({"type": "SystemAssigned", "userAssignedIdentities": {emu.uai(0): {}}})), "identity.userAssignedIdentities"),
    ];
    for (name, body, target) in cases {
        let resp = emu.put(&emu.compute_url(name), &body).await;
        assert_eq!(resp.status(), 400, "{name} {body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], "UserError", "{err}");
        if !target.is_empty() {
            assert_eq!(err["error"]["target"], target, "{err}");
        }
        assert!(err["error"]["details"].is_array());
    }
    let resp = emu
        .req(Method::PUT, &emu.compute_url("spark"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_code(resp).await;
    assert_eq!((status, code.as_str()), (400, "InvalidRequestContent"));
    assert!(emu.state.compute(&emu.ws_path(), "spark").is_none());
}

#[tokio::test]
async fn missing_workspace_and_resource_group_use_arm_404s() {
    let emu = start(test_config()).await;
    let sub = &emu.seed.subscription_id;
    let url = format!(
        "{}/subscriptions/{sub}/resourceGroups/poolbroker-demo/providers/Microsoft.MachineLearningServices/workspaces/nope/computes/x?{API}",
        emu.base
    );
    let (status, code, msg) = error_code(emu.get(&url).await).await;
    assert_eq!((status, code.as_str()), (404, "ResourceNotFound"));
    assert_eq!(
        msg,
        "The Resource 'Microsoft.MachineLearningServices/workspaces/nope' under resource group 'poolbroker-demo' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
    );
    let url = format!(
        "{}/subscriptions/{sub}/resourceGroups/other/providers/Microsoft.MachineLearningServices/workspaces/ml-demo?{API}",
        emu.base
    );
    let (status, code, msg) = error_code(emu.get(&url).await).await;
    assert_eq!(
        (status, code.as_str(), msg.as_str()),
        (
            404,
            "ResourceGroupNotFound",
            "Resource group 'other' could not be found."
        )
    );
    // ARM paths are case-insensitive.
    let url = format!(
        "{}/subscriptions/{sub}/resourcegroups/POOLBROKER-DEMO/providers/microsoft.machinelearningservices/workspaces/ml-demo?{API}",
        emu.base
    );
    let ws: Value = emu.get(&url).await.json().await.unwrap();
    assert_eq!(ws["location"], "eastus2");
    assert_eq!(ws["identity"]["type"], "SystemAssigned,UserAssigned");
}

#[tokio::test]
async fn synapse_pool_get_uses_its_own_api_versions() {
    let emu = start(test_config()).await;
    let pool = emu.pool_id(1);
    let body: Value = emu
        .get(&format!("{}{pool}?api-version=2021-06-01", emu.base))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["properties"]["sparkVersion"], "3.3");
    assert_eq!(
        body["properties"]["autoPause"],
        json!({"enabled": true, "delayInMinutes": 15})
    );
    assert_eq!(body["type"], "Microsoft.Synapse/workspaces/bigDataPools");
    let (status, code, _) = error_code(emu.get(&format!("{}{pool}?{API}", emu.base)).await).await;
    assert_eq!((status, code.as_str()), (400, "InvalidApiVersionParameter"));
    let missing = pool.replace("sparkpool2", "gone");
    let (status, code, _) = error_code(
        emu.get(&format!("{}{missing}?api-version=2021-06-01", emu.base))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "ResourceNotFound"));
}
