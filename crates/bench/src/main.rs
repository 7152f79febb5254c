//! `poolbroker-bench`: the benchmark driver behind `bench/run.sh`. Starts the emulators on
//! 127.0.0.1, measures poolbroker (the release binary, and its engine in-process) and, when a
//! Python with azure-ai-ml is given, the same operations through azure-ai-ml, then prints one
//! Markdown table. See docs/benchmarks.md.

mod arm_calls;
mod arm_server;
mod figures;
mod handler_process;
mod invocation;
mod report;
mod scenario;
mod stats;
mod tls;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use servicebus_emulator::{Broker, RestConfig};
use tokio_util::sync::CancellationToken;

use crate::arm_server::ArmServer;
use crate::figures::operations::OpsResult;
use crate::report::Row;
use crate::scenario::{Op, emulator_config};
use crate::stats::Summary;

#[derive(Debug, Parser)]
#[command(about = "poolbroker benchmarks (cold start, operations, overhead, throughput, memory)")]
struct Args {
    /// Tiny run of every Rust-side figure (a few seconds), for CI; skips azure-ai-ml.
    #[arg(long)]
    smoke: bool,
    /// Python interpreter with azure-ai-ml installed; without it only poolbroker is measured.
    #[arg(long)]
    python: Option<PathBuf>,
    /// The repository root (host.json, function-definitions/, bench/azureml_ops.py).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// The poolbroker binary to start as the handler (default: next to this binary).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Where to write the raw numbers as JSON.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Override the cycles of the operation and overhead figures (both tools).
    #[arg(long)]
    cycles: Option<usize>,
    /// Override the number of cold starts (both tools).
    #[arg(long)]
    cold_runs: Option<usize>,
    /// Skip the throughput and memory figures (they start the whole local world).
    #[arg(long)]
    skip_throughput: bool,
}

/// How many runs each figure gets.
struct Plan {
    cold_runs: usize,
    python_cold_runs: usize,
    op_cycles: usize,
    python_op_cycles: usize,
    overhead_cycles: usize,
    /// (maxConcurrentCalls, commands per batch, batches)
    throughput: Vec<(usize, usize, usize)>,
}

impl Plan {
    fn full() -> Self {
        Self {
            cold_runs: 100,
            python_cold_runs: 20,
            op_cycles: 500,
            // 200 × 5 = 1,000 operations: the Python peak RSS is then read after as many
            // operations as the handler's after its 1,000 commands.
            python_op_cycles: 200,
            overhead_cycles: 500,
            throughput: vec![(1, 500, 5), (16, 1000, 5), (64, 1000, 5)],
        }
    }

    fn smoke() -> Self {
        Self {
            cold_runs: 3,
            python_cold_runs: 2,
            op_cycles: 5,
            python_op_cycles: 2,
            overhead_cycles: 5,
            throughput: vec![(1, 20, 1), (16, 50, 1), (64, 50, 1)],
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run_main(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("poolbroker-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_main(args: Args) -> anyhow::Result<()> {
    let work = std::env::temp_dir().join(format!("poolbroker-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let tls = tls::TlsMaterial::generate(&work)?;
    // SAFETY: no other thread exists yet (the runtime starts below). reqwest's verifier
    // (rustls-platform-verifier → rustls-native-certs) reads the trust store from SSL_CERT_FILE,
    // so poolbroker's own ARM client trusts the throw-away CA exactly as the Python side does.
    unsafe { std::env::set_var("SSL_CERT_FILE", &tls.ca_file) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(run(args, tls, &work));
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn log(msg: impl AsRef<str>) {
    eprintln!("[bench] {}", msg.as_ref());
}

async fn start_arm(
    tls: Option<&tls::TlsMaterial>,
    shutdown: &CancellationToken,
) -> anyhow::Result<ArmServer> {
    let state = azureml_emulator::EmulatorState::new(emulator_config());
    state.seed_demo();
    Ok(ArmServer::start(state, tls.map(|t| t.server.clone()), shutdown.clone()).await?)
}

async fn start_servicebus(shutdown: &CancellationToken) -> anyhow::Result<std::net::SocketAddr> {
    let broker = Broker::new();
    broker.create_queue("pool-commands", Default::default());
    broker.create_queue("pool-replies", Default::default());
    broker.create_queue("pool-commands-rejected", Default::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let rest = RestConfig {
        namespace: poolbroker::local::LOCAL_NAMESPACE.into(),
        sas_keys: vec![(
            poolbroker::local::LOCAL_SAS_KEY_NAME.into(),
            poolbroker::local::LOCAL_SAS_KEY.into(),
        )],
        bearer_validator: None,
    };
    tokio::spawn(servicebus_emulator::serve(
        listener,
        broker,
        rest,
        shutdown.clone().cancelled_owned(),
    ));
    Ok(addr)
}

fn ms_summary(samples: &[f64]) -> Option<Summary> {
    Summary::of(samples)
}

async fn run(args: Args, tls: tls::TlsMaterial, work: &Path) -> anyhow::Result<()> {
    let mut plan = if args.smoke {
        Plan::smoke()
    } else {
        Plan::full()
    };
    if let Some(c) = args.cycles {
        (plan.op_cycles, plan.python_op_cycles, plan.overhead_cycles) = (c, c, c);
    }
    if let Some(r) = args.cold_runs {
        (plan.cold_runs, plan.python_cold_runs) = (r, r);
    }
    if args.skip_throughput {
        plan.throughput.clear();
    }
    let repo = std::fs::canonicalize(&args.repo)
        .with_context(|| format!("--repo {}", args.repo.display()))?;
    let binary = args
        .binary
        .clone()
        .unwrap_or_else(handler_process::default_binary);
    anyhow::ensure!(
        binary.is_file(),
        "no poolbroker binary at {} (build it with `cargo build --release -p poolbroker`)",
        binary.display()
    );
    // Children run in a scratch directory: relative paths would resolve against it.
    let binary = std::fs::canonicalize(&binary)?;
    let script = repo.join("bench/azureml_ops.py");
    let python = if args.smoke {
        None
    } else {
        match &args.python {
            // Not canonicalize: a venv interpreter is a symlink and must keep its venv path.
            Some(p) => {
                Some(std::path::absolute(p).with_context(|| format!("--python {}", p.display()))?)
            }
            None => None,
        }
    };
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut notes = String::new();
    let mut raw = serde_json::Map::new();

    // 1. Cold start.
    log(format!(
        "cold start: {} runs of poolbroker serve",
        plan.cold_runs
    ));
    let arm = start_arm(None, &shutdown).await?;
    let sb = start_servicebus(&shutdown).await?;
    let cold = figures::cold_start::poolbroker(&binary, &arm, sb, work, plan.cold_runs).await?;
    let python_cold = match &python {
        Some(py) => {
            log(format!(
                "cold start: {} runs of python (azure.ai.ml import + MLClient)",
                plan.python_cold_runs
            ));
            figures::cold_start::azure_ai_ml(py, &script, plan.python_cold_runs).await?
        }
        None => Vec::new(),
    };
    let ours = ms_summary(&cold.first_invocation_ms);
    let theirs = ms_summary(&python_cold);
    rows.push(Row::new(
        "cold start: exec → `GET /` ready",
        "ms",
        ms_summary(&cold.ready_ms),
    ));
    let cold_row = Row::new(
        "cold start: exec → first invocation answered (poolbroker) vs import azure.ai.ml + MLClient()",
        "ms",
        ours,
    )
    .versus(theirs);
    let cold_met =
        ours.map(|o| o.median <= 20.0 && theirs.is_none_or(|t| t.median / o.median >= 100.0));
    rows.push(cold_row.target("≤ 20 ms median, ≥ 100× faster", cold_met));
    raw.insert("cold_start_ready_ms".into(), cold.ready_ms.clone().into());
    raw.insert(
        "cold_start_first_invocation_ms".into(),
        cold.first_invocation_ms.clone().into(),
    );
    raw.insert("python_cold_start_ms".into(), python_cold.clone().into());

    // 3. Broker overhead (plain http emulator with server-side timing, as `poolbroker local`).
    log(format!(
        "overhead: {} cycles of 5 invocations through the handler's route",
        plan.overhead_cycles
    ));
    let overhead = figures::overhead::run(&binary, &arm, work, plan.overhead_cycles).await?;
    let inside = ms_summary(&overhead.all_inside_ms());
    rows.push(
        Row::new(
            "broker overhead per invocation, inside the handler (`Server-Timing`: handler − ARM wait; all 5 kinds)",
            "ms",
            inside,
        )
        .target("p99 ≤ 1 ms", inside.map(|s| s.p99 <= 1.0)),
    );
    for op in Op::ALL {
        let samples = overhead.inside_ms.get(&op).cloned().unwrap_or_default();
        rows.push(Row::new(
            format!("  inside the handler: {}", op.label()),
            "ms",
            ms_summary(&samples),
        ));
    }
    rows.push(Row::new(
        "broker overhead seen from the host (end to end − ARM emulator time; adds every loopback hop)",
        "ms",
        ms_summary(&overhead.all_overhead_ms()),
    ));
    rows.push(Row::new(
        "  of which the host → handler HTTP hop (`GET /` round trip)",
        "ms",
        ms_summary(&overhead.ping_ms),
    ));
    for op in Op::ALL {
        let samples = overhead.overhead_ms.get(&op).cloned().unwrap_or_default();
        rows.push(Row::new(
            format!("  seen from the host: {}", op.label()),
            "ms",
            ms_summary(&samples),
        ));
    }
    for op in Op::ALL {
        let e2e = overhead.end_to_end_ms.get(&op).cloned().unwrap_or_default();
        let arm_t = overhead.arm_ms.get(&op).cloned().unwrap_or_default();
        let _ = writeln!(
            notes,
            "- overhead {}: end-to-end median {} ms, of which ARM emulator median {} ms",
            op.label(),
            ms_summary(&e2e)
                .map(|s| format!("{:.3}", s.median))
                .unwrap_or_default(),
            ms_summary(&arm_t)
                .map(|s| format!("{:.3}", s.median))
                .unwrap_or_default(),
        );
    }
    raw.insert(
        "overhead_inside_handler_ms".into(),
        serde_json::to_value(
            overhead
                .inside_ms
                .iter()
                .map(|(k, v)| (k.key(), v))
                .collect::<BTreeMap<_, _>>(),
        )?,
    );
    raw.insert(
        "overhead_ms".into(),
        serde_json::to_value(
            overhead
                .overhead_ms
                .iter()
                .map(|(k, v)| (k.key(), v))
                .collect::<BTreeMap<_, _>>(),
        )?,
    );

    // 2. Per-operation latency over TLS, both tools, same emulator settings.
    log(format!(
        "operations: {} cycles in-process (TLS)",
        plan.op_cycles
    ));
    let tls_arm = start_arm(Some(&tls), &shutdown).await?;
    let ours_ops = figures::operations::poolbroker(&tls_arm, plan.op_cycles).await?;
    let theirs_ops = match &python {
        Some(py) => {
            log(format!(
                "operations: {} cycles through azure-ai-ml (TLS)",
                plan.python_op_cycles
            ));
            tls_arm.state.reset();
            tls_arm.state.seed_demo();
            Some(
                figures::operations::azure_ai_ml(
                    py,
                    &script,
                    &tls_arm,
                    &tls.ca_file,
                    plan.python_op_cycles,
                )
                .await?,
            )
        }
        None => None,
    };
    for op in Op::ALL {
        let o = ms_summary(
            ours_ops
                .latency_ms
                .get(&op)
                .map(Vec::as_slice)
                .unwrap_or_default(),
        );
        let t = theirs_ops
            .as_ref()
            .and_then(|r| ms_summary(r.latency_ms.get(&op).map(Vec::as_slice).unwrap_or_default()));
        let row = Row::new(format!("operation: {}", op.label()), "ms", o).versus(t);
        let met = row.ratio().map(|r| r >= 20.0);
        rows.push(row.target("≥ 20× faster", met));
    }
    arm_call_notes(&mut notes, &ours_ops, theirs_ops.as_ref());
    raw.insert("ops_ms".into(), ops_json(&ours_ops));
    if let Some(t) = &theirs_ops {
        raw.insert("python_ops_ms".into(), ops_json(t));
    }

    // 4 + 5. Throughput and memory through the local host and Service Bus.
    let mut peak_rss_1000 = None;
    for &(concurrency, commands, batches) in &plan.throughput {
        log(format!(
            "throughput: maxConcurrentCalls {concurrency}, {batches} × {commands} attach commands"
        ));
        let mut world =
            figures::throughput::ThroughputWorld::start(&repo, &binary, concurrency).await?;
        if concurrency == 1 {
            // Before the batches: a workspace with a handful of computes, as in figure 2.
            let mut breakdown = BTreeMap::new();
            for op in Op::ALL {
                breakdown.insert(op, world.one(op, "kinds").await?);
            }
            let _ = writeln!(
                notes,
                "\nARM requests per command through the local host (warm handler):"
            );
            for (op, calls) in &breakdown {
                describe_calls(&mut notes, "poolbroker", *op, calls);
            }
        }
        let mut rates = Vec::new();
        let mut latencies = Vec::new();
        let mut arm_per_command = Vec::new();
        let mut handler_cpu_us = Vec::new();
        let mut world_cpu_us = Vec::new();
        for b in 0..batches {
            let batch = world.batch(commands).await?;
            rates.push(batch.per_second());
            latencies.extend(batch.latency_ms.iter().copied());
            arm_per_command.push(batch.arm_requests as f64 / batch.commands as f64);
            handler_cpu_us.push(batch.handler_cpu.as_secs_f64() * 1e6 / batch.commands as f64);
            world_cpu_us.push(batch.world_cpu.as_secs_f64() * 1e6 / batch.commands as f64);
            if b == 0 && commands >= 1000 && peak_rss_1000.is_none() {
                peak_rss_1000 = world
                    .peak_rss_kib()
                    .map(|k| (concurrency, k, world.idle_rss_kib));
            }
        }
        let rate = Summary::of(&rates);
        let target = if concurrency >= 16 {
            Some(rate.is_some_and(|r| r.median >= 2000.0))
        } else {
            None
        };
        rows.push(
            Row::new(format!("throughput, maxConcurrentCalls {concurrency} (median over batches; p99 = slowest batch)"), "attach/s", rate.map(|r| Summary { p99: rates.iter().copied().fold(f64::INFINITY, f64::min), ..r }))
                .target(if concurrency >= 16 { "≥ 2,000/s" } else { "" }, target),
        );
        rows.push(Row::new(
            format!("  send → reply latency at {concurrency}"),
            "ms",
            Summary::of(&latencies),
        ));
        rows.push(Row::new(
            format!("  ARM requests per attach at {concurrency}"),
            "calls",
            Summary::of(&arm_per_command),
        ));
        rows.push(Row::new(
            format!("  CPU per attach in the handler process at {concurrency}"),
            "µs",
            Summary::of(&handler_cpu_us),
        ));
        rows.push(Row::new(
            format!("  CPU per attach in the rest (host, Service Bus, ARM emulator, driver) at {concurrency}"),
            "µs",
            Summary::of(&world_cpu_us),
        ));
        if concurrency == 1 {
            // ListPools with every batch's computes still attached: does the reply still fit?
            let attached = world.attached_computes();
            let mut events = world.subscribe();
            let outcome = world
                .one_within(Op::List, "kinds", std::time::Duration::from_secs(15))
                .await;
            let why = figures::throughput::ThroughputWorld::host_log_lines(&mut events, "reply");
            let _ = writeln!(
                notes,
                "- ListPools with {attached} computes attached: {}",
                match outcome {
                    Ok(calls) => format!("answered, {} ARM request(s)", calls.len()),
                    Err(e) => format!(
                        "**no reply** ({e}); host log: {}",
                        why.last().map(String::as_str).unwrap_or("(nothing)")
                    ),
                }
            );
        }
        raw.insert(format!("throughput_{concurrency}_per_s"), rates.into());
        world.stop().await?;
    }
    let handler_rss = peak_rss_1000.map(|(_, k, _)| k as f64 / 1024.0);
    let python_rss = theirs_ops
        .as_ref()
        .and_then(|t| t.peak_rss_kib)
        .map(|k| k as f64 / 1024.0);
    let one = |v: Option<f64>| {
        v.map(|m| Summary {
            runs: 1,
            median: m,
            p99: m,
        })
    };
    let rss_row = Row::new(
        "peak RSS (VmHWM): handler after 1,000 attach commands vs Python after the same operations",
        "MiB",
        one(handler_rss),
    )
    .versus(one(python_rss));
    rows.push(rss_row.target("≤ 30 MiB", handler_rss.map(|m| m <= 30.0)));
    if let Some((c, _, idle)) = peak_rss_1000 {
        let _ = writeln!(
            notes,
            "- peak RSS measured at maxConcurrentCalls {c}; RSS after start-up and one warm-up command: {} MiB",
            idle.map(|k| format!("{:.1}", k as f64 / 1024.0))
                .unwrap_or_else(|| "?".into())
        );
    }
    if let Some(py) = &theirs_ops {
        let ops: usize = py.latency_ms.values().map(Vec::len).sum();
        let _ = writeln!(
            notes,
            "- the Python process ran {} operations (+ 5 warm-up)",
            ops
        );
    }

    // 6. Binary size.
    let size = std::fs::metadata(&binary)?.len() as f64 / (1024.0 * 1024.0);
    rows.push(Row::new(
        "release binary size (stripped)",
        "MiB",
        one(Some(size)),
    ));

    shutdown.cancel();
    println!("{}", report::render(&rows));
    println!("{notes}");
    println!(
        "machine: {} cores, {}; whole run {:.0} s{}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        cpu_model(),
        started.elapsed().as_secs_f64(),
        if args.smoke {
            " (smoke: tiny sample sizes, numbers not meaningful)"
        } else {
            ""
        }
    );
    if let Some(path) = &args.json_out {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(
            path,
            serde_json::to_vec_pretty(&serde_json::Value::Object(raw))?,
        )?;
    }
    Ok(())
}

fn ops_json(result: &OpsResult) -> serde_json::Value {
    serde_json::Value::Object(
        result
            .latency_ms
            .iter()
            .map(|(op, v)| (op.key().to_owned(), serde_json::Value::from(v.clone())))
            .collect(),
    )
}

fn describe_calls(notes: &mut String, tool: &str, op: Op, calls: &[(String, String)]) {
    let labels: Vec<String> = calls.iter().map(|(m, p)| arm_calls::label(m, p)).collect();
    let redundant = arm_calls::redundant_reads(calls);
    let _ = writeln!(
        notes,
        "- {tool} {}: {} request(s): {}{}",
        op.label(),
        calls.len(),
        labels.join(" → "),
        if redundant.is_empty() {
            String::new()
        } else {
            format!("  **redundant: {}**", redundant.join(", "))
        }
    );
}

fn arm_call_notes(notes: &mut String, ours: &OpsResult, theirs: Option<&OpsResult>) {
    let _ = writeln!(
        notes,
        "\nARM requests per operation (second cycle, warm clients):"
    );
    for op in Op::ALL {
        if let Some(calls) = ours.arm_calls.get(&op) {
            describe_calls(notes, "poolbroker", op, calls);
        }
        if let Some(calls) = theirs.and_then(|t| t.arm_calls.get(&op)) {
            describe_calls(notes, "azure-ai-ml", op, calls);
        }
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
