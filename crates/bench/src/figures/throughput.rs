//! Figure 4 (and poolbroker's half of figure 5): attach commands per second end to end — sent to
//! the Service Bus emulator, delivered by the local Functions host to the real handler process,
//! executed against the ARM emulator, replied through Service Bus — at a given
//! `maxConcurrentCalls`; ARM calls per command; the handler's peak RSS.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use functions_host::HostEvent;
use poolbroker::local::{LocalOptions, LocalWorld};
use serde_json::Value;
use servicebus_emulator::OutgoingMessage;

use crate::handler_process::{cpu_time, peak_rss_kib, rss_kib};
use crate::scenario::{Op, emulator_config};

pub const COMMANDS: &str = "pool-commands";
pub const REPLIES: &str = "pool-replies";

/// One batch: `commands` attach commands sent at once, timed until the last reply.
#[derive(Debug, Clone)]
pub struct Batch {
    pub commands: usize,
    pub elapsed: Duration,
    /// send → reply, per command.
    pub latency_ms: Vec<f64>,
    /// ARM requests the batch made (the emulator's record).
    pub arm_requests: usize,
    /// CPU the handler process used during the batch.
    pub handler_cpu: Duration,
    /// CPU this process (Service Bus broker, Functions host, ARM emulator, driver) used.
    pub world_cpu: Duration,
}

impl Batch {
    pub fn per_second(&self) -> f64 {
        self.commands as f64 / self.elapsed.as_secs_f64()
    }
}

/// A local world whose host.json has `maxConcurrentCalls` set to `concurrency`.
pub struct ThroughputWorld {
    world: LocalWorld,
    pub handler_pid: u32,
    /// VmRSS right after start-up and one warm-up command (KiB).
    pub idle_rss_kib: Option<u64>,
    _app_root: TempDir,
    batch_no: usize,
    attached: usize,
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copies host.json (with `maxConcurrentCalls` changed) and function-definitions/ from the repo.
fn app_root(repo: &Path, concurrency: usize) -> anyhow::Result<TempDir> {
    let dir = std::env::temp_dir().join(format!(
        "poolbroker-bench-app-{}-{concurrency}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let root = TempDir(dir);
    std::fs::create_dir_all(&root.0)?;
    let host_json = std::fs::read_to_string(repo.join("host.json"))
        .with_context(|| format!("reading {}/host.json", repo.display()))?;
    let mut host: Value = serde_json::from_str(&host_json)?;
    host["extensions"]["serviceBus"]["maxConcurrentCalls"] = Value::from(concurrency);
    std::fs::write(root.0.join("host.json"), serde_json::to_vec_pretty(&host)?)?;
    let defs = repo.join("function-definitions");
    for entry in std::fs::read_dir(&defs)? {
        let entry = entry?;
        let target = root.0.join("function-definitions").join(entry.file_name());
        std::fs::create_dir_all(&target)?;
        for file in std::fs::read_dir(entry.path())? {
            let file = file?;
            std::fs::copy(file.path(), target.join(file.file_name()))?;
        }
    }
    Ok(root)
}

impl ThroughputWorld {
    pub async fn start(repo: &Path, binary: &Path, concurrency: usize) -> anyhow::Result<Self> {
        let root = app_root(repo, concurrency)?;
        let mut options = LocalOptions::new(&root.0, binary).ephemeral();
        options.emulator = emulator_config();
        let world = LocalWorld::start(options).await?;
        world.broker.create_queue(REPLIES, Default::default());
        let mut events = world.host.subscribe();
        let pid = tokio::time::timeout(Duration::from_secs(30), async {
            let mut pid = None;
            loop {
                match events.recv().await {
                    Ok(HostEvent::HandlerStarted { pid: p, .. }) => pid = Some(p),
                    Ok(HostEvent::HandlerReady { .. }) => return pid,
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return None,
                }
            }
        })
        .await
        .ok()
        .flatten()
        .context("the local host reported no handler start and readiness")?;
        let mut me = Self {
            world,
            handler_pid: pid,
            idle_rss_kib: None,
            _app_root: root,
            batch_no: 0,
            attached: 0,
        };
        // Token, connections, workspace location cache: a running Function App has them.
        me.one(Op::Attach, "warmup").await?;
        me.one(Op::Detach, "warmup").await?;
        me.idle_rss_kib = rss_kib(pid);
        Ok(me)
    }

    /// Computes the batches attached (each attach names a new one).
    pub fn attached_computes(&self) -> usize {
        self.attached
    }

    pub fn peak_rss_kib(&self) -> Option<u64> {
        peak_rss_kib(self.handler_pid)
    }

    fn send(&self, command: &Value) -> anyhow::Result<String> {
        let correlation_id = uuid::Uuid::new_v4().simple().to_string();
        let message = OutgoingMessage {
            body: command.to_string().into_bytes().into(),
            correlation_id: Some(correlation_id.clone()),
            reply_to: Some(REPLIES.into()),
            content_type: Some("application/json".into()),
            ..OutgoingMessage::default()
        };
        self.world.broker.send(COMMANDS, message)?;
        Ok(correlation_id)
    }

    /// Receives replies until every id in `pending` has one; returns (id, arrival) pairs.
    async fn replies(
        &self,
        mut pending: HashMap<String, Instant>,
        limit: Duration,
    ) -> anyhow::Result<Vec<(Instant, Instant)>> {
        let deadline = Instant::now() + limit;
        let mut done = Vec::with_capacity(pending.len());
        while !pending.is_empty() {
            if Instant::now() > deadline {
                bail!("{} replies missing after {limit:?}", pending.len());
            }
            let Some(m) = self
                .world
                .broker
                .receive(REPLIES, Duration::from_millis(100))
                .await?
            else {
                continue;
            };
            let arrived = Instant::now();
            self.world.broker.complete(REPLIES, m.lock_token)?;
            let body: Value = serde_json::from_slice(&m.message.body)?;
            if body["status"] != "Succeeded" {
                bail!("a bench command did not succeed: {body}");
            }
            if let Some(sent) = m
                .message
                .correlation_id
                .as_deref()
                .and_then(|id| pending.remove(id))
            {
                done.push((sent, arrived));
            }
        }
        Ok(done)
    }

    /// One command, waited for; returns the ARM requests it made as (method, path).
    pub async fn one(&self, op: Op, name: &str) -> anyhow::Result<Vec<(String, String)>> {
        self.one_within(op, name, Duration::from_secs(30)).await
    }

    pub async fn one_within(
        &self,
        op: Op,
        name: &str,
        limit: Duration,
    ) -> anyhow::Result<Vec<(String, String)>> {
        self.world.arm.clear_requests();
        let id = self.send(&op.command(name))?;
        self.replies(HashMap::from([(id, Instant::now())]), limit)
            .await?;
        Ok(self
            .world
            .arm
            .requests()
            .into_iter()
            .map(|r| crate::arm_calls::target(&r))
            .collect())
    }

    /// `commands` attaches of new computes, all sent at once.
    pub async fn batch(&mut self, commands: usize) -> anyhow::Result<Batch> {
        self.batch_no += 1;
        self.world.arm.clear_requests();
        let mut pending = HashMap::with_capacity(commands);
        let pid = self.handler_pid.to_string();
        let cpu_before = (cpu_time(&pid), cpu_time("self"));
        let first = Instant::now();
        for i in 0..commands {
            let name = format!("b{}x{i}", self.batch_no);
            let id = self.send(&Op::Attach.command(&name))?;
            pending.insert(id, Instant::now());
        }
        let done = self.replies(pending, Duration::from_secs(300)).await?;
        let cpu_after = (cpu_time(&pid), cpu_time("self"));
        self.attached += commands;
        let last = done.iter().map(|(_, a)| *a).max().unwrap_or(first);
        let requests = self.world.arm.requests();
        Ok(Batch {
            commands,
            elapsed: last.duration_since(first),
            latency_ms: done
                .iter()
                .map(|(s, a)| a.duration_since(*s).as_secs_f64() * 1e3)
                .collect(),
            arm_requests: requests.len(),
            handler_cpu: cpu_after
                .0
                .zip(cpu_before.0)
                .map(|(a, b)| a.saturating_sub(b))
                .unwrap_or_default(),
            world_cpu: cpu_after
                .1
                .zip(cpu_before.1)
                .map(|(a, b)| a.saturating_sub(b))
                .unwrap_or_default(),
        })
    }

    /// Host log lines that mention `needle`, and failed invocations' details.
    pub fn host_log_lines(
        events: &mut tokio::sync::broadcast::Receiver<HostEvent>,
        needle: &str,
    ) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(event) = events.try_recv() {
            match event {
                HostEvent::Log { line, .. } if line.contains(needle) => lines.push(line),
                HostEvent::InvocationCompleted {
                    succeeded: false,
                    detail,
                    ..
                } => lines.push(detail),
                _ => {}
            }
        }
        lines
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<HostEvent> {
        self.world.host.subscribe()
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.world.stop().await?;
        Ok(())
    }
}
