//! "Attached computes": the pools of every allowed workspace, and the attach panel.

use maud::{Markup, html};
use time::OffsetDateTime;

use super::identity::identity_cell;
use super::layout::{Nav, page, time};
use crate::domain::{AttachedPool, MANAGED_TAG, WorkspaceId, tag_is_true, tag_value};
use crate::studio::BASE;
use crate::studio::auth::Principal;
use crate::studio::data::ReadError;

pub struct WorkspacePools {
    pub workspace: WorkspaceId,
    pub pools: Result<Vec<AttachedPool>, ReadError>,
}

pub fn pool_href(ws: &WorkspaceId, name: &str) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("ws", &ws.arm_id())
        .append_pair("name", name)
        .finish();
    format!("{BASE}/pool?{query}")
}

fn managed(pool: &AttachedPool) -> bool {
    tag_is_true(tag_value(&pool.tags, MANAGED_TAG))
}

fn expiry(pool: &AttachedPool, now: OffsetDateTime) -> Markup {
    match pool.expires_at() {
        None => html! { span.muted { "no TTL" } },
        Some(at) if at <= now => {
            html! { span.warn { (time(Some(at))) " (expired: next cleanup detaches it)" } }
        }
        Some(at) => html! { (time(Some(at))) },
    }
}

fn pools_table(ws: &WorkspaceId, pools: &[AttachedPool], now: OffsetDateTime) -> Markup {
    html! {
        @if pools.is_empty() {
            p.muted { "No Synapse Spark pool is attached to this workspace." }
        } @else {
            table {
                caption.muted { "Attached Synapse Spark pools of " (ws.name()) }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "State" } th scope="col" { "Spark" }
                    th scope="col" { "Nodes" } th scope="col" { "Identity" } th scope="col" { "Tags" }
                    th scope="col" { "Expires" } th scope="col" { "Managed by poolbroker" }
                } }
                tbody {
                    @for pool in pools {
                        tr data-pool=(pool.name) {
                            td { a href=(pool_href(ws, &pool.name)) { (pool.name) } }
                            td { (pool.provisioning_state.as_deref().unwrap_or("")) }
                            td { (pool.spark_version.as_deref().unwrap_or("")) }
                            td { (pool.node_count.map(|n| n.to_string()).unwrap_or_default()) " " span.muted { (pool.node_size.as_deref().unwrap_or("")) } }
                            td { (identity_cell(pool.identity.as_ref())) }
                            td {
                                @if pool.tags.is_empty() { span.muted { "none" } }
                                ul.flat { @for (k, v) in &pool.tags { li.mono { (k) "=" (v) } } }
                            }
                            td { (expiry(pool, now)) }
                            td { @if managed(pool) { "yes" } @else { "no" } }
                        }
                    }
                }
            }
        }
    }
}

/// The attach panel of the Studio's Compute tab: name, subscription, Synapse workspace, Spark
/// pool, identity type and user-assigned identities, plus poolbroker's tags and TTL.
fn attach_form(workspaces: &[WorkspaceId], csrf: &str) -> Markup {
    let first = workspaces.first();
    html! {
        details #attach {
            summary { "New: attach a Synapse Spark pool" }
            form.panel method="post" action={ (BASE) "/attach" } {
                input type="hidden" name="csrf" value=(csrf);
                label for="attach-ws" { "Azure ML workspace" }
                select #attach-ws name="ws" {
                    @for ws in workspaces { option value=(ws.arm_id()) { (ws.name()) " (" (ws.resource_group()) ")" } }
                }
                label for="attach-name" { "Name" span.hint { "The compute name inside Azure ML: 3 to 24 letters, digits and hyphens, starting with a letter." } }
                input #attach-name type="text" name="name" required autocomplete="off";
                fieldset {
                    legend { "Synapse Spark pool" }
                    label for="attach-sub" { "Subscription" }
                    input #attach-sub type="text" name="subscription" required value=[first.map(|w| w.subscription_id())];
                    label for="attach-rg" { "Resource group" }
                    input #attach-rg type="text" name="resource_group" required value=[first.map(|w| w.resource_group())];
                    label for="attach-syn" { "Synapse workspace" }
                    input #attach-syn type="text" name="synapse_workspace" required;
                    label for="attach-pool" { "Spark pool" }
                    input #attach-pool type="text" name="spark_pool" required;
                }
                (identity_fields("attach", None))
                label for="attach-tags" { "Tags" span.hint { "One key=value per line." } }
                textarea #attach-tags name="tags" {}
                label for="attach-ttl" { "TTL" span.hint { "Optional: 30m, 8h, 7d. The cleanup timer detaches the pool after it." } }
                input #attach-ttl type="text" name="ttl" autocomplete="off";
                button type="submit" { "Attach" }
            }
        }
    }
}

/// The identity type and user-assigned identities fields (attach panel and details page).
pub fn identity_fields(prefix: &str, current: Option<(&str, Vec<String>)>) -> Markup {
    // Attaching, like the Studio's toggle, assigns no identity unless asked to.
    let (kind, ids) = current.unwrap_or(("none_sent", Vec::new()));
    let options = [
        ("system_assigned", "System-assigned"),
        ("user_assigned", "User-assigned"),
        ("system_assigned,user_assigned", "System- and user-assigned"),
        ("none", "None"),
    ];
    html! {
        fieldset {
            legend { "Managed identity" }
            label for={ (prefix) "-idtype" } { "Identity type" }
            select id={ (prefix) "-idtype" } name="identity_type" {
                @if prefix == "attach" { option value="none_sent" { "Do not assign a managed identity" } }
                @for (value, text) in options {
                    option value=(value) selected[value == kind] { (text) }
                }
            }
            label for={ (prefix) "-ids" } {
                "User-assigned identities"
                span.hint { "One resource id per line. The first one submits jobs by default." }
            }
            textarea id={ (prefix) "-ids" } name="identities" { (ids.join("\n")) }
        }
    }
}

pub fn render(
    principal: &Principal,
    csrf: &str,
    groups: &[WorkspacePools],
    now: OffsetDateTime,
) -> String {
    let workspaces: Vec<WorkspaceId> = groups.iter().map(|g| g.workspace.clone()).collect();
    let body = html! {
        h1 { "Attached computes" }
        @if groups.is_empty() {
            p.notice.bad { "No workspace configured: set POOLBROKER_DEFAULT_WORKSPACE or POOLBROKER_CLEANUP_POLICY." }
        } @else {
            (attach_form(&workspaces, csrf))
        }
        @for group in groups {
            h2 { "Workspace " (group.workspace.name()) }
            p.muted.mono { (group.workspace.arm_id()) }
            @match &group.pools {
                Ok(pools) => { (pools_table(&group.workspace, pools, now)) }
                Err(e) => { p.notice.bad role="alert" { "Could not list the pools: " (e) } }
            }
        }
    };
    page("Attached computes", Nav::Pools, principal, None, body)
}
