//! The cleanup plan: what the next timer run would detach, and why each other pool stays.

use maud::html;

use super::layout::{Nav, page};
use super::pools::pool_href;
use crate::domain::WorkspaceId;
use crate::studio::auth::Principal;
use crate::studio::data::{PlanView, ReadError};

pub struct WorkspacePlan {
    pub workspace: WorkspaceId,
    pub dry_run_configured: bool,
    pub plan: Result<PlanView, ReadError>,
}

pub fn render(principal: &Principal, plans: &[WorkspacePlan]) -> String {
    let body = html! {
        h1 { "Cleanup plan" }
        p.muted { "A dry run of the cleanup timer's policy, computed now: nothing is detached by viewing this page." }
        @for wp in plans {
            h2 { "Workspace " (wp.workspace.name()) }
            @if wp.dry_run_configured {
                p.notice { "This workspace's policy is dry_run: the timer reports, and never detaches." }
            }
            @match &wp.plan {
                Err(e) => { p.notice.bad role="alert" { "Could not compute the plan: " (e) } }
                Ok(plan) => {
                    h3 { "Would detach" }
                    @if plan.to_detach.is_empty() { p.muted { "Nothing." } }
                    @else { table { thead { tr { th scope="col" { "Pool" } th scope="col" { "Why" } } }
                        tbody { @for d in &plan.to_detach { tr {
                            td { a href=(pool_href(&wp.workspace, &d.name)) { (d.name) } } td { (d.reason) } } } } } }
                    h3 { "Would keep" }
                    @if plan.kept.is_empty() { p.muted { "Nothing." } }
                    @else { table { thead { tr { th scope="col" { "Pool" } th scope="col" { "Why" } } }
                        tbody { @for d in &plan.kept { tr {
                            td { a href=(pool_href(&wp.workspace, &d.name)) { (d.name) } } td { (d.reason) } } } } } }
                }
            }
        }
    };
    page("Cleanup plan", Nav::Cleanup, principal, None, body)
}
