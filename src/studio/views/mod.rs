//! Server-rendered HTML (maud): readable without JavaScript, every field labelled, every action
//! a plain form.

pub mod activity;
pub mod cleanup;
pub mod command;
mod doctor;
mod identity;
pub mod layout;
pub mod pool;
pub mod pools;

use maud::html;

use super::auth::Principal;
use layout::{Nav, page};

/// A page that says what went wrong and what to do; never a stack trace or a setting's value.
pub fn message(principal: &Principal, title: &str, text: &str) -> String {
    let body = html! {
        h1 { (title) }
        p.notice.bad role="alert" { (text) }
        p { a href={ (super::BASE) "/" } { "Attached computes" } }
    };
    page(title, Nav::None, principal, None, body)
}

/// The refusal page, for someone who is not (or not yet) allowed in: no navigation into pages
/// they cannot use.
pub fn refused(title: &str, text: &str) -> String {
    html! {
        (maud::DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { (title) " · poolbroker Studio" } }
            body { main { h1 { (title) } p role="alert" { (text) } } }
        }
    }
    .into_string()
}
