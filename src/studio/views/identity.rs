//! A pool's managed identity, with the identity that submits jobs marked: the first
//! user-assigned identity (seed 001: "the first user-assigned identity in the list will be used
//! for submitting a job by default").

use maud::{Markup, html};

use crate::domain::PoolIdentity;

pub fn identity_cell(identity: Option<&PoolIdentity>) -> Markup {
    html! {
        @match identity {
            None => { span.muted { "none" } }
            Some(id) => {
                span { (id.identity_type.az_str()) }
                @if !id.user_assigned.is_empty() {
                    ol.flat {
                        @for (i, uai) in id.user_assigned.iter().enumerate() {
                            @if i == 0 {
                                li.first data-submits-jobs="true" title=(uai.resource_id.as_str()) {
                                    (uai.resource_id.name()) " "
                                    span.badge.ok { "submits jobs" }
                                }
                            } @else {
                                li title=(uai.resource_id.as_str()) { (uai.resource_id.name()) }
                            }
                        }
                    }
                } @else if id.identity_type.az_str().contains("system") {
                    " " span.badge.ok { "system-assigned submits jobs" }
                }
            }
        }
    }
}
