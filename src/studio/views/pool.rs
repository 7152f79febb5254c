//! A pool's details page: properties, managed identity (with its edit form), recent jobs on the
//! pool, and detach.

use maud::{Markup, html};

use super::doctor::checklist;
use super::identity::identity_cell;
use super::layout::{Nav, page, time};
use super::pools::identity_fields;
use crate::domain::doctor::Checklist;
use crate::domain::{AttachedPool, WorkspaceId};
use crate::studio::BASE;
use crate::studio::auth::Principal;
use crate::studio::data::{JobRow, ReadError};

pub struct PoolPage<'a> {
    pub workspace: &'a WorkspaceId,
    pub pool: &'a AttachedPool,
    pub jobs: Result<Vec<JobRow>, ReadError>,
    pub doctor: Result<Checklist, ReadError>,
}

fn properties(p: &AttachedPool) -> Markup {
    let row = |label: &str, value: Option<String>| {
        html! { dt { (label) } dd { (value.unwrap_or_default()) } }
    };
    html! {
        dl.props {
            (row("Provisioning state", p.provisioning_state.clone()))
            @if let Some(err) = &p.provisioning_error { (row("Provisioning error", Some(err.clone()))) }
            (row("Spark version", p.spark_version.clone()))
            (row("Nodes", p.node_count.map(|n| n.to_string())))
            (row("Node size", p.node_size.clone()))
            (row("Location", p.location.clone()))
            dt { "Synapse Spark pool" } dd.mono { (p.resource_id.as_deref().unwrap_or("")) }
            (row("Created", Some(time(p.created_on))))
            (row("Expires", p.expires_at().map(|t| time(Some(t))).or(Some("no TTL".into()))))
            dt { "Tags" }
            dd { ul.flat { @for (k, v) in &p.tags { li.mono { (k) "=" (v) } } } }
        }
    }
}

fn jobs_table(jobs: &Result<Vec<JobRow>, ReadError>) -> Markup {
    html! {
        @match jobs {
            Err(e) => { p.notice.bad role="alert" { "Could not list the workspace's jobs: " (e) } }
            Ok(rows) if rows.is_empty() => { p.muted { "No job has run on this pool." } }
            Ok(rows) => {
                table {
                    thead { tr { th scope="col" { "Job" } th scope="col" { "Status (as Azure ML reports it)" } th scope="col" { "Created" } } }
                    tbody {
                        @for job in rows.iter().take(20) {
                            tr {
                                td { span.mono { (job.name) } @if let Some(d) = &job.display_name { br; span.muted { (d) } } }
                                td { (job.status) }
                                td { (time(job.created_at)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn render(principal: &Principal, csrf: &str, view: &PoolPage<'_>) -> String {
    let p = view.pool;
    let ws = view.workspace.arm_id();
    let current = p.identity.as_ref().map(|id| {
        (
            id.identity_type.az_str(),
            id.user_assigned
                .iter()
                .map(|u| u.resource_id.as_str().to_owned())
                .collect::<Vec<String>>(),
        )
    });
    let body = html! {
        p { a href={ (BASE) "/" } { "← Attached computes" } }
        h1 { (p.name) }
        p.muted { "Workspace " (view.workspace.name()) }
        h2 { "Properties" }
        (properties(p))
        h2 #checks { "Checks (doctor)" }
        (checklist(&view.doctor))
        h2 #identity { "Managed identity" }
        div.panel { (identity_cell(p.identity.as_ref())) }
        details #edit-identity {
            summary { "Edit the managed identity" }
            form.panel method="post" action={ (BASE) "/identity" } {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="ws" value=(ws);
                input type="hidden" name="name" value=(p.name);
                (identity_fields("identity", current))
                button type="submit" { "Update" }
            }
        }
        h2 { "Recent jobs on this pool" }
        (jobs_table(&view.jobs))
        h2 { "Detach" }
        form.panel method="post" action={ (BASE) "/detach" } {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="ws" value=(ws);
            input type="hidden" name="name" value=(p.name);
            p { "Detaching removes the compute from the Azure ML workspace; the Synapse Spark pool itself is not deleted." }
            label.check for="detach-force" {
                input #detach-force type="checkbox" name="force";
                "Detach even if jobs are running on it"
            }
            button.danger type="submit" { "Detach " (p.name) }
        }
    };
    page(&p.name, Nav::Pools, principal, None, body)
}
