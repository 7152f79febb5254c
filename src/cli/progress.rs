//! Progress of a long wait (`--wait`, long-running ARM operations, a reply on a queue) on
//! stderr: a spinner with the latest state on a terminal, plain lines otherwise (CI logs, pipes),
//! one per change so a log shows each step once. A quick command prints no plain line at all:
//! the first one comes with the first update.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::domain::Command;

pub struct Progress {
    bar: Option<ProgressBar>,
    last: Mutex<String>,
}

impl Progress {
    /// On stderr: a spinner when it is a terminal, plain lines when it is not.
    pub fn start(message: impl Into<String>) -> Self {
        Self::with_terminal(std::io::stderr().is_terminal(), message)
    }

    /// Like [`Self::start`], but a plain line is printed at once too: for a wait known to be
    /// long (a reply on a queue).
    pub fn start_announced(message: impl Into<String>) -> Self {
        let message = message.into();
        let progress = Self::start(message.clone());
        if progress.bar.is_none() {
            eprintln!("{message}");
        }
        progress
    }

    fn with_terminal(terminal: bool, message: impl Into<String>) -> Self {
        let message = message.into();
        let bar = terminal.then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar.set_message(message.clone());
            bar
        });
        Self {
            bar,
            last: Mutex::new(message),
        }
    }

    /// Shows `message` (a plain line only when it differs from the last one).
    pub fn update(&self, message: impl Into<String>) {
        let message = message.into();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if *last == message {
            return;
        }
        match &self.bar {
            Some(bar) => bar.set_message(message.clone()),
            None => eprintln!("{message}"),
        }
        *last = message;
    }

    /// Removes the spinner line (plain output keeps its lines).
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// What a follow-up is waiting for, in words.
pub fn waiting_for(command: &Command) -> String {
    match command {
        Command::TrackSparkJob(track) => format!(
            "job {}: Azure ML reports it {} (status read {})",
            track.job.as_str(),
            track.last_status.as_deref().unwrap_or("Unknown"),
            track.attempt
        ),
        Command::AwaitOperation(op) => format!(
            "{} {}: the Azure operation is still running (check {})",
            op.action.command_kind(),
            op.action.name().as_str(),
            op.attempt
        ),
        other => format!("{}: still running", other.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_progress_remembers_the_last_line() {
        let p = Progress::with_terminal(false, "waiting");
        assert_eq!(*p.last.lock().unwrap(), "waiting");
        p.update("job x: Azure ML reports it Running (status read 2)");
        assert_eq!(
            *p.last.lock().unwrap(),
            "job x: Azure ML reports it Running (status read 2)"
        );
        assert!(p.bar.is_none());
        p.finish();
    }

    #[test]
    fn terminal_progress_is_a_spinner() {
        let p = Progress::with_terminal(true, "waiting");
        assert!(p.bar.is_some());
        p.finish();
    }
}
