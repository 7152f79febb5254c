//! `poolbroker serve` started the way the Functions host starts it: a free port in
//! `FUNCTIONS_CUSTOMHANDLER_PORT`, the app settings in the environment, readiness on `GET /`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::scenario::{IDENTITY_HEADER, WORKSPACE_ID};

pub struct Handler {
    pub child: Child,
    pub port: u16,
    pub started: Instant,
}

/// What a Function App's settings would hold, pointed at the emulators.
pub fn app_settings(arm: SocketAddr, servicebus: Option<SocketAddr>) -> BTreeMap<String, String> {
    let mut s = BTreeMap::new();
    s.insert("FUNCTIONS_WORKER_RUNTIME".into(), "custom".into());
    s.insert("POOLBROKER_ARM_ENDPOINT".into(), format!("http://{arm}"));
    s.insert(
        "IDENTITY_ENDPOINT".into(),
        format!("http://{arm}/msi/token"),
    );
    s.insert("IDENTITY_HEADER".into(), IDENTITY_HEADER.into());
    s.insert("POOLBROKER_DEFAULT_WORKSPACE".into(), WORKSPACE_ID.into());
    if let Some(sb) = servicebus {
        s.insert(
            "ServiceBusConnection".into(),
            format!(
                "Endpoint=sb://{}/;SharedAccessKeyName={};SharedAccessKey={}",
                poolbroker::local::LOCAL_NAMESPACE,
                poolbroker::local::LOCAL_SAS_KEY_NAME,
                poolbroker::local::LOCAL_SAS_KEY
            ),
        );
        s.insert(
            "POOLBROKER_SERVICEBUS_ENDPOINT".into(),
            format!("http://{sb}"),
        );
    }
    s
}

pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Spawns the handler; `Handler::started` is taken just before exec.
pub fn spawn(
    binary: &Path,
    settings: &BTreeMap<String, String>,
    workdir: &Path,
) -> std::io::Result<Handler> {
    let port = free_port()?;
    let mut command = Command::new(binary);
    command
        .arg("serve")
        .current_dir(workdir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .envs(settings)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let child = command.spawn()?;
    Ok(Handler {
        child,
        port,
        started,
    })
}

impl Handler {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// Polls `GET /` every 200 µs (the host polls too; a coarser poll would hide our start-up
    /// time behind the poll interval). Returns the time from exec to the first 200.
    pub async fn wait_ready(
        &mut self,
        client: &reqwest::Client,
        limit: Duration,
    ) -> anyhow::Result<Duration> {
        let url = self.url("");
        loop {
            if let Ok(resp) = client.get(&url).send().await
                && resp.status().is_success()
            {
                return Ok(self.started.elapsed());
            }
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("poolbroker serve exited during start-up: {status}");
            }
            if self.started.elapsed() > limit {
                anyhow::bail!("poolbroker serve did not answer GET / within {limit:?}");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    /// Peak resident set size (VmHWM) in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.child.id().and_then(peak_rss_kib)
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    status_field_kib(pid, "VmHWM:")
}

pub fn rss_kib(pid: u32) -> Option<u64> {
    status_field_kib(pid, "VmRSS:")
}

fn status_field_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The release binary next to this one (`target/release/poolbroker`).
pub fn default_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("poolbroker")))
        .unwrap_or_else(|| PathBuf::from("target/release/poolbroker"))
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`.
pub fn cpu_time(pid: &str) -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(std::time::Duration::from_millis(ticks * 10))
}
