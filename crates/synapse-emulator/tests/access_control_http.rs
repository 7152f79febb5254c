//! The Synapse data-plane emulator over real HTTP: tokens, role definitions, assignment
//! create/get/delete, 409 on duplicates, 403 when role writes are forbidden, paging.

use std::sync::Arc;

use poolbroker_synapse_emulator::{
    SYNAPSE_AUDIENCE, SynapseConfig, SynapseState, TokenInfo, serve,
};
use serde_json::{Value, json};

const API: &str = "api-version=2020-12-01";
const ADMIN: &str = "6e4bf58a-b8e1-4cc3-bbf9-d73143322b78";
const PRINCIPAL: &str = "11111111-2222-3333-4444-555555555555";

struct Emu {
    base: String,
    state: SynapseState,
    http: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn authority(token: &str) -> Option<TokenInfo> {
    match token {
        "synapse" => Some(TokenInfo {
            audience: SYNAPSE_AUDIENCE.into(),
            expired: false,
        }),
        "arm" => Some(TokenInfo {
            audience: "https://management.azure.com".into(),
            expired: false,
        }),
        "old" => Some(TokenInfo {
            audience: SYNAPSE_AUDIENCE.into(),
            expired: true,
        }),
        _ => None,
    }
}

async fn start(page_size: usize) -> Emu {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = SynapseState::new(SynapseConfig {
        page_size,
        tokens: Some(Arc::new(authority)),
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, state.clone(), async move {
        let _ = rx.await;
    }));
    Emu {
        base: format!("http://{addr}"),
        state,
        http: reqwest::Client::new(),
        _stop: tx,
    }
}

impl Emu {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    async fn create(&self, id: &str, role: &str, scope: &str) -> (u16, Value) {
        let (s, _, b) = self
            .call(
                reqwest::Method::PUT,
                &format!("/roleAssignments/{id}?{API}"),
                "synapse",
                Some(json!({"roleId": role, "principalId": PRINCIPAL, "scope": scope})),
            )
            .await;
        (s, b)
    }
}

#[tokio::test]
async fn only_live_tokens_for_the_synapse_audience_are_accepted() {
    let emu = start(100).await;
    let path = format!("/roleDefinitions?{API}");
    let (status, _, body) = emu.call(reqwest::Method::GET, &path, "arm", None).await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wrong audience"),
        "{body}"
    );
    assert_eq!(
        emu.call(reqwest::Method::GET, &path, "old", None).await.0,
        401
    );
    assert_eq!(
        emu.call(reqwest::Method::GET, &path, "forged", None)
            .await
            .0,
        401
    );
    let (status, _, body) = emu.call(reqwest::Method::GET, &path, "synapse", None).await;
    assert_eq!(status, 200);
    let admin = body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Synapse Administrator")
        .unwrap();
    assert_eq!(admin["id"], ADMIN);
    let (status, _, body) = emu
        .call(
            reqwest::Method::GET,
            "/roleDefinitions?api-version=2020-02-01-preview",
            "synapse",
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2020-12-01")
    );
}

#[tokio::test]
async fn create_get_duplicate_and_delete() {
    let emu = start(100).await;
    let id = "0b6f2b3e-2f4d-4f5e-9a43-6b0c7b8a9d01";
    let scope = "workspaces/syn/bigDataPools/pool1";
    let (status, body) = emu.create(id, ADMIN, scope).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"id": id, "roleDefinitionId": ADMIN, "principalId": PRINCIPAL, "scope": scope})
    );
    // Same id again: an idempotent replace. Another id for the same triple: 409.
    assert_eq!(emu.create(id, ADMIN, scope).await.0, 200);
    let (status, body) = emu
        .create("0b6f2b3e-2f4d-4f5e-9a43-6b0c7b8a9d02", ADMIN, scope)
        .await;
    assert_eq!(status, 409);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("role assignment already exists")
    );
    let (status, _, got) = emu
        .call(
            reqwest::Method::GET,
            &format!("/roleAssignments/{id}?{API}"),
            "synapse",
            None,
        )
        .await;
    assert_eq!((status, got["scope"].as_str()), (200, Some(scope)));
    assert_eq!(
        emu.call(
            reqwest::Method::DELETE,
            &format!("/roleAssignments/{id}?{API}"),
            "synapse",
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        emu.call(
            reqwest::Method::DELETE,
            &format!("/roleAssignments/{id}?{API}"),
            "synapse",
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        emu.call(
            reqwest::Method::GET,
            &format!("/roleAssignments/{id}?{API}"),
            "synapse",
            None
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn bad_bodies_are_refused_with_the_field_named() {
    let emu = start(100).await;
    let (status, body) = emu
        .create(
            "0b6f2b3e-2f4d-4f5e-9a43-6b0c7b8a9d01",
            "not-a-guid",
            "workspaces/syn",
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("roleId")
    );
    let (status, body) = emu
        .create("0b6f2b3e-2f4d-4f5e-9a43-6b0c7b8a9d01", ADMIN, "syn/pool")
        .await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("scope"));
    assert_eq!(emu.create("nope", ADMIN, "workspaces/syn").await.0, 400);
}

#[tokio::test]
async fn forbidden_writes_answer_403() {
    let emu = start(100).await;
    emu.state.forbid_role_writes("syn", true);
    let (status, body) = emu
        .create(
            "0b6f2b3e-2f4d-4f5e-9a43-6b0c7b8a9d01",
            ADMIN,
            "workspaces/syn/bigDataPools/p",
        )
        .await;
    assert_eq!(status, 403);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("roleAssignments/write")
    );
    assert_eq!(
        emu.create(
            "0b6f2b3e-2f4d-4f5e-9a43-6b0c7b8a9d01",
            ADMIN,
            "workspaces/other"
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn list_filters_and_pages_with_continuation() {
    let emu = start(2).await;
    for i in 0..5 {
        emu.state.add_assignment(
            ADMIN,
            PRINCIPAL,
            &format!("workspaces/syn/bigDataPools/p{i}"),
        );
    }
    emu.state.add_assignment(
        ADMIN,
        "99999999-2222-3333-4444-555555555555",
        "workspaces/syn",
    );
    let mut seen = Vec::new();
    let mut continuation = String::new();
    for _ in 0..10 {
        let mut req = emu
            .http
            .get(format!(
                "{}/roleAssignments?{API}&principalId={PRINCIPAL}",
                emu.base
            ))
            .bearer_auth("synapse");
        if !continuation.is_empty() {
            req = req.header("x-ms-continuation", &continuation);
        }
        let resp = req.send().await.unwrap();
        continuation = resp.headers()["x-ms-continuation"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = resp.json().await.unwrap();
        for a in body["value"].as_array().unwrap() {
            seen.push(a["scope"].as_str().unwrap().to_owned());
        }
        if continuation.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    let (_, _, body) = emu
        .call(
            reqwest::Method::GET,
            &format!("/roleAssignments?{API}&scope=workspaces/syn"),
            "synapse",
            None,
        )
        .await;
    assert_eq!(body["count"], 1);
}

fn jwt(aud: &str, iss: &str, exp: i64) -> String {
    use base64::Engine as _;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    format!(
        "{}.{}.c2ln",
        b64(json!({"typ": "JWT", "alg": "RS256"})),
        b64(json!({"aud": aud, "iss": iss, "nbf": 0, "exp": exp, "iat": 0}))
    )
}

#[tokio::test]
async fn entra_shaped_jwts_are_checked_for_tenant_audience_and_expiry() {
    use poolbroker_synapse_emulator::JwtAuthority;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = SynapseState::new(SynapseConfig {
        tokens: Some(Arc::new(JwtAuthority::new("tenant-1", || 1_000))),
        ..SynapseConfig::default()
    });
    let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, state, async move {
        let _ = rx.await;
    }));
    let iss = "https://sts.windows.net/tenant-1/";
    let status = |token: String| {
        let url = format!("http://{addr}/roleDefinitions?{API}");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        status(jwt("https://dev.azuresynapse.net", iss, 2_000)).await,
        200
    );
    assert_eq!(
        status(jwt("https://dev.azuresynapse.net/", iss, 2_000)).await,
        200
    );
    assert_eq!(
        status(jwt("https://management.azure.com", iss, 2_000)).await,
        401
    );
    assert_eq!(
        status(jwt("https://dev.azuresynapse.net", iss, 999)).await,
        401
    );
    assert_eq!(
        status(jwt(
            "https://dev.azuresynapse.net",
            "https://sts.windows.net/other/",
            2_000
        ))
        .await,
        401
    );
    assert_eq!(status("not-a-jwt".to_owned()).await, 401);
}
