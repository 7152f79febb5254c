//! `/api/studio/…`: which page a request asks for, and what each page gathers.

use crate::domain::session_id_of;
use time::OffsetDateTime;

use super::auth::Principal;
use super::data;
use super::forms::{self, FormCommand};
use super::reading;
use super::request::{Page, StudioRequest};
use super::settings::{STUDIO_REPLIES_QUEUE, StudioSettings};
use super::views::{self, activity, cleanup, command, pool, pools};
use super::{BASE, csrf};
use crate::config::REJECTED_QUEUE;
use crate::handler::AppState;
use crate::servicebus::OutboundMessage;

pub async fn dispatch(
    state: &AppState,
    settings: &StudioSettings,
    principal: &Principal,
    req: &StudioRequest,
) -> Page {
    let now = OffsetDateTime::now_utc();
    let segments: Vec<&str> = req.path.iter().map(String::as_str).collect();
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", []) => overview(state, settings, principal, now).await,
        ("GET", ["pool"]) => pool_page(state, settings, principal, req, now).await,
        ("GET", ["commands", id]) if is_correlation_id(id) => {
            command_page(state, principal, req, id).await
        }
        ("GET", ["activity"]) => activity_page(state, principal).await,
        ("GET", ["cleanup"]) => cleanup_page(state, principal).await,
        ("POST", [form @ ("attach" | "identity" | "detach")]) => {
            submit(state, settings, principal, req, form, now).await
        }
        ("GET" | "POST", _) => Page::status(
            404,
            views::message(
                principal,
                "Not found",
                "There is no Studio page at this address.",
            ),
        ),
        _ => Page::status(
            405,
            views::message(
                principal,
                "Method not allowed",
                "The Studio answers GET and POST only.",
            ),
        ),
    }
}

/// Correlation ids the Studio issues are hex; anything else is not a page.
fn is_correlation_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn overview(
    state: &AppState,
    settings: &StudioSettings,
    principal: &Principal,
    now: OffsetDateTime,
) -> Page {
    let mut groups = Vec::new();
    for (ws, _) in data::workspaces(state) {
        let pools = data::pools(&state.inner.engine, &ws).await;
        groups.push(pools::WorkspacePools {
            workspace: ws,
            pools,
        });
    }
    let token = csrf::issue(&settings.form_key, &principal.id, now);
    Page::ok(pools::render(principal, &token, &groups, now))
}

async fn pool_page(
    state: &AppState,
    settings: &StudioSettings,
    principal: &Principal,
    req: &StudioRequest,
    now: OffsetDateTime,
) -> Page {
    let Some((ws, _)) = data::workspace(state, req.query("ws")) else {
        return not_allowed_workspace(principal);
    };
    let Some(name) = req.query("name") else {
        return Page::status(
            400,
            views::message(
                principal,
                "Which pool?",
                "The address names no pool (query parameter name).",
            ),
        );
    };
    let engine = &state.inner.engine;
    let found = match data::pools(engine, &ws).await {
        Ok(pools) => pools
            .into_iter()
            .find(|p| p.name.eq_ignore_ascii_case(name)),
        Err(e) => {
            return Page::status(
                502,
                views::message(
                    principal,
                    "Azure ML did not answer",
                    &format!("Could not list the pools: {e}"),
                ),
            );
        }
    };
    let Some(found) = found else {
        return Page::status(
            404,
            views::message(
                principal,
                "Pool not attached",
                &format!(
                    "No Synapse Spark pool named '{name}' is attached to workspace {}.",
                    ws.name()
                ),
            ),
        );
    };
    let (jobs, doctor) = tokio::join!(
        data::jobs_on(engine, &ws, &found.name),
        data::doctor(engine, &ws, &found.name),
    );
    let token = csrf::issue(&settings.form_key, &principal.id, now);
    let view = pool::PoolPage {
        workspace: &ws,
        pool: &found,
        jobs,
        doctor,
    };
    Page::ok(pool::render(principal, &token, &view))
}

/// 503: what needs Service Bus (`why`) when none is configured.
fn no_service_bus(principal: &Principal, why: &str) -> Page {
    Page::status(503, views::message(principal, "No Service Bus", why))
}

fn not_allowed_workspace(principal: &Principal) -> Page {
    Page::status(
        404,
        views::message(
            principal,
            "Unknown workspace",
            "That workspace is not one the Studio shows (the default workspace or one in the cleanup policy).",
        ),
    )
}

async fn command_page(
    state: &AppState,
    principal: &Principal,
    req: &StudioRequest,
    id: &str,
) -> Page {
    let reply = match &state.inner.sender {
        None => Err("no Service Bus is configured".to_owned()),
        Some(sender) => reading::reply_for(sender, STUDIO_REPLIES_QUEUE, id).await,
    };
    let ws = data::workspace(state, req.query("ws")).map(|(w, _)| w);
    let view = command::CommandPage {
        correlation_id: id,
        reply,
        back: ws.as_ref().zip(req.query("name")),
    };
    Page::ok(command::render(principal, &view))
}

async fn activity_page(state: &AppState, principal: &Principal) -> Page {
    let Some(sender) = &state.inner.sender else {
        return no_service_bus(
            principal,
            "The activity lists read Service Bus queues, and none is configured.",
        );
    };
    let settings = state.inner.engine.settings();
    let commands_queue = settings.commands_queue.clone();
    let (studio, default, rejected, dead) = tokio::join!(
        reading::replies(sender, STUDIO_REPLIES_QUEUE),
        reading::replies(sender, &settings.reply_queue),
        reading::rejected(sender, REJECTED_QUEUE),
        reading::dead_letters(sender, &commands_queue),
    );
    let view = activity::ActivityPage {
        replies: vec![studio, default],
        rejected,
        dead_letters: dead,
    };
    Page::ok(activity::render(principal, &view))
}

async fn cleanup_page(state: &AppState, principal: &Principal) -> Page {
    let mut plans = Vec::new();
    for (ws, policy) in data::workspaces(state) {
        let plan = data::cleanup_plan(&state.inner.engine, &ws, &policy).await;
        plans.push(cleanup::WorkspacePlan {
            workspace: ws,
            dry_run_configured: policy.dry_run,
            plan,
        });
    }
    Page::ok(cleanup::render(principal, &plans))
}

/// A form: check it came from our page, turn it into the command, enqueue it with `ReplyTo`,
/// and send the browser to the page that shows the reply.
async fn submit(
    state: &AppState,
    settings: &StudioSettings,
    principal: &Principal,
    req: &StudioRequest,
    form: &str,
    now: OffsetDateTime,
) -> Page {
    let origin = csrf::same_origin(
        req.header("origin"),
        req.header("sec-fetch-site"),
        req.header("x-forwarded-host").or(req.header("host")),
    );
    let token = csrf::verify(&settings.form_key, &principal.id, req.field("csrf"), now);
    if let Err(e) = origin.and(token) {
        return Page::status(
            403,
            views::message(principal, "Form refused", &e.to_string()),
        );
    }
    let Some((ws, _)) = data::workspace(state, req.field("ws")) else {
        return not_allowed_workspace(principal);
    };
    let cmd = match forms::command(form, req, &ws) {
        Ok(cmd) => cmd,
        Err(e) => {
            return Page::status(
                400,
                views::message(principal, "Form incomplete", &e.to_string()),
            );
        }
    };
    let Some(sender) = &state.inner.sender else {
        return no_service_bus(
            principal,
            "The Studio's forms enqueue commands, and no Service Bus is configured.",
        );
    };
    let queue = &state.inner.engine.settings().commands_queue;
    if let Err(e) = sender.send(queue, outbound(&cmd, principal)).await {
        return Page::status(
            503,
            views::message(
                principal,
                "Command not sent",
                &format!(
                    "Could not enqueue {}: {e}. Nothing was changed; try again.",
                    cmd.kind
                ),
            ),
        );
    }
    tracing::info!(kind = cmd.kind, correlation_id = %cmd.correlation_id, "studio enqueued a command");
    let back: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("ws", &ws.arm_id())
        .append_pair("name", &cmd.pool)
        .finish();
    Page::see_other(format!("{BASE}/commands/{}?{back}", cmd.correlation_id))
}

fn outbound(cmd: &FormCommand, principal: &Principal) -> OutboundMessage {
    let mut properties = crate::telemetry::propagation_properties();
    if let Some(name) = &principal.name {
        // Who asked, for the audit trail in the queue (a display name, never a token).
        properties.push(("poolbroker-studio-user".into(), name.clone()));
    }
    let body = cmd.body.to_string();
    OutboundMessage {
        session_id: Some(session_id_of(
            body.as_bytes(),
            Some("application/json"),
            &cmd.correlation_id,
        )),
        body,
        content_type: Some("application/json".into()),
        correlation_id: Some(cmd.correlation_id.clone()),
        message_id: Some(cmd.correlation_id.clone()),
        reply_to: Some(STUDIO_REPLIES_QUEUE.into()),
        subject: Some(cmd.kind.into()),
        application_properties: properties,
        ..OutboundMessage::default()
    }
}
