//! Schedule status (`ScheduleMonitor`): last run, next expected occurrence, last update. Kept in
//! memory and, with a state dir, in `timer-status.json`, so that a host restart after a missed
//! occurrence runs the function once as past due.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::HostError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleStatus {
    #[serde(with = "time::serde::rfc3339")]
    pub last: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub next: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_updated: OffsetDateTime,
}

/// `default(DateTime)`, which the host records as `Last` before the first run.
pub const NEVER: OffsetDateTime = time::macros::datetime!(0001-01-01 00:00 UTC);

pub(crate) struct StatusStore {
    file: Option<PathBuf>,
    entries: Mutex<BTreeMap<String, ScheduleStatus>>,
}

impl StatusStore {
    pub fn open(state_dir: Option<PathBuf>) -> Result<Self, HostError> {
        let file = state_dir.map(|d| d.join("timer-status.json"));
        let mut entries = BTreeMap::new();
        if let Some(path) = &file
            && path.is_file()
        {
            let text = std::fs::read_to_string(path).map_err(|source| HostError::Io {
                path: path.clone(),
                source,
            })?;
            entries = serde_json::from_str(&text).map_err(|e| {
                HostError::config(path, "(document)", format!("invalid timer status: {e}"))
            })?;
        }
        Ok(Self {
            file,
            entries: Mutex::new(entries),
        })
    }

    pub fn get(&self, function: &str) -> Option<ScheduleStatus> {
        self.entries.lock().ok()?.get(function).copied()
    }

    /// Records the status; a failure to persist is returned for logging, the memory copy stays.
    pub fn set(&self, function: &str, status: ScheduleStatus) -> Result<(), String> {
        let snapshot = {
            let mut entries = self
                .entries
                .lock()
                .map_err(|_| "timer status store poisoned".to_owned())?;
            entries.insert(function.to_owned(), status);
            entries.clone()
        };
        let Some(path) = &self.file else {
            return Ok(());
        };
        let text = serde_json::to_string_pretty(&snapshot).map_err(|e| e.to_string())?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn persists_across_instances() {
        let dir = std::env::temp_dir().join(format!("fh-status-{}", uuid::Uuid::new_v4()));
        let status = ScheduleStatus {
            last: NEVER,
            next: datetime!(2024-10-24 14:30 UTC),
            last_updated: datetime!(2024-10-24 14:25:00.5 UTC),
        };
        StatusStore::open(Some(dir.clone()))
            .unwrap()
            .set("Cleanup", status)
            .unwrap();
        let reopened = StatusStore::open(Some(dir.clone())).unwrap();
        assert_eq!(reopened.get("Cleanup"), Some(status));
        assert_eq!(reopened.get("Other"), None);
        let _ = std::fs::remove_dir_all(dir);
    }
}
