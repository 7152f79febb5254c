//! Test harness: a real emulator on 127.0.0.1:0, seeded with the demo world.
#![allow(dead_code)]

use poolbroker_azureml_emulator::{DemoSeed, EmulatorConfig, EmulatorState, LocalTls, serve_tls};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use tokio::sync::oneshot;

pub const API: &str = "api-version=2025-12-01";

pub struct Emu {
    pub base: String,
    pub state: EmulatorState,
    pub seed: DemoSeed,
    pub client: reqwest::Client,
    pub token: String,
    _stop: oneshot::Sender<()>,
}

/// Operations and jobs finish as soon as the clock is read; tests about intermediate states set
/// durations and advance the clock.
pub fn test_config() -> EmulatorConfig {
    EmulatorConfig {
        retry_after_secs: 0,
        throttling: false,
        identity_header: String::from("test-identity-secret"),
        ..EmulatorConfig::default()
    }
    .instant()
}

/// One local CA for the whole test binary (generated once, like `poolbroker local`'s).
fn tls() -> &'static LocalTls {
    static TLS: std::sync::OnceLock<LocalTls> = std::sync::OnceLock::new();
    TLS.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("poolbroker-emulator-tests-{}", std::process::id()));
        LocalTls::load_or_create(&dir).expect("local CA")
    })
}

/// A client that trusts the emulator's CA (and nothing is switched off).
pub fn https_client() -> reqwest::Client {
    let pem = std::fs::read(tls().ca_cert_path()).expect("CA file");
    reqwest::Client::builder()
        .tls_certs_merge([reqwest::Certificate::from_pem(&pem).expect("CA pem")])
        .build()
        .expect("client")
}

pub async fn start(config: EmulatorConfig) -> Emu {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = EmulatorState::new(config);
    let seed = state.seed_demo();
    state
        .add_code_version(
            &seed.workspace_id,
            "titanic",
            "1",
            "azureml://datastores/workspaceblobstore/paths/LocalUpload/titanic/src",
        )
        .expect("demo workspace exists");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(serve_tls(
        listener,
        state.clone(),
        tls().clone(),
        async move {
            let _ = rx.await;
        },
    ));
    let token = state.issue_token("https://management.azure.com");
    Emu {
        base: format!("https://127.0.0.1:{}", addr.port()),
        state,
        seed,
        client: https_client(),
        token,
        _stop: tx,
    }
}

impl Emu {
    pub fn ws_path(&self) -> String {
        self.seed.workspace_id.clone()
    }

    pub fn compute_url(&self, name: &str) -> String {
        format!("{}{}/computes/{name}?{API}", self.base, self.ws_path())
    }

    pub fn job_url(&self, name: &str) -> String {
        format!("{}{}/jobs/{name}?{API}", self.base, self.ws_path())
    }

    pub fn pool_id(&self, i: usize) -> String {
        self.seed.pool_ids[i].clone()
    }

    pub fn uai(&self, i: usize) -> String {
        self.seed.user_assigned_identities[i].id.clone()
    }

    pub fn req(&self, method: Method, url: &str) -> RequestBuilder {
        self.client.request(method, url).bearer_auth(&self.token)
    }

    pub async fn get(&self, url: &str) -> Response {
        self.req(Method::GET, url).send().await.unwrap()
    }

    pub async fn put(&self, url: &str, body: &Value) -> Response {
        self.req(Method::PUT, url).json(body).send().await.unwrap()
    }

    pub async fn delete(&self, url: &str) -> Response {
        self.req(Method::DELETE, url).send().await.unwrap()
    }

    pub fn attach_body(&self, pool: usize, identity: Value) -> Value {
        serde_json::json!({
            "location": "eastus2",
            "identity": identity,
            "tags": {"owner": "poolbroker"},
            "properties": {
                "computeType": "SynapseSpark",
                "resourceId": self.pool_id(pool),
                "description": "attached by poolbroker"
            }
        })
    }

    /// Attaches `name` to pool `pool` with a system identity and polls the LRO to completion.
    pub async fn attach_done(&self, name: &str, pool: usize, identity: Value) {
        let resp = self
            .put(&self.compute_url(name), &self.attach_body(pool, identity))
            .await;
        assert!(
            resp.status().is_success(),
            "attach {name}: {}",
            resp.status()
        );
        let op = header(&resp, "azure-asyncoperation");
        assert!(op.starts_with("https://"), "{op}");
        for _ in 0..3 {
            let body: Value = self.get(&op).await.json().await.unwrap();
            if body["status"] != "InProgress" {
                assert_eq!(body["status"], "Succeeded");
                return;
            }
            self.state
                .advance_clock(self.state.config().operation_duration);
        }
        panic!("operation never completed");
    }
}

pub fn header(resp: &Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing header {name}"))
        .to_str()
        .unwrap()
        .to_owned()
}

pub async fn error_code(resp: Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}
