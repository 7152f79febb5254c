//! What the broker did and refused: recent replies, rejected commands, dead-letters. All read
//! without consuming them.

use maud::{Markup, html};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::command::{error_block, status_class};
use super::layout::{Nav, page, time};
use crate::studio::BASE;
use crate::studio::auth::Principal;
use crate::studio::reading::{DeadLetter, Listing, RejectedCommand, ReplySummary};

pub struct ActivityPage {
    pub replies: Vec<Listing<ReplySummary>>,
    pub rejected: Listing<RejectedCommand>,
    pub dead_letters: Listing<DeadLetter>,
}

fn problems<T>(listing: &Listing<T>) -> Markup {
    html! {
        @if let Some(e) = &listing.error { p.notice.bad role="alert" { "Could not read " code { (listing.queue) } ": " (e) } }
        @if !listing.unreadable.is_empty() {
            details { summary { (listing.unreadable.len()) " message(s) in " code { (listing.queue) } " are not in the expected shape" }
                ul { @for u in &listing.unreadable { li.mono { (u) } } } }
        }
    }
}

fn replies(listing: &Listing<ReplySummary>) -> Markup {
    html! {
        h3 { "Queue " code { (listing.queue) } }
        (problems(listing))
        @if listing.items.is_empty() && listing.error.is_none() { p.muted { "No replies waiting in this queue." } }
        @else if !listing.items.is_empty() {
            table {
                thead { tr { th scope="col" { "Replied" } th scope="col" { "Command" } th scope="col" { "Outcome" } th scope="col" { "Details" } } }
                tbody { @for r in &listing.items { tr {
                    td { (time(r.enqueued_at)) }
                    td { (r.kind) br; a.mono href={ (BASE) "/commands/" (r.correlation_id) } { (r.correlation_id) } }
                    td { span class=(status_class(&r.status)) { (r.status) } }
                    td {
                        @if let Some(m) = &r.message { (m) }
                        @if let Some(e) = &r.error { (error_block(e)) }
                    }
                } } }
            }
        }
    }
}

fn rejected(listing: &Listing<RejectedCommand>) -> Markup {
    html! {
        (problems(listing))
        @if listing.items.is_empty() && listing.error.is_none() { p.muted { "No rejected commands." } }
        @else if !listing.items.is_empty() {
            table #rejected-list {
                thead { tr { th scope="col" { "Rejected" } th scope="col" { "Command" } th scope="col" { "Reason" } th scope="col" { "As sent" } } }
                tbody { @for r in &listing.items { tr {
                    td { (time(r.rejected_at.as_deref().and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()))) }
                    td { (r.kind) br; span.mono { (r.correlation_id) } }
                    td { (error_block(&r.error)) }
                    td { @if let Some(body) = r.original_message.as_ref().and_then(|m| m.body.as_deref()) {
                        details { summary { "message body" } pre.mono { (body) } }
                    } }
                } } }
            }
        }
    }
}

fn dead_letters(listing: &Listing<DeadLetter>) -> Markup {
    html! {
        (problems(listing))
        @if listing.items.is_empty() && listing.error.is_none() { p.muted { "No dead-lettered commands." } }
        @else if !listing.items.is_empty() {
            table {
                thead { tr { th scope="col" { "Enqueued" } th scope="col" { "Command" } th scope="col" { "Reason" } th scope="col" { "Deliveries" } th scope="col" { "Body" } } }
                tbody { @for d in &listing.items { tr {
                    td { (time(d.enqueued_at)) }
                    td { (d.kind.as_deref().unwrap_or("?")) }
                    td { strong { (d.reason) } @if let Some(desc) = &d.description { br; (desc) } }
                    td { (d.delivery_count.map(|n| n.to_string()).unwrap_or_default()) }
                    td { details { summary { "message body" } pre.mono { (d.body_excerpt) } } }
                } } }
            }
        }
    }
}

pub fn render(principal: &Principal, view: &ActivityPage) -> String {
    let body = html! {
        h1 { "Activity" }
        p.muted {
            "Messages are read with peek-lock and released at once, never consumed. Each look counts as one delivery on Service Bus."
        }
        h2 #recent { "Recent commands and their outcomes" }
        @for listing in &view.replies { (replies(listing)) }
        h2 #rejected { "Rejected commands" }
        p.muted { "Kept in " code { (view.rejected.queue) } " with the reason the broker gave." }
        (rejected(&view.rejected))
        h2 #dead-letters { "Dead-letters" }
        p.muted { "Commands Service Bus gave up on, from " code { (view.dead_letters.queue) } "." }
        (dead_letters(&view.dead_letters))
    };
    page("Activity", Nav::Activity, principal, None, body)
}
