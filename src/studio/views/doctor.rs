//! The `doctor` checklist on a pool's details page: ✓/✗ per check, and what to do for each ✗.

use maud::{Markup, html};

use crate::domain::doctor::Checklist;
use crate::studio::data::ReadError;

pub fn checklist(list: &Result<Checklist, ReadError>) -> Markup {
    html! {
        @match list {
            Err(e) => { p.notice.bad role="alert" { "Could not run the checks: " (e) } }
            Ok(list) => {
                @let failed = list.checks.iter().filter(|c| !c.ok).count();
                @if failed == 0 {
                    p.notice.ok #doctor-summary { "All checks passed." }
                } @else {
                    p.notice.bad #doctor-summary { (failed) " check(s) failed: see what to do below." }
                }
                ul.checklist #doctor {
                    @for c in &list.checks {
                        li data-ok=(c.ok) {
                            @if c.ok { span.ok aria-label="passed" { "✓" } } @else { span.bad aria-label="failed" { "✗" } }
                            " " strong { (c.label) } ": " (c.detail)
                            @if let Some(fix) = &c.fix { br; span.fix { "What to do: " span.mono { (fix) } } }
                        }
                    }
                }
                p.muted { "The same checks as " span.mono { "poolbroker doctor " (list.name) } " (the CheckPool command); nothing is changed by looking." }
            }
        }
    }
}
