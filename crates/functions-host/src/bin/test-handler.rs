//! A tiny custom handler for the host's integration tests.
//!
//! Listens on `FUNCTIONS_CUSTOMHANDLER_PORT`, appends every request it receives to the JSONL
//! file named by `TEST_HANDLER_LOG`, and obeys an instruction object found in the trigger data
//! (a Service Bus body, an HTTP body) or, failing that, in `TEST_HANDLER_DEFAULT`:
//! `respond` (status), `crash` (exit 1), `exit_code`, `sleep_ms`, `content_type`, `raw_body`,
//! `outputs`, `logs`, `return_value`; `when_delivery` / `until_delivery` restrict it by
//! `Metadata.DeliveryCount`. `TEST_HANDLER_EXIT_AT_START=<code>` exits before listening.

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

#[tokio::main]
async fn main() {
    if let Ok(code) = std::env::var("TEST_HANDLER_EXIT_AT_START") {
        eprintln!("test-handler: exiting at start with {code} as instructed");
        std::process::exit(code.parse().unwrap_or(1));
    }
    let port: u16 = match std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
    {
        Some(p) => p,
        None => {
            eprintln!("test-handler: FUNCTIONS_CUSTOMHANDLER_PORT is not set");
            std::process::exit(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("test-handler: bind 127.0.0.1:{port}: {e}");
            std::process::exit(3);
        }
    };
    println!(
        "test-handler listening on {port} (pid {})",
        std::process::id()
    );
    let app = Router::new().fallback(handle);
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("test-handler: {e}");
        std::process::exit(4);
    }
}

async fn handle(request: Request) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let headers = request.headers().clone();
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    record(&method, &path, &headers, &body);
    if method != "POST" {
        return (StatusCode::OK, "test-handler up").into_response();
    }
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let instruction = instruction(&payload);
    obey(instruction).await
}

fn record(method: &str, path: &str, headers: &HeaderMap, body: &Bytes) {
    let Ok(file) = std::env::var("TEST_HANDLER_LOG") else {
        return;
    };
    let headers: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            )
        })
        .collect();
    let body = serde_json::from_slice::<Value>(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    let env = |k: &str| std::env::var(k).map(Value::String).unwrap_or(Value::Null);
    let line = json!({
        "method": method,
        "path": path,
        "headers": headers,
        "body": body,
        "pid": std::process::id(),
        "at_ms": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
        "env": {
            "FUNCTIONS_CUSTOMHANDLER_PORT": env("FUNCTIONS_CUSTOMHANDLER_PORT"),
            "FUNCTIONS_HTTPWORKER_PORT": env("FUNCTIONS_HTTPWORKER_PORT"),
            "FUNCTIONS_CUSTOMHANDLER_WORKER_ID": env("FUNCTIONS_CUSTOMHANDLER_WORKER_ID"),
            "FUNCTIONS_HTTPWORKER_ID": env("FUNCTIONS_HTTPWORKER_ID"),
            "FUNCTIONS_APP_ROOT_PATH": env("FUNCTIONS_APP_ROOT_PATH"),
            "cwd": std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
            "args": std::env::args().skip(1).collect::<Vec<_>>(),
        },
    });
    // One write per line so concurrent requests do not interleave.
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}

/// The first trigger value that decodes to a JSON object, else `TEST_HANDLER_DEFAULT`.
fn instruction(payload: &Value) -> Map<String, Value> {
    let from_data = payload
        .get("Data")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|d| d.values())
        .find_map(decode_instruction);
    let mut found = from_data
        .or_else(|| {
            std::env::var("TEST_HANDLER_DEFAULT")
                .ok()
                .and_then(|d| serde_json::from_str::<Value>(&d).ok())
                .and_then(|v| v.as_object().cloned())
        })
        .unwrap_or_default();
    let delivery = payload
        .pointer("/Metadata/DeliveryCount")
        .and_then(Value::as_str)
        .and_then(|d| d.parse::<u64>().ok());
    let applies = match (found.get("when_delivery").and_then(Value::as_u64), delivery) {
        (Some(want), Some(d)) => want == d,
        _ => true,
    } && match (
        found.get("until_delivery").and_then(Value::as_u64),
        delivery,
    ) {
        (Some(limit), Some(d)) => d < limit,
        _ => true,
    };
    if !applies {
        found.clear();
    }
    found
}

fn decode_instruction(v: &Value) -> Option<Map<String, Value>> {
    match v {
        // Service Bus: a JSON string holding the body text.
        Value::String(s) => {
            let inner = match serde_json::from_str::<Value>(s).ok()? {
                Value::String(text) => serde_json::from_str::<Value>(&text).ok()?,
                other => other,
            };
            inner.as_object().cloned()
        }
        // HTTP: the request object with a Body string.
        Value::Object(o) => o
            .get("Body")
            .and_then(Value::as_str)
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
            .and_then(|v| v.as_object().cloned()),
        _ => None,
    }
}

async fn obey(i: Map<String, Value>) -> Response {
    if let Some(ms) = i.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if i.get("crash").and_then(Value::as_bool) == Some(true) {
        eprintln!("test-handler: crashing as instructed");
        std::process::exit(1);
    }
    if let Some(code) = i.get("exit_code").and_then(Value::as_i64) {
        eprintln!("test-handler: exiting with {code} as instructed");
        std::process::exit(i32::try_from(code).unwrap_or(1));
    }
    let status = i
        .get("respond")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let content_type = i
        .get("content_type")
        .and_then(Value::as_str)
        .unwrap_or("application/json")
        .to_owned();
    let body = match i.get("raw_body").and_then(Value::as_str) {
        Some(raw) => raw.to_owned(),
        None => json!({
            "Outputs": i.get("outputs").cloned().unwrap_or_else(|| json!({})),
            "Logs": i.get("logs").cloned().unwrap_or_else(|| json!([])),
            "ReturnValue": i.get("return_value").cloned().unwrap_or(Value::Null),
        })
        .to_string(),
    };
    println!("test-handler answered {}", status.as_u16());
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}
