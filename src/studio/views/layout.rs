//! The frame every page shares: title, navigation, who is signed in, a skip link for keyboard
//! users, and a small inline stylesheet (no JavaScript, no build step, no external assets).

use maud::{DOCTYPE, Markup, PreEscaped, html};
use time::OffsetDateTime;

use crate::domain::format_utc_seconds;
use crate::studio::BASE;
use crate::studio::auth::Principal;

const STYLE: &str = r#"
:root { color-scheme: light; --fg:#1b1b1b; --muted:#5c5c5c; --line:#d6d6d6; --accent:#0a5fb4; --ok:#106b21; --bad:#a4262c; --warn:#8a5a00; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.45 system-ui, "Segoe UI", "DejaVu Sans", sans-serif; color:var(--fg); background:#fafafa; }
a { color:var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible, summary:focus-visible { outline:3px solid #f0a30a; outline-offset:2px; }
.skip { position:absolute; left:-999px; } .skip:focus { left:8px; top:8px; background:#fff; padding:4px 8px; }
header { background:#20232a; color:#fff; padding:10px 20px; display:flex; gap:24px; align-items:center; flex-wrap:wrap; }
header a { color:#fff; text-decoration:none; padding:4px 2px; }
header a[aria-current=page] { border-bottom:3px solid #6cb8ff; }
header .who { margin-left:auto; color:#cfd6e0; font-size:13px; }
main { max-width:1200px; margin:0 auto; padding:16px 20px 40px; }
h1 { font-size:22px; margin:8px 0 12px; } h2 { font-size:18px; margin:24px 0 8px; } h3 { font-size:16px; margin:16px 0 6px; }
table { border-collapse:collapse; width:100%; background:#fff; margin:6px 0 12px; }
th, td { text-align:left; vertical-align:top; padding:6px 8px; border-bottom:1px solid var(--line); }
th { background:#f0f2f5; font-weight:600; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size:13px; word-break:break-all; }
.muted { color:var(--muted); }
.badge { display:inline-block; padding:0 6px; border-radius:9px; font-size:12px; border:1px solid currentColor; white-space:nowrap; }
.ok { color:var(--ok); } .bad { color:var(--bad); } .warn { color:var(--warn); }
.first { font-weight:600; }
form.panel, .panel { background:#fff; border:1px solid var(--line); border-radius:6px; padding:12px 16px; margin:8px 0 16px; }
fieldset { border:1px solid var(--line); border-radius:4px; margin:8px 0; padding:8px 12px; }
label { display:block; font-weight:600; margin-top:8px; }
.hint { font-weight:normal; color:var(--muted); font-size:13px; display:block; }
input[type=text], select, textarea { width:100%; max-width:760px; padding:6px; font:inherit; border:1px solid #8a8a8a; border-radius:3px; }
textarea { min-height:64px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size:13px; }
.check { display:flex; gap:6px; align-items:center; font-weight:normal; }
button { font:inherit; padding:6px 14px; margin-top:10px; border-radius:3px; border:1px solid var(--accent); background:var(--accent); color:#fff; cursor:pointer; }
button.danger { background:var(--bad); border-color:var(--bad); }
details > summary { cursor:pointer; font-weight:600; color:var(--accent); padding:4px 0; }
dl.props { display:grid; grid-template-columns: max-content 1fr; gap:4px 16px; background:#fff; border:1px solid var(--line); padding:10px 14px; border-radius:6px; }
dl.props dt { font-weight:600; } dl.props dd { margin:0; }
.notice { border-left:4px solid var(--accent); background:#fff; padding:8px 12px; margin:8px 0; }
.notice.bad { border-color:var(--bad); color:inherit; } .notice.ok { border-color:var(--ok); color:inherit; }
ul.flat { margin:0; padding-left:18px; }
ul.checklist { list-style:none; padding-left:0; } ul.checklist li { margin:4px 0; } .fix { margin-left:1.4em; }
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Pools,
    Activity,
    Cleanup,
    None,
}

/// `2025-12-01 18:00:00 UTC`: the one UTC format (domain::format_utc_seconds), made readable.
pub fn time(at: Option<OffsetDateTime>) -> String {
    at.map(|t| {
        format_utc_seconds(t)
            .replacen('T', " ", 1)
            .replace('Z', " UTC")
    })
    .unwrap_or_default()
}

/// A whole page. `refresh`: seconds after which the browser reloads it (a reply still on its way).
pub fn page(
    title: &str,
    nav: Nav,
    principal: &Principal,
    refresh: Option<u32>,
    body: Markup,
) -> String {
    let current = |n: &Nav| -> Option<&'static str> { (*n == nav).then_some("page") };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(secs) = refresh { meta http-equiv="refresh" content=(secs); }
                title { (title) " · poolbroker Studio" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    strong { "poolbroker Studio" }
                    nav aria-label="Studio" {
                        a href={ (BASE) "/" } aria-current=[current(&Nav::Pools)] { "Attached computes" }
                        " "
                        a href={ (BASE) "/activity" } aria-current=[current(&Nav::Activity)] { "Activity" }
                        " "
                        a href={ (BASE) "/cleanup" } aria-current=[current(&Nav::Cleanup)] { "Cleanup plan" }
                    }
                    span.who {
                        @match &principal.name {
                            Some(name) => { "Signed in as " (name) }
                            None => { "Local (no sign-in)" }
                        }
                    }
                }
                main #main tabindex="-1" { (body) }
            }
        }
    }
    .into_string()
}
