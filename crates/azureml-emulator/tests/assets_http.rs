//! Code assets, `startPendingUpload` and the blob endpoint behind it, the local CA, and the token
//! checks a custom-cloud client relies on — over real HTTPS.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{error_code, start, test_config};
use poolbroker_azureml_emulator::LocalTls;
use reqwest::Method;
use serde_json::{Value, json};

const CODE_API: &str = "api-version=2023-04-01";

#[tokio::test]
async fn the_local_ca_is_made_once_and_reused() {
    let dir = std::env::temp_dir().join(format!("pb-emu-ca-{}", uuid_like()));
    let first = LocalTls::load_or_create(&dir).expect("generated");
    let pem = std::fs::read_to_string(first.ca_cert_path()).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let again = LocalTls::load_or_create(&dir).expect("loaded");
    assert_eq!(
        std::fs::read_to_string(again.ca_cert_path()).unwrap(),
        pem,
        "a second run keeps the CA a shell already trusts"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_cannot_connect() {
    let emu = start(test_config()).await;
    let err = reqwest::Client::new()
        .get(format!("{}/subscriptions", emu.base))
        .send()
        .await
        .expect_err("unknown CA");
    assert!(err.is_connect() || err.is_request(), "{err:?}");
}

fn jwt(claims: Value) -> String {
    format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[tokio::test]
async fn any_tenant_jwt_for_arm_or_the_emulator_origin_is_accepted_others_get_arm_401s() {
    let emu = start(test_config()).await;
    let url = format!("{}{}?api-version=2025-12-01", emu.base, emu.ws_path());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let tenant = poolbroker_azureml_emulator::TENANT_ID;
    let claims = |aud: &str, iss: String| {
        json!({"aud": aud, "iss": iss, "iat": now, "nbf": now - 60, "exp": now + 600,
               "tid": tenant, "oid": "o", "appid": "a"})
    };
    let v1 = format!("https://sts.windows.net/{tenant}/");
    let v2 = format!("https://login.microsoftonline.com/{tenant}/v2.0");
    for (aud, iss) in [
        ("https://management.azure.com/", v1.clone()),
        ("https://management.core.windows.net", v2.clone()),
        (&format!("{}/", emu.base) as &str, v1.clone()),
    ] {
        let resp = emu
            .client
            .get(&url)
            .bearer_auth(jwt(claims(aud, iss)))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "aud {aud}");
    }
    let cases = [
        (
            claims(
                "https://management.azure.com",
                "https://sts.windows.net/other/".into(),
            ),
            "InvalidAuthenticationTokenTenant",
        ),
        (
            claims("https://vault.azure.net", v1.clone()),
            "InvalidAuthenticationTokenAudience",
        ),
        (
            json!({"aud": "https://management.azure.com", "iss": v1, "iat": now, "nbf": now, "exp": now - 1}),
            "ExpiredAuthenticationToken",
        ),
        (
            json!({"aud": "https://management.azure.com", "iss": v2, "iat": now, "nbf": now + 3600, "exp": now + 7200}),
            "InvalidAuthenticationToken",
        ),
    ];
    for (c, code) in cases {
        let resp = emu
            .client
            .get(&url)
            .bearer_auth(jwt(c))
            .send()
            .await
            .unwrap();
        assert!(resp.headers().contains_key("www-authenticate"));
        let (status, got, msg) = error_code(resp).await;
        assert_eq!((status, got.as_str()), (401, code), "{msg}");
    }
}

#[tokio::test]
async fn code_upload_through_start_pending_upload_and_the_blob_endpoint() {
    let emu = start(test_config()).await;
    let versions = format!("{}{}/codes/etl/versions", emu.base, emu.ws_path());

    // Nothing under the name yet: the hash lookup finds nothing (and says 200).
    let found: Value = emu
        .get(&format!(
            "{versions}?{CODE_API}&hash=abc&hashVersion=202208"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["value"], json!([]));

    let resp = emu
        .req(
            Method::POST,
            &format!("{versions}/1/startPendingUpload?{CODE_API}"),
        )
        .json(&json!({"pendingUploadType": "TemporaryBlobReference"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let upload: Value = resp.json().await.unwrap();
    let blob_ref = &upload["blobReferenceForConsumption"];
    let container = blob_ref["blobUri"].as_str().unwrap().to_owned();
    let sas = blob_ref["credential"]["sasUri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(container.starts_with(&format!("{}/poolbrokerlocal/", emu.base)));
    let query = sas.split_once('?').unwrap().1.to_owned();

    // Put Blob with the SAS, then its metadata, then read it back.
    let blob = format!("{container}/LocalUpload/abc/src/etl.py");
    let put = emu
        .client
        .put(format!("{blob}?{query}"))
        .header("x-ms-blob-type", "BlockBlob")
        .body("print('hi')\n")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    assert!(put.headers().contains_key("etag"));
    let meta = emu
        .client
        .put(format!("{blob}?comp=metadata&{query}"))
        .header("x-ms-meta-upload_status", "completed")
        .send()
        .await
        .unwrap();
    assert_eq!(meta.status(), 200);
    let head = emu
        .client
        .head(format!("{blob}?{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["x-ms-meta-upload_status"], "completed");
    assert_eq!(head.headers()["content-length"], "12");
    let exists_again = emu
        .client
        .put(format!("{blob}?{query}"))
        .header("x-ms-blob-type", "BlockBlob")
        .header("if-none-match", "*")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(exists_again.status(), 409);

    // Blocks, then the block list.
    for (id, part) in [("YQ==", "ab"), ("Yg==", "cd")] {
        let r = emu
            .client
            .put(format!(
                "{container}/big.bin?comp=block&blockid={id}&{query}"
            ))
            .body(part)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let list = emu
        .client
        .put(format!("{container}/big.bin?comp=blocklist&{query}"))
        .body("<?xml version=\"1.0\"?><BlockList><Latest>YQ==</Latest><Latest>Yg==</Latest></BlockList>")
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 201);
    let body = emu
        .client
        .get(format!("{container}/big.bin?{query}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "abcd");

    // Without the SAS the container is private; a forged signature is refused.
    let anonymous = emu.client.get(&blob).send().await.unwrap();
    assert_eq!(anonymous.status(), 404);
    let forged = query.replace("sig=", "sig=AAAA");
    let forged = emu
        .client
        .get(format!("{blob}?{forged}"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(forged.headers()["x-ms-error-code"], "AuthenticationFailed");
    // The SAS ends after an hour on the emulator's clock.
    emu.state
        .advance_clock(std::time::Duration::from_secs(3601));
    let expired = emu
        .client
        .get(format!("{blob}?{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 403);

    // Register the version; a job may then name it, and the hash finds it.
    let code_uri = format!("{container}/LocalUpload/abc/src");
    let created = emu
        .put(
            &format!("{versions}/1?{CODE_API}"),
            &json!({"properties": {"codeUri": code_uri, "isAnonymous": false,
                "properties": {"hash_sha256": "abc", "hash_version": 202208}}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let found: Value = emu
        .get(&format!(
            "{versions}?{CODE_API}&hash=abc&hashVersion=202208"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["value"][0]["name"], "1");
    let container_res: Value = emu
        .get(&format!(
            "{}{}/codes/etl?{CODE_API}",
            emu.base,
            emu.ws_path()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(container_res["properties"]["latestVersion"], "1");
    assert_eq!(container_res["properties"]["nextVersion"], "2");

    // Versions are immutable: another codeUri is refused with the text azure-ai-ml matches.
    let (status, code, msg) = error_code(
        emu.put(
            &format!("{versions}/1?{CODE_API}"),
            &json!({"properties": {"codeUri": "https://elsewhere/x"}}),
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "UserError"));
    assert_eq!(msg, "Asset paths cannot be updated.");

    // The SAS signature never lands in the recorded requests.
    let sig = query
        .split('&')
        .find_map(|p| p.strip_prefix("sig="))
        .unwrap()
        .to_owned();
    let queries: Vec<String> = emu
        .state
        .requests()
        .into_iter()
        .filter_map(|r| r.query)
        .collect();
    assert!(queries.iter().any(|q| q.contains("sig=REDACTED")));
    assert!(!queries.iter().any(|q| q.contains(&sig)), "{queries:#?}");
}

#[tokio::test]
async fn jobs_must_name_code_and_environments_that_exist() {
    let emu = start(test_config()).await;
    let job = |code: &str, env: Option<&str>| {
        let mut body = json!({"properties": {
            "jobType": "Spark",
            "codeId": format!("{}/codes/{code}/versions/1", emu.ws_path()),
            "entry": {"sparkJobEntryType": "SparkJobPythonEntry", "file": "etl.py"},
            "conf": {"spark.driver.cores": 1, "spark.driver.memory": "2g",
                     "spark.executor.cores": 2, "spark.executor.memory": "2g",
                     "spark.executor.instances": 2},
            "resources": {"instanceType": "standard_e4s_v3", "runtimeVersion": "3.4"}
        }});
        if let Some(env) = env {
            body["properties"]["environmentId"] = json!(env);
        }
        body
    };
    let (status, code, msg) =
        error_code(emu.put(&emu.job_url("j-missing"), &job("nope", None)).await).await;
    assert_eq!((status, code.as_str()), (400, "UserError"));
    assert!(
        msg.contains("properties.codeId") && msg.contains("nope"),
        "{msg}"
    );

    let env_id = format!("{}/environments/spark-env/versions/3", emu.ws_path());
    let (status, _, msg) = error_code(
        emu.put(&emu.job_url("j-env"), &job("titanic", Some(&env_id)))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(msg.contains("properties.environmentId"), "{msg}");
    let env = emu
        .put(
            &format!(
                "{}{}/environments/spark-env/versions/3?{CODE_API}",
                emu.base,
                emu.ws_path()
            ),
            &json!({"properties": {"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"}}),
        )
        .await;
    assert_eq!(env.status(), 201);
    assert_eq!(
        emu.put(&emu.job_url("j-env"), &job("titanic", Some(&env_id)))
            .await
            .status(),
        201
    );
    let registry = "azureml://registries/azureml/environments/spark/versions/1";
    assert_eq!(
        emu.put(&emu.job_url("j-reg"), &job("titanic", Some(registry)))
            .await
            .status(),
        201,
        "registry environments are not in this emulator and pass"
    );
}

#[tokio::test]
async fn identity_type_is_case_insensitive_and_echoed_canonically() {
    let emu = start(test_config()).await;
    let resp = emu
        .put(
            &emu.compute_url("sdk-style"),
            &emu.attach_body(0, json!({"type": "Systemassigned"})),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["identity"]["type"], "SystemAssigned");
    let resp = emu
        .put(
            &emu.compute_url("sdk-style2"),
            &emu.attach_body(
                1,
                json!({"type": "systemassigned, userassigned", "userAssignedIdentities": {emu.uai(0): {}}}),
            ),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["identity"]["type"], "SystemAssigned,UserAssigned");
}
