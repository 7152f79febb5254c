use std::time::Duration;

use serde_json::{Value, json};
use servicebus_emulator::Broker;

use crate::common::{TestApp, eventually, start};

fn app() -> TestApp {
    let app = TestApp::new(json!({}));
    app.function(
        "order",
        json!([
            { "type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "function",
              "methods": ["post", "options"], "route": "orders/{id}" },
            { "type": "http", "direction": "out", "name": "res" }
        ]),
    );
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_trigger_round_trip_maps_res() {
    let app = app();
    let host = start(app.config(), Broker::new()).await;
    let base = format!("http://{}", host.host.http_addr());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    let instruction = json!({ "outputs": { "res": {
        "statusCode": "201", "body": "created", "headers": { "X-Test": "yes" } } } });
    let response = client
        .post(format!("{base}/api/orders/42?dry=1&code=secret"))
        .header("Content-Type", "application/json")
        .body(instruction.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-test"], "yes");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(response.text().await.unwrap(), "created");

    let r = eventually("http invocation", Duration::from_secs(5), || {
        app.invocations().pop()
    })
    .await;
    assert_eq!(r["path"], "/order");
    let req = &r["body"]["Data"]["req"];
    assert_eq!(req["Method"], "POST");
    assert!(
        req["Url"]
            .as_str()
            .unwrap()
            .ends_with("/api/orders/42?dry=1&code=secret")
    );
    assert_eq!(req["Query"], json!({"dry": "1", "code": "secret"}));
    assert_eq!(req["Params"], json!({"id": "42"}));
    assert_eq!(req["Headers"]["Content-Type"], json!(["application/json"]));
    assert_eq!(req["Identities"], json!([]));
    assert_eq!(req["Body"], Value::String(instruction.to_string()));
    let md = &r["body"]["Metadata"];
    assert_eq!(md["dry"], "\"1\"");
    assert!(
        md.get("code").is_none(),
        "the key parameter is not binding data"
    );
    assert_eq!(md["id"], "\"42\"");
    assert!(
        md["outputs"].is_object(),
        "top-level JSON body properties are in Metadata"
    );
    assert_eq!(md["Query"]["dry"], "1");
    assert_eq!(md["Headers"]["Content-Type"], "application/json");
    assert_eq!(md["sys"]["MethodName"], "order");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_500_and_unknown_routes_or_methods_404() {
    let app = app();
    let host = start(app.config(), Broker::new()).await;
    let base = format!("http://{}", host.host.http_addr());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    let failed = client
        .post(format!("{base}/api/orders/1"))
        .body(json!({"respond": 500}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 500);

    let no_res = client
        .post(format!("{base}/api/orders/2"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_res.status(), 200, "no res output: an empty 200");

    let options = client
        .request(reqwest::Method::OPTIONS, format!("{base}/api/orders/3"))
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), 200, "OPTIONS is listed in methods");

    let get = client
        .get(format!("{base}/api/orders/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 404);
    let other = client
        .post(format!("{base}/api/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    let no_prefix = client
        .post(format!("{base}/orders/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_prefix.status(), 404);
    host.stop().await;
}
