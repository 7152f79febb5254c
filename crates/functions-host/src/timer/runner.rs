//! One timer listener per timer function (TimerListener): waits on tokio time for the next
//! occurrence in UTC, detects past-due occurrences from the recorded status, honours
//! runOnStartup, and never overlaps runs of the same function.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::status::{NEVER, ScheduleStatus, StatusStore};
use crate::config::FunctionDef;
use crate::config::function_json::TimerTrigger;
use crate::encoding;
use crate::events::{HostEvent, LogLevel};
use crate::invoke::Invoker;

pub(crate) struct TimerRunner {
    pub function: Arc<FunctionDef>,
    pub trigger: TimerTrigger,
    pub invoker: Invoker,
    pub store: Arc<StatusStore>,
}

impl TimerRunner {
    pub async fn run(self, shutdown: CancellationToken) {
        tokio::select! {
            () = self.schedule_loop() => {}
            () = shutdown.cancelled() => {}
        }
    }

    fn now(&self) -> OffsetDateTime {
        self.invoker.broker().now()
    }

    async fn schedule_loop(&self) {
        let name = &self.function.name;
        let schedule = &self.trigger.schedule;
        let now = self.now();
        let mut monitor = self.trigger.use_monitor;
        if monitor && schedule.fires_more_than_once_a_minute(now) {
            monitor = false;
            self.log(
                LogLevel::Information,
                format!("UseMonitor changed to false for '{name}' since schedule frequency is less than 1 minute"),
            );
        }
        let Some(first_next) = schedule.next_after(now) else {
            self.log(
                LogLevel::Error,
                format!("schedule of '{name}' has no future occurrence"),
            );
            return;
        };
        let mut status = None;
        let mut past_due = false;
        if monitor {
            match self.store.get(name) {
                Some(recorded) => {
                    past_due = now > recorded.next;
                    status = Some(recorded);
                }
                None => {
                    let initial = ScheduleStatus {
                        last: NEVER,
                        next: first_next,
                        last_updated: NEVER,
                    };
                    self.record(initial);
                    status = Some(initial);
                }
            }
        }
        if past_due {
            self.fire(now, true, &mut status, false).await;
        } else if self.trigger.run_on_startup {
            self.fire(now, false, &mut status, true).await;
        }

        let mut next = match status {
            Some(s) if s.next > self.now() => s.next,
            _ => match schedule.next_after(self.now()) {
                Some(n) => n,
                None => return,
            },
        };
        loop {
            loop {
                let remaining = next - self.now();
                if remaining <= time::Duration::ZERO {
                    break;
                }
                let wait = std::time::Duration::try_from(remaining).unwrap_or_default();
                tokio::time::sleep(wait).await;
            }
            let fired_at = self.now();
            if monitor && status.is_none() {
                status = self.store.get(name);
            }
            self.fire(fired_at, false, &mut status, false).await;
            // Occurrences missed while the function ran are skipped, as TimerListener does.
            let after = self.now().max(next);
            next = match schedule.next_after(after) {
                Some(n) => n,
                None => return,
            };
            if let Some(s) = status.as_mut()
                && s.next != next
            {
                s.next = next;
                let s = *s;
                self.record(s);
            }
        }
    }

    async fn fire(
        &self,
        at: OffsetDateTime,
        past_due: bool,
        status: &mut Option<ScheduleStatus>,
        run_on_startup: bool,
    ) {
        let name = &self.function.name;
        self.invoker.events().emit(HostEvent::TimerFired {
            function: name.clone(),
            past_due,
        });
        let status_json = match status {
            Some(s) => json!({
                "Last": encoding::iso_local(s.last),
                "Next": encoding::iso_local(s.next),
                "LastUpdated": encoding::iso_local(s.last_updated),
            }),
            None => Value::Null,
        };
        let mut data = Map::new();
        data.insert(
            self.trigger.binding.clone(),
            json!({
                "Schedule": { "AdjustForDST": true },
                "ScheduleStatus": status_json,
                "IsPastDue": past_due,
            }),
        );
        let metadata = encoding::metadata_with_sys(Map::new(), name, self.now());
        // A failed timer invocation is not retried; the next occurrence runs as scheduled.
        let _ = self.invoker.invoke(&self.function, data, metadata).await;

        if let Some(s) = status.as_mut() {
            let now = self.now();
            if let Some(next) = self.trigger.schedule.next_after(now) {
                *s = ScheduleStatus {
                    last: if run_on_startup { s.last } else { at },
                    next,
                    last_updated: now,
                };
                let s = *s;
                self.record(s);
            }
        }
    }

    fn record(&self, status: ScheduleStatus) {
        if let Err(e) = self.store.set(&self.function.name, status) {
            self.log(
                LogLevel::Warning,
                format!("could not persist timer status: {e}"),
            );
        }
    }

    fn log(&self, level: LogLevel, line: String) {
        self.invoker.events().log("host", level, line);
    }
}

/// The trigger value for tests and documentation.
#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn status_is_written_with_offsets() {
        let s = ScheduleStatus {
            last: datetime!(2024-10-24 14:25:00.0019522 UTC),
            next: datetime!(2024-10-24 14:30 UTC),
            last_updated: datetime!(2024-10-24 14:25:00.0019522 UTC),
        };
        assert_eq!(encoding::iso_local(s.next), "2024-10-24T14:30:00+00:00");
        assert_eq!(
            encoding::iso_local(s.last),
            "2024-10-24T14:25:00.0019522+00:00"
        );
        assert_eq!(encoding::iso_local(NEVER), "0001-01-01T00:00:00+00:00");
    }
}
