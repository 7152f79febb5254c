//! One command the Studio enqueued, and its reply once the broker has sent it.

use maud::{Markup, html};

use super::layout::{Nav, page, time};
use super::pools::pool_href;
use crate::domain::WorkspaceId;
use crate::studio::BASE;
use crate::studio::auth::Principal;
use crate::studio::reading::{ReplyError, ReplySummary};

/// Seconds between reloads while the reply is on its way (meta refresh: no JavaScript).
const REFRESH_SECS: u32 = 2;

pub fn error_block(error: &ReplyError) -> Markup {
    html! {
        p { strong { (error.code) } ": " (error.message) }
        @if !error.details.is_empty() {
            ul { @for d in &error.details { li { code { (d.field) } ": " (d.problem) } } }
        }
    }
}

pub fn status_class(status: &str) -> &'static str {
    match status {
        "Succeeded" => "ok",
        "Failed" | "Rejected" => "bad",
        _ => "warn",
    }
}

pub struct CommandPage<'a> {
    pub correlation_id: &'a str,
    pub reply: Result<Option<ReplySummary>, String>,
    /// Where to go next (the pool, when it is known and still there).
    pub back: Option<(&'a WorkspaceId, &'a str)>,
}

pub fn render(principal: &Principal, view: &CommandPage<'_>) -> String {
    let waiting = matches!(view.reply, Ok(None));
    let body = html! {
        h1 { "Command " code { (view.correlation_id) } }
        @match &view.reply {
            Err(e) => { p.notice.bad role="alert" { "Could not read the replies: " (e) } }
            Ok(None) => {
                p.notice role="status" {
                    "Sent to the pool-commands queue. Waiting for the broker's reply… "
                    "This page reloads every " (REFRESH_SECS) " seconds. "
                    a href="" { "Check now" }
                }
            }
            Ok(Some(reply)) => {
                @let class = status_class(&reply.status);
                div class={ "notice " (class) } role="status" id="reply" {
                    p { (reply.kind) " " strong class=(class) data-status=(reply.status) { (reply.status) } }
                    @if let Some(m) = &reply.message { p { (m) } }
                    @if let Some(e) = &reply.error { (error_block(e)) }
                    @for note in &reply.notes { p.muted { "Note: " (note) } }
                    p.muted { "Replied " (time(reply.enqueued_at)) }
                }
                @if reply.status == "Rejected" {
                    p { a href={ (BASE) "/activity#rejected" } { "See the rejected commands" } }
                }
            }
        }
        p {
            @if let Some((ws, name)) = view.back {
                a href=(pool_href(ws, name)) { "Open " (name) } " · "
            }
            a href={ (BASE) "/" } { "Attached computes" } " · "
            a href={ (BASE) "/activity" } { "Activity" }
        }
    };
    page(
        "Command",
        Nav::None,
        principal,
        waiting.then_some(REFRESH_SECS),
        body,
    )
}
