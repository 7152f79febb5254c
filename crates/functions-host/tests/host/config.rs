use serde_json::json;
use servicebus_emulator::Broker;
use tokio_util::sync::CancellationToken;

use poolbroker_functions_host::{HostError, TriggerInfo};

use crate::common::{TestApp, sb_trigger, start};

async fn start_err(app: &TestApp, config: poolbroker_functions_host::HostConfig) -> HostError {
    let _ = app;
    poolbroker_functions_host::start(config, Broker::new(), CancellationToken::new())
        .await
        .err()
        .expect("start fails")
}

#[tokio::test]
async fn a_missing_connection_setting_names_file_and_field() {
    let app = TestApp::new(json!({}));
    app.function("Q", json!([sb_trigger("msg", "q")]));
    let mut config = app.config();
    config.app_settings.remove("ServiceBusConnection");
    let err = start_err(&app, config).await;
    let text = err.to_string();
    assert!(text.contains("function.json"), "{text}");
    assert!(text.contains("bindings[0].connection"), "{text}");
    assert!(text.contains("ServiceBusConnection"), "{text}");
}

#[tokio::test]
async fn bad_schedule_and_missing_setting_are_errors() {
    let app = TestApp::new(json!({}));
    app.function(
        "T",
        json!([{ "type": "timerTrigger", "direction": "in", "name": "t", "schedule": "*/5 * * * *" }]),
    );
    let text = start_err(&app, app.config()).await.to_string();
    assert!(
        text.contains("bindings[0].schedule") && text.contains("6 fields"),
        "{text}"
    );

    let app = TestApp::new(json!({}));
    app.function(
        "T",
        json!([{ "type": "timerTrigger", "direction": "in", "name": "t", "schedule": "%NOPE_SCHEDULE_UNSET%" }]),
    );
    let text = start_err(&app, app.config()).await.to_string();
    assert!(text.contains("NOPE_SCHEDULE_UNSET"), "{text}");
}

#[tokio::test]
async fn missing_handler_description_is_rejected() {
    let app = TestApp::new(json!({ "customHandler": {} }));
    let text = start_err(&app, app.config()).await.to_string();
    assert!(
        text.contains("host.json") && text.contains("customHandler.description"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_definitions_folder_identity_connection_and_disabled_functions() {
    let app = TestApp::new(json!({ "extensions": { "http": { "routePrefix": "" } } }));
    let defs = app.root.join("function-definitions");
    for (name, bindings) in [
        (
            "pool-commands",
            json!([{ "type": "serviceBusTrigger", "direction": "in", "name": "command",
            "queueName": "pool-commands", "connection": "SbIdentity" }]),
        ),
        (
            "hooks",
            json!([{ "type": "httpTrigger", "direction": "in", "name": "req", "route": "events" },
                         { "type": "http", "direction": "out", "name": "res" }]),
        ),
        (
            "off",
            json!([{ "type": "serviceBusTrigger", "direction": "in", "name": "m", "queueName": "off" }]),
        ),
    ] {
        std::fs::create_dir_all(defs.join(name)).unwrap();
        std::fs::write(
            defs.join(name).join("function.json"),
            json!({ "bindings": bindings }).to_string(),
        )
        .unwrap();
    }
    let mut config = app.config();
    config.app_settings.insert(
        "SbIdentity__fullyQualifiedNamespace".into(),
        "ns.servicebus.windows.net".into(),
    );
    config
        .app_settings
        .insert("AzureWebJobs.off.Disabled".into(), "true".into());
    let broker = Broker::new();
    let host = start(config, broker.clone()).await;
    let functions = host.host.functions();
    let names: Vec<&str> = functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["hooks", "pool-commands"]);
    let addr = host.host.http_addr();
    assert!(
        matches!(&functions[0].trigger, TriggerInfo::Http { url, .. } if *url == format!("http://{addr}/events"))
    );
    assert!(
        broker.queue_config("pool-commands").is_ok(),
        "trigger queue created"
    );
    host.stop().await;
}

/// The host.json and function.json files poolbroker ships load and start as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_function_app_loads() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut config = poolbroker_functions_host::HostConfig::new(&repo);
    config.handler_executable = Some(env!("CARGO_BIN_EXE_test-handler").into());
    config.http_addr = "127.0.0.1:0".parse().unwrap();
    config.app_settings.insert(
        "ServiceBusConnection".into(),
        crate::common::CONNECTION.into(),
    );
    config
        .app_settings
        .insert("POOLBROKER_CLEANUP_SCHEDULE".into(), "0 0 3 * * *".into());
    let broker = Broker::new();
    let host = start(config, broker.clone()).await;
    let functions = host.host.functions();
    let names: Vec<&str> = functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "pipeline-events",
            "pool-commands",
            "studio",
            "workspace-cleanup"
        ]
    );
    assert!(
        matches!(&functions[0].trigger, TriggerInfo::Http { url, methods: Some(m), .. }
        if url.ends_with("/api/events") && m == &vec!["POST".to_owned(), "OPTIONS".to_owned()])
    );
    // The Studio page: GET and POST under /api/studio/, any depth.
    assert!(
        matches!(&functions[2].trigger, TriggerInfo::Http { url, methods: Some(m), .. }
        if url.ends_with("/api/studio/{*path}") && m == &vec!["GET".to_owned(), "POST".to_owned()])
    );
    for queue in ["pool-commands", "pool-commands-rejected", "cleanup-reports"] {
        assert!(broker.queue_config(queue).is_ok(), "{queue} created");
    }
    host.stop().await;
}
