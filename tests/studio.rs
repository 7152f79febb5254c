//! The Studio page over HTTP through the local Functions host (the `studio` HTTP trigger):
//! production mode refuses requests without an allowed Entra principal, forms need a valid
//! token from the same site, and nothing secret is rendered. The browser journey is in
//! tests/ui/.

mod common;

use base64::Engine as _;
use common::*;
use poolbroker::local::{LOCAL_SAS_KEY, LocalWorld};
use serde_json::json;

const ROLE: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";

fn studio_url(world: &LocalWorld, path: &str) -> String {
    format!("http://{}/api/studio/{path}", world.http_addr)
}

fn principal(roles: &[&str]) -> String {
    let mut claims = vec![
        json!({"typ": "name", "val": "Ada Operator"}),
        json!({"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": "oid-ada"}),
    ];
    claims.extend(roles.iter().map(|r| json!({"typ": ROLE, "val": r})));
    base64::engine::general_purpose::STANDARD.encode(
        json!({"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": ROLE})
            .to_string(),
    )
}

async fn get(url: &str, principal: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(p) = principal {
        request = request.header("X-MS-CLIENT-PRINCIPAL", p);
    }
    let response = request.send().await.expect("studio answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

fn csrf_token(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("form token") + 19;
    html[start..]
        .split('"')
        .next()
        .expect("token ends")
        .to_owned()
}

#[tokio::test]
async fn production_mode_needs_an_allowed_principal() {
    let world = start_with(options_with(&[
        ("POOLBROKER_STUDIO", "entra"),
        ("POOLBROKER_STUDIO_ALLOWED", "Studio.Operator"),
        // What App Service sets when App Service Authentication is on.
        ("WEBSITE_AUTH_ENABLED", "True"),
    ]))
    .await;
    let url = studio_url(&world, "");

    let (status, body) = get(&url, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("X-MS-CLIENT-PRINCIPAL"), "{body}");

    let (status, body) = get(&url, Some(&principal(&["Reader"]))).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Ada Operator"), "{body}");

    let (status, body) = get(&url, Some(&principal(&["Studio.Operator"]))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Signed in as Ada Operator"), "{body}");
    assert!(body.contains("Attached computes"), "{body}");
    assert!(!body.contains(LOCAL_SAS_KEY), "a secret was rendered");

    // Every page, not only the first one, is behind the check.
    let (status, _) = get(&studio_url(&world, "activity"), None).await;
    assert_eq!(status, 401);
    world.stop().await.expect("stops");
}

#[tokio::test]
async fn production_is_the_default_and_refuses_everyone_until_a_group_or_role_is_allowed() {
    let world = start_with(options_with(&[
        ("POOLBROKER_STUDIO", ""),
        ("WEBSITE_AUTH_ENABLED", "True"),
    ]))
    .await;
    let operator = principal(&["Studio.Operator"]);
    let (status, body) = get(&studio_url(&world, ""), Some(&operator)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("POOLBROKER_STUDIO_ALLOWED"), "{body}");
    world.stop().await.expect("stops");

    // Without App Service Authentication in front, a principal header proves nothing.
    let world = start_with(options_with(&[
        ("POOLBROKER_STUDIO", "entra"),
        ("POOLBROKER_STUDIO_ALLOWED", "Studio.Operator"),
    ]))
    .await;
    let (status, body) = get(&studio_url(&world, ""), Some(&operator)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("WEBSITE_AUTH_ENABLED"), "{body}");
    world.stop().await.expect("stops");
}

#[tokio::test]
async fn forms_need_a_valid_token_from_the_same_site() {
    let world = start().await;
    let (status, page) = get(&studio_url(&world, ""), None).await;
    assert_eq!(status, 200);
    let token = csrf_token(&page);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let detach = |token: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", token)
            .append_pair("ws", WORKSPACE_ID)
            .append_pair("name", "sparkpool1")
            .finish()
    };
    const FORM: &str = "application/x-www-form-urlencoded";
    let url = studio_url(&world, "detach");

    let response = client
        .post(&url)
        .header("Content-Type", FORM)
        .body(detach(""))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 403);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("no csrf token")
    );

    let last = if token.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    let response = client
        .post(&url)
        .header("Content-Type", FORM)
        .body(detach(&forged))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 403);

    let response = client
        .post(&url)
        .header("Origin", "https://evil.example")
        .header("Content-Type", FORM)
        .body(detach(&token))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 403);
    assert!(
        world.broker.peek_all(COMMANDS).expect("queue").is_empty(),
        "a refused form must enqueue nothing"
    );

    // The real token enqueues the DetachPool command with ReplyTo studio-replies.
    let response = client
        .post(&url)
        .header("Content-Type", FORM)
        .body(detach(&token))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 303);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(location.starts_with("/api/studio/commands/"), "{location}");
    let correlation_id = location
        .trim_start_matches("/api/studio/commands/")
        .split('?')
        .next()
        .expect("id")
        .to_owned();
    let reply = eventually("the reply on studio-replies", WAIT, || {
        world
            .broker
            .peek_all(poolbroker::studio::STUDIO_REPLIES_QUEUE)
            .ok()?
            .iter()
            .map(json_body)
            .find(|b| b["correlationId"] == correlation_id.as_str())
    })
    .await;
    assert_eq!(reply["kind"], "DetachPool");
    // The reply page shows it (a peek: the reply stays for the activity list).
    let (_, page) = get(&format!("http://{}{location}", world.http_addr), None).await;
    assert!(page.contains("data-status=\"Succeeded\""), "{page}");
    let (_, page) = get(&format!("http://{}{location}", world.http_addr), None).await;
    assert!(
        page.contains("data-status=\"Succeeded\""),
        "still there: {page}"
    );
    world.stop().await.expect("stops");
}

/// The Studio's lists read queues by peek-lock + unlock (the REST API has no browse): nothing is
/// consumed, order is kept, a dead-letter's reason comes through, and each look counts as one
/// delivery, as it does in Azure.
#[tokio::test]
async fn peek_leaves_messages_in_place_and_reads_dead_letter_reasons() {
    use poolbroker::local::{LOCAL_NAMESPACE, LOCAL_SAS_KEY_NAME};
    use poolbroker::servicebus::{
        MessageSender, Namespace, ServiceBusAuth, ServiceBusSettings, dead_letter_path,
    };
    use servicebus_emulator::OutgoingMessage;

    const QUEUE: &str = "peek-test";
    let world = start().await;
    world.broker.create_queue(QUEUE, Default::default());
    for body in ["first", "second", "third"] {
        world
            .broker
            .send(
                QUEUE,
                OutgoingMessage {
                    body: body.into(),
                    ..OutgoingMessage::default()
                },
            )
            .expect("sent");
    }
    let settings = ServiceBusSettings::new(
        Namespace::parse(LOCAL_NAMESPACE).expect("namespace"),
        ServiceBusAuth::SharedAccessKey {
            key_name: LOCAL_SAS_KEY_NAME.into(),
            key: LOCAL_SAS_KEY.into(),
        },
    )
    .with_endpoint_override(&format!("http://{}", world.servicebus_addr))
    .expect("endpoint");
    let sender = MessageSender::new(&settings).expect("sender");

    let seen = sender.peek(QUEUE, 2).await.expect("peek");
    let bodies: Vec<&str> = seen.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        ["first", "second"],
        "the head, in order, up to the limit"
    );
    assert_eq!(seen[0].delivery_count, Some(1));
    let all = sender.peek(QUEUE, 10).await.expect("peek again");
    assert_eq!(all.len(), 3, "nothing consumed, every lock released");
    assert_eq!(all[0].delivery_count, Some(2), "each look is one delivery");
    assert_eq!(world.broker.peek_all(QUEUE).expect("queue").len(), 3);

    // Dead-letter the head with a reason, then read the dead-letter sub-queue.
    let locked = world
        .broker
        .receive(QUEUE, std::time::Duration::ZERO)
        .await
        .expect("receive")
        .expect("a message");
    world
        .broker
        .dead_letter(
            QUEUE,
            locked.lock_token,
            "MaxDeliveryCountExceeded",
            "gave up after 10 tries",
        )
        .expect("dead-lettered");
    let dead = sender
        .peek(&dead_letter_path(QUEUE), 10)
        .await
        .expect("peek dead-letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "first");
    assert_eq!(
        dead[0].dead_letter_reason.as_deref(),
        Some("MaxDeliveryCountExceeded")
    );
    assert_eq!(
        dead[0].dead_letter_description.as_deref(),
        Some("gave up after 10 tries")
    );
    assert_eq!(world.broker.dead_letters(QUEUE).expect("dlq").len(), 1);
    world.stop().await.expect("stops");
}

/// The activity page shows a dead-lettered command with Service Bus's reason (read, not taken),
/// and the cleanup page shows the timer's dry-run decision for an attached pool.
#[tokio::test]
async fn activity_shows_dead_letters_and_cleanup_shows_the_plan() {
    use servicebus_emulator::OutgoingMessage;

    // Commands the Studio would enqueue go to a queue no trigger drains, so a message can be
    // dead-lettered there by hand.
    const PARKED: &str = "studio-test-commands";
    let world = start_with(options_with(&[("POOLBROKER_COMMANDS_QUEUE", PARKED)])).await;
    world.broker.create_queue(PARKED, Default::default());
    world
        .broker
        .send(
            PARKED,
            OutgoingMessage {
                body: r#"{"apiVersion":"poolbroker/v1","kind":"DetachPool","spec":{"name":"gone-pool"}}"#
                    .into(),
                ..OutgoingMessage::default()
            },
        )
        .expect("sent");
    let locked = world
        .broker
        .receive(PARKED, std::time::Duration::ZERO)
        .await
        .expect("receive")
        .expect("a message");
    world
        .broker
        .dead_letter(
            PARKED,
            locked.lock_token,
            "MaxDeliveryCountExceeded",
            "ARM kept answering 503",
        )
        .expect("dead-lettered");

    let (status, page) = get(&studio_url(&world, "activity"), None).await;
    assert_eq!(status, 200, "{page}");
    let dead = &page[page
        .find("id=\"dead-letters\"")
        .expect("dead-letters section")..];
    assert!(dead.contains("MaxDeliveryCountExceeded"), "{dead}");
    assert!(dead.contains("ARM kept answering 503"), "{dead}");
    assert!(dead.contains("DetachPool"), "{dead}");
    assert_eq!(
        world.broker.dead_letters(PARKED).expect("dlq").len(),
        1,
        "reading must not consume"
    );

    // A pool attached with a TTL: the plan keeps it until then, and says so.
    let mut attach_ttl = attach("ttlpool", POOL1, None);
    attach_ttl["spec"]["ttl"] = json!("8h");
    let reply = round_trip(&world, &attach_ttl).await;
    assert_eq!(reply["status"], "Succeeded", "{reply}");
    let (status, page) = get(&studio_url(&world, "cleanup"), None).await;
    assert_eq!(status, 200, "{page}");
    let kept = &page[page.find("Would keep").expect("kept section")..];
    assert!(kept.contains("ttlpool"), "{kept}");
    assert!(kept.contains("expires at"), "{kept}");
    assert!(
        compute_requests(&world, "DELETE", "ttlpool").is_empty(),
        "a dry run detaches nothing"
    );
    world.stop().await.expect("stops");
}

/// The details page shows the `doctor` checklist (the CheckPool command's own list): all ✓ for a
/// granted pool, and a ✗ with what to do once its identity's role is revoked.
#[tokio::test]
async fn details_page_shows_the_doctor_checklist() {
    let world = start().await;
    let reply = round_trip(
        &world,
        &attach("docpool", POOL1, Some(user_assigned(&["uai-etl"]))),
    )
    .await;
    assert_eq!(reply["status"], "Succeeded", "{reply}");
    let details = studio_url(&world, "pool?name=docpool");

    let (status, page) = get(&details, None).await;
    assert_eq!(status, 200, "{page}");
    let checks = &page[page.find("id=\"checks\"").expect("checks section")..];
    assert!(checks.contains("All checks passed."), "{checks}");
    assert!(checks.contains("Spark version"), "{checks}");
    assert!(checks.contains("3.4 is supported"), "{checks}");
    assert!(checks.contains("uai-etl"), "{checks}");
    assert!(!checks.contains("data-ok=\"false\""), "{checks}");

    let revoked = round_trip(
        &world,
        &envelope("RevokePoolAccess", json!({"name": "docpool"})),
    )
    .await;
    assert_eq!(revoked["status"], "Succeeded", "{revoked}");
    let (status, page) = get(&details, None).await;
    assert_eq!(status, 200, "{page}");
    let checks = &page[page.find("id=\"checks\"").expect("checks section")..];
    assert!(checks.contains("check(s) failed"), "{checks}");
    let failed = &checks[checks.find("data-ok=\"false\"").expect("a ✗ line")..];
    assert!(failed.contains("✗"), "{failed}");
    assert!(failed.contains("Synapse Administrator role"), "{failed}");
    assert!(
        failed.contains("What to do: <span class=\"mono\">poolbroker access grant --name docpool"),
        "{failed}"
    );
    world.stop().await.expect("stops");
}
