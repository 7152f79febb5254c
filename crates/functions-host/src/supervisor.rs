//! Starts the custom handler the way the Functions host does and keeps it running.
//!
//! Rules (HttpFunctionInvocationDispatcher / WorkerProcess): readiness is any HTTP answer to
//! `GET /` (polled every 25 ms); exit 0 is not restarted; exit 200 is an intentional restart;
//! any other exit, a failed start or a readiness timeout is an error event and the handler is
//! restarted; the third error event within 30 minutes of the previous one stops the host. A
//! function timeout kills and restarts the handler without counting as an error.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::HandlerCommand;
use crate::config::settings::Settings;
use crate::error::HostError;
use crate::events::{Events, HostEvent, LogLevel};

const READINESS_POLL: Duration = Duration::from_millis(25);
const ERROR_EVENTS_THRESHOLD: usize = 3;
const ERROR_WINDOW: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HandlerState {
    Starting,
    Ready {
        port: u16,
        generation: u64,
    },
    /// Exit code 0: the host does not restart the handler.
    ExitedCleanly,
    /// The host is stopping or has stopped.
    Stopped(String),
}

/// What invocations use to reach the handler.
#[derive(Clone)]
pub(crate) struct HandlerLink {
    state: watch::Receiver<HandlerState>,
    restart: mpsc::UnboundedSender<u64>,
    max_wait: Duration,
}

impl HandlerLink {
    /// Waits while the handler (re)starts, as the host's invoker does: up to
    /// `(ErrorEventsThreshold + 1) × initializationTimeout`.
    pub async fn ready(&self) -> Result<(u16, u64), String> {
        let mut rx = self.state.clone();
        let waited = tokio::time::timeout(
            self.max_wait,
            rx.wait_for(|s| !matches!(s, HandlerState::Starting)),
        )
        .await;
        let state = match waited {
            Err(_) => {
                return Err("Initialization timed out and host is shutting down".to_owned());
            }
            Ok(Err(_)) => return Err("the host has stopped".to_owned()),
            Ok(Ok(state)) => state.clone(),
        };
        match state {
            HandlerState::Ready { port, generation } => Ok((port, generation)),
            HandlerState::ExitedCleanly => {
                Err("the handler exited with code 0 and is not restarted".to_owned())
            }
            HandlerState::Stopped(why) => Err(why),
            HandlerState::Starting => Err("the handler is still starting".to_owned()),
        }
    }

    /// After a transport error or a timeout restart, give the supervisor a moment to take
    /// instance `generation` out of service. Without this, the failure → abandon → redelivery loop would outrun
    /// the exit notification and burn through delivery counts against a dead port.
    pub async fn wait_out_of_service(&self, generation: u64, within: Duration) {
        let mut rx = self.state.clone();
        let _ = tokio::time::timeout(
            within,
            rx.wait_for(
                |s| !matches!(s, HandlerState::Ready { generation: g, .. } if *g == generation),
            ),
        )
        .await;
    }

    /// Kill and restart the handler instance `generation` (function timeout).
    pub fn restart(&self, generation: u64) {
        let _ = self.restart.send(generation);
    }
}

pub(crate) struct Supervisor {
    pub command: HandlerCommand,
    pub settings: Settings,
    pub app_root: std::path::PathBuf,
    pub port: u16,
    pub initialization_timeout: Duration,
    pub events: Events,
}

/// Picks a free loopback port the way `WorkerUtilities.GetUnusedTcpPort` does.
pub(crate) fn unused_tcp_port() -> Result<u16, HostError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(HostError::NoFreePort)?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(HostError::NoFreePort)
}

enum Ending {
    Exited(Option<i32>),
    Restart,
    Shutdown,
}

impl Supervisor {
    /// Starts supervising; the task ends `Ok` on shutdown and `Err` when the restart limit is hit.
    pub fn spawn(
        self,
        shutdown: CancellationToken,
    ) -> (HandlerLink, tokio::task::JoinHandle<Result<(), HostError>>) {
        let (state_tx, state_rx) = watch::channel(HandlerState::Starting);
        let (restart_tx, restart_rx) = mpsc::unbounded_channel();
        let link = HandlerLink {
            state: state_rx,
            restart: restart_tx,
            max_wait: self.initialization_timeout * (ERROR_EVENTS_THRESHOLD as u32 + 1),
        };
        let task = tokio::spawn(async move {
            let result = self.run(&state_tx, restart_rx, &shutdown).await;
            let why = match &result {
                Ok(()) => "the host is shutting down".to_owned(),
                Err(e) => e.to_string(),
            };
            state_tx.send_replace(HandlerState::Stopped(why));
            result
        });
        (link, task)
    }

    async fn run(
        &self,
        state: &watch::Sender<HandlerState>,
        mut restart_rx: mpsc::UnboundedReceiver<u64>,
        shutdown: &CancellationToken,
    ) -> Result<(), HostError> {
        let mut error_times: Vec<Instant> = Vec::new();
        let mut generation: u64 = 0;
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            generation += 1;
            state.send_replace(HandlerState::Starting);
            let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
            let (mut child, readers) = match self.start(&stderr_tail) {
                Ok(started) => started,
                Err(e) => {
                    let detail = format!("failed to start the handler: {e}");
                    self.events.log("host", LogLevel::Error, detail.clone());
                    self.count_error(&mut error_times, detail, Vec::new())?;
                    continue;
                }
            };
            let pid = child.id().unwrap_or_default();
            self.events.emit(HostEvent::HandlerStarted {
                pid,
                port: self.port,
            });

            let started = Instant::now();
            let readiness = tokio::time::timeout(self.initialization_timeout, self.poll_ready());
            let ending = tokio::select! {
                ready = readiness => match ready {
                    Ok(()) => None,
                    Err(_) => {
                        let detail = "Initializing HttpWorker timed out.".to_owned();
                        self.events.log("host", LogLevel::Error, detail.clone());
                        kill(&mut child).await;
                        self.events.emit(HostEvent::HandlerExited { code: None });
                        self.count_error(&mut error_times, detail, tail(&stderr_tail))?;
                        continue;
                    }
                },
                status = child.wait() => Some(Ending::Exited(status.ok().and_then(|s| s.code()))),
                () = shutdown.cancelled() => Some(Ending::Shutdown),
            };
            let ending = match ending {
                Some(e) => e,
                None => {
                    let after = started.elapsed();
                    self.events.emit(HostEvent::HandlerReady {
                        port: self.port,
                        after,
                    });
                    state.send_replace(HandlerState::Ready {
                        port: self.port,
                        generation,
                    });
                    loop {
                        tokio::select! {
                            status = child.wait() => break Ending::Exited(status.ok().and_then(|s| s.code())),
                            asked = restart_rx.recv() => match asked {
                                Some(g) if g == generation => break Ending::Restart,
                                Some(_) => continue,
                                None => break Ending::Shutdown,
                            },
                            () = shutdown.cancelled() => break Ending::Shutdown,
                        }
                    }
                }
            };
            // Nothing may reach this instance any more.
            state.send_replace(HandlerState::Starting);
            match ending {
                Ending::Shutdown => {
                    kill(&mut child).await;
                    state.send_replace(HandlerState::Stopped("the host is shutting down".into()));
                    return Ok(());
                }
                Ending::Restart => {
                    self.events.log(
                        "host",
                        LogLevel::Warning,
                        format!("Restarting the handler (pid {pid}) after a function timeout"),
                    );
                    kill(&mut child).await;
                    self.events.emit(HostEvent::HandlerExited { code: None });
                }
                Ending::Exited(code) => {
                    // Let the readers drain so the exit message has the last stderr lines.
                    let _ = tokio::time::timeout(Duration::from_millis(500), readers).await;
                    let lines = tail(&stderr_tail);
                    self.events.emit(HostEvent::HandlerExited { code });
                    let code_text = code.map_or_else(|| "signal".to_owned(), |c| c.to_string());
                    self.events.log(
                        "host",
                        if code == Some(0) { LogLevel::Information } else { LogLevel::Error },
                        format!(
                            "Language Worker Process exited. Pid={pid}. Exit code: {code_text}. Last stderr lines: {lines:?}"
                        ),
                    );
                    match code {
                        Some(0) => {
                            state.send_replace(HandlerState::ExitedCleanly);
                            shutdown.cancelled().await;
                            return Ok(());
                        }
                        Some(200) => {}
                        _ => self.count_error(
                            &mut error_times,
                            format!("exit code {code_text}"),
                            lines,
                        )?,
                    }
                }
            }
        }
    }

    /// Records an error event; the third within the window stops the host.
    fn count_error(
        &self,
        times: &mut Vec<Instant>,
        last_exit: String,
        stderr: Vec<String>,
    ) -> Result<(), HostError> {
        let now = Instant::now();
        if times
            .last()
            .is_some_and(|t| now.duration_since(*t) > ERROR_WINDOW)
        {
            times.clear();
        }
        times.push(now);
        if times.len() >= ERROR_EVENTS_THRESHOLD {
            let err = HostError::HandlerRestartLimit { last_exit, stderr };
            self.events.log("host", LogLevel::Error, err.to_string());
            return Err(err);
        }
        Ok(())
    }

    fn start(
        &self,
        stderr_tail: &Arc<Mutex<VecDeque<String>>>,
    ) -> std::io::Result<(Child, futures::future::BoxFuture<'static, ()>)> {
        let worker_id = Uuid::new_v4().to_string();
        let port = self.port.to_string();
        let mut cmd = Command::new(&self.command.executable);
        cmd.args(&self.command.arguments)
            .current_dir(&self.command.working_dir)
            .envs(self.settings.app_settings())
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", &port)
            .env("FUNCTIONS_HTTPWORKER_PORT", &port)
            .env("FUNCTIONS_CUSTOMHANDLER_WORKER_ID", &worker_id)
            .env("FUNCTIONS_HTTPWORKER_ID", &worker_id)
            .env("FUNCTIONS_APP_ROOT_PATH", &self.app_root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("{}: {e}", self.command.executable.display()),
            )
        })?;
        let mut tasks = Vec::new();
        if let Some(out) = child.stdout.take() {
            let events = self.events.clone();
            tasks.push(tokio::spawn(async move {
                let mut lines = BufReader::new(out).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    events.log("handler", LogLevel::Information, line);
                }
            }));
        }
        if let Some(err) = child.stderr.take() {
            let events = self.events.clone();
            let tail = stderr_tail.clone();
            tasks.push(tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(mut t) = tail.lock() {
                        if t.len() == 3 {
                            t.pop_front();
                        }
                        t.push_back(line.clone());
                    }
                    events.log("handler", LogLevel::Error, line);
                }
            }));
        }
        let readers = Box::pin(async move {
            for t in tasks {
                let _ = t.await;
            }
        });
        Ok((child, readers))
    }

    /// Any HTTP answer means ready; only a refused connection keeps waiting.
    async fn poll_ready(&self) {
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(5))
            .build();
        let Ok(client) = client else {
            return;
        };
        let url = format!("http://127.0.0.1:{}/", self.port);
        loop {
            match client.get(&url).send().await {
                Ok(_) => return,
                Err(e) if e.is_connect() => tokio::time::sleep(READINESS_POLL).await,
                Err(_) => return,
            }
        }
    }
}

fn tail(lines: &Arc<Mutex<VecDeque<String>>>) -> Vec<String> {
    lines
        .lock()
        .map(|t| t.iter().cloned().collect())
        .unwrap_or_default()
}

async fn kill(child: &mut Child) {
    let _ = child.start_kill();
    let _ = child.wait().await;
}
