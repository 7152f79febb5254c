//! ARM conventions over real HTTP: api-version, auth, MI endpoint, headers, throttling, faults,
//! request recording.

mod common;

use common::{API, error_code, header, start, test_config};
use poolbroker_azureml_emulator::{
    BucketLimit, EmulatorConfig, FaultKind, FaultRule, ThrottleLimits, uai_client_id,
};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn api_version_is_required_and_validated() {
    let emu = start(test_config()).await;
    let ws = format!("{}{}", emu.base, emu.ws_path());
    let (status, code, msg) =
        error_code(emu.get(&format!("{ws}?api-version=2019-01-01")).await).await;
    assert_eq!((status, code.as_str()), (400, "InvalidApiVersionParameter"));
    assert!(
        msg.starts_with("The api-version '2019-01-01' is invalid. The supported versions are '2026-01-15-preview,2025-12-01,2025-10-01-preview,"),
        "{msg}"
    );
    // Every version azure-ai-ml 1.35.2 sends for workspaces and jobs is served.
    for v in ["2023-08-01-preview", "2024-10-01-preview"] {
        assert_eq!(
            emu.get(&format!("{ws}?api-version={v}")).await.status(),
            200,
            "{v}"
        );
    }
    for v in ["2023-04-01-preview", "2024-01-01-preview", "2023-04-01"] {
        assert_eq!(
            emu.get(&format!("{ws}/jobs?api-version={v}"))
                .await
                .status(),
            200,
            "{v}"
        );
    }
    // Jobs did not exist before 2021-03-01-preview.
    let (status, code, _) =
        error_code(emu.get(&format!("{ws}/jobs?api-version=2021-01-01")).await).await;
    assert_eq!((status, code.as_str()), (400, "InvalidApiVersionParameter"));
    let (status, code, _) = error_code(emu.get(&ws).await).await;
    assert_eq!((status, code.as_str()), (400, "MissingApiVersionParameter"));
    assert_eq!(
        emu.get(&format!("{ws}?api-version=2024-10-01"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn arm_routes_need_a_live_management_token() {
    let emu = start(test_config()).await;
    let url = format!("{}{}?{API}", emu.base, emu.ws_path());
    let resp = emu.client.get(&url).send().await.unwrap();
    assert!(header(&resp, "www-authenticate").starts_with("Bearer authorization_uri="));
    let (status, code, _) = error_code(resp).await;
    assert_eq!((status, code.as_str()), (401, "AuthenticationFailed"));

    let expired = emu
        .state
        .issue_token_with_lifetime("https://management.azure.com/", Duration::ZERO);
    let (status, code, _) = error_code(
        emu.client
            .get(&url)
            .bearer_auth(expired)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (401, "ExpiredAuthenticationToken"));

    let storage = emu.state.issue_token("https://storage.azure.com");
    let (status, code, msg) = error_code(
        emu.client
            .get(&url)
            .bearer_auth(storage)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (401, "InvalidAuthenticationTokenAudience")
    );
    assert!(msg.contains("https://storage.azure.com"), "{msg}");

    let (status, code, _) = error_code(
        emu.client
            .get(&url)
            .bearer_auth("made-up")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (401, "InvalidAuthenticationToken"));

    let trailing_slash = emu.state.issue_token("https://management.azure.com/");
    assert_eq!(
        emu.client
            .get(&url)
            .bearer_auth(trailing_slash)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn tokens_expire_on_the_emulator_clock() {
    let emu = start(test_config()).await;
    let url = format!("{}{}?{API}", emu.base, emu.ws_path());
    let token = emu
        .state
        .issue_token_with_lifetime("https://management.azure.com", Duration::from_secs(60));
    assert_eq!(
        emu.client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    emu.state.advance_clock(Duration::from_secs(61));
    let (status, code, _) = error_code(
        emu.client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (401, "ExpiredAuthenticationToken"));
}

#[tokio::test]
async fn managed_identity_endpoint_checks_the_identity_header() {
    let emu = start(test_config()).await;
    let msi = format!(
        "{}/msi/token?api-version=2019-08-01&resource=https://management.azure.com",
        emu.base
    );
    let resp = emu
        .client
        .get(&msi)
        .header("x-identity-header", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = emu.client.get(&msi).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let resp = emu
        .client
        .get(&msi)
        .header("x-identity-header", "test-identity-secret")
        .header("metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let tok: Value = resp.json().await.unwrap();
    let expires_on = tok["expires_on"].as_str().expect("expires_on is a string");
    assert!(expires_on.parse::<u64>().unwrap() > 1_700_000_000);
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["resource"], "https://management.azure.com");
    let access = tok["access_token"].as_str().unwrap();
    let url = format!("{}{}?{API}", emu.base, emu.ws_path());
    assert_eq!(
        emu.client
            .get(&url)
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let cid = uai_client_id(&emu.uai(1)).to_string();
    let tok: Value = emu
        .client
        .get(format!("{msi}&client_id={cid}"))
        .header("x-identity-header", "test-identity-secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tok["client_id"], cid);
    let resp = emu
        .client
        .get(format!(
            "{msi}&client_id=00000000-0000-0000-0000-00000000dead"
        ))
        .header("x-identity-header", "test-identity-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let recorded = emu.state.requests();
    assert!(recorded.iter().all(|r| {
        r.headers
            .get("x-identity-header")
            .is_none_or(|v| v == "REDACTED")
    }));
}

#[tokio::test]
async fn responses_carry_arm_headers() {
    let emu = start(test_config()).await;
    let url = format!("{}{}?{API}", emu.base, emu.ws_path());
    let resp = emu
        .req(Method::GET, &url)
        .header("x-ms-correlation-request-id", "corr-1")
        .header("x-ms-client-request-id", "client-1")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&resp, "x-ms-correlation-request-id"), "corr-1");
    assert_eq!(header(&resp, "x-ms-client-request-id"), "client-1");
    assert!(!header(&resp, "x-ms-request-id").is_empty());
    assert!(header(&resp, "x-ms-routing-request-id").starts_with("EASTUS2:"));
    assert_eq!(header(&resp, "cache-control"), "no-cache");
    assert_eq!(
        header(&resp, "content-type"),
        "application/json; charset=utf-8"
    );
    let other = emu.get(&url).await;
    assert_ne!(header(&other, "x-ms-correlation-request-id"), "corr-1");
}

#[tokio::test]
async fn subscription_buckets_throttle_with_retry_after() {
    let small = BucketLimit {
        capacity: 2,
        refill_per_sec: 0.5,
    };
    let emu = start(EmulatorConfig {
        throttling: true,
        throttle_limits: ThrottleLimits {
            reads: small,
            writes: small,
            deletes: small,
        },
        ..test_config()
    })
    .await;
    let url = format!("{}{}?{API}", emu.base, emu.ws_path());
    let first = emu.get(&url).await;
    assert_eq!(
        header(&first, "x-ms-ratelimit-remaining-subscription-reads"),
        "1"
    );
    let second = emu.get(&url).await;
    assert_eq!(
        header(&second, "x-ms-ratelimit-remaining-subscription-reads"),
        "0"
    );
    let third = emu.get(&url).await;
    assert_eq!(header(&third, "retry-after"), "2");
    let (status, code, msg) = error_code(third).await;
    assert_eq!(
        (status, code.as_str()),
        (429, "SubscriptionRequestsThrottled")
    );
    assert!(
        msg.contains("Number of 'read' requests for subscription"),
        "{msg}"
    );
    // Writes have their own bucket.
    let put = emu
        .put(
            &emu.compute_url("spark"),
            &emu.attach_body(0, json!({"type": "SystemAssigned"})),
        )
        .await;
    assert_eq!(put.status(), 201);
    assert_eq!(
        header(&put, "x-ms-ratelimit-remaining-subscription-writes"),
        "1"
    );
}

#[tokio::test]
async fn injected_faults_fire_the_given_number_of_times() {
    let emu = start(test_config()).await;
    let list = format!("{}{}/computes?{API}", emu.base, emu.ws_path());
    emu.state.inject(FaultRule {
        method: Some(Method::GET),
        path_contains: String::from("/computes"),
        kind: FaultKind::Status {
            status: 503,
            code: String::from("ServiceUnavailable"),
            message: String::from("try later"),
        },
        times: 1,
    });
    let resp = emu.get(&list).await;
    header(&resp, "x-ms-request-id");
    let (status, code, _) = error_code(resp).await;
    assert_eq!((status, code.as_str()), (503, "ServiceUnavailable"));
    assert_eq!(emu.get(&list).await.status(), 200);

    // Over HTTP, without auth.
    let rule = json!({"method": "GET", "path_contains": "/computes", "kind": {"type": "Throttle", "retry_after_secs": 7}, "times": 1});
    assert_eq!(
        emu.client
            .post(format!("{}/_emulator/faults", emu.base))
            .json(&rule)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let resp = emu.get(&list).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "retry-after"), "7");

    emu.state.inject(FaultRule {
        method: None,
        path_contains: String::from("/computes"),
        kind: FaultKind::Reset,
        times: 1,
    });
    assert!(
        emu.req(Method::GET, &list).send().await.is_err(),
        "connection dropped"
    );
    assert_eq!(emu.get(&list).await.status(), 200);

    emu.state.inject(FaultRule {
        method: None,
        path_contains: String::from("/computes"),
        kind: FaultKind::Delay { ms: 30 },
        times: 1,
    });
    let started = std::time::Instant::now();
    assert_eq!(emu.get(&list).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(30));
}

#[tokio::test]
async fn lro_failure_ends_the_operation_failed() {
    let emu = start(test_config()).await;
    emu.state.inject(FaultRule {
        method: Some(Method::PUT),
        path_contains: String::from("/computes/broken"),
        kind: FaultKind::LroFailure {
            code: String::from("InternalServerError"),
            message: String::from("pool unreachable"),
        },
        times: 1,
    });
    let resp = emu
        .put(
            &emu.compute_url("broken"),
            &emu.attach_body(0, json!({"type": "SystemAssigned"})),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let op: Value = emu
        .get(&header(&resp, "azure-asyncoperation"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(op["status"], "Failed");
    assert_eq!(
        op["error"],
        json!({"code": "InternalServerError", "message": "pool unreachable"})
    );
    let shown: Value = emu
        .get(&emu.compute_url("broken"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["properties"]["provisioningState"], "Failed");
    assert_eq!(
        shown["properties"]["provisioningErrors"][0]["error"]["code"],
        "InternalServerError"
    );
}

#[tokio::test]
async fn requests_are_recorded_with_authorization_redacted() {
    let emu = start(test_config()).await;
    let body = emu.attach_body(0, json!({"type": "SystemAssigned"}));
    emu.put(&emu.compute_url("spark"), &body).await;
    let recorded: Vec<Value> = emu
        .client
        .get(format!("{}/_emulator/requests", emu.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(recorded.len(), 1, "control calls are not recorded");
    assert_eq!(recorded[0]["method"], "PUT");
    assert_eq!(
        recorded[0]["path"],
        format!("{}/computes/spark", emu.ws_path())
    );
    assert_eq!(recorded[0]["query"], "api-version=2025-12-01");
    assert_eq!(recorded[0]["headers"]["authorization"], "REDACTED");
    assert_eq!(recorded[0]["body"], body);
    assert_eq!(
        emu.client
            .delete(format!("{}/_emulator/requests", emu.base))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert!(emu.state.requests().is_empty());

    assert_eq!(
        emu.client
            .post(format!("{}/_emulator/reset", emu.base))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        emu.get(&format!("{}{}?{API}", emu.base, emu.ws_path()))
            .await
            .status(),
        404
    );
    let seed: Value = emu
        .client
        .post(format!("{}/_emulator/seed-demo", emu.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seed["workspaceId"], emu.ws_path());
    assert_eq!(
        emu.get(&format!("{}{}?{API}", emu.base, emu.ws_path()))
            .await
            .status(),
        200
    );
}
