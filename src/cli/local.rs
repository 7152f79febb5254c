use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::args::LocalArgs;
use super::serve::shutdown_signal;
use crate::local::{LocalOptions, LocalWorld, run_demo};
use crate::telemetry::{self, LogFormat, TelemetryConfig};

/// `poolbroker local [--demo]`.
pub async fn local(args: LocalArgs) -> anyhow::Result<()> {
    let mut telemetry_config = TelemetryConfig::from_env()?;
    telemetry_config.log_format = LogFormat::Pretty;
    if args.demo && std::env::var_os("POOLBROKER_LOG").is_none() {
        telemetry_config.log_filter = crate::telemetry::LogFilter::parse("warn")?;
    }
    let telemetry = telemetry::init(&telemetry_config)?;

    let app_root = match args.app_root {
        Some(root) => root,
        None => find_app_root()?,
    };
    let exe = std::env::current_exe().context("cannot locate the poolbroker executable")?;
    let mut options = LocalOptions::new(&app_root, exe);
    options.http_port = args.http_port;
    options.servicebus_port = args.servicebus_port;
    options.arm_port = args.arm_port;
    options.identity_port = args.identity_port;
    if let Some(dir) = args.state_dir {
        options.tls_dir = dir.join("tls");
    }
    if args.demo {
        // The demo should not collide with a `poolbroker local` already running.
        options = options.ephemeral();
        // Short waits so the scripted demo shows long-running operations without dragging.
        options.emulator.retry_after_secs = 1;
        options.emulator.operation_duration = std::time::Duration::from_secs(1);
        options.emulator.job_step_duration = std::time::Duration::from_millis(500);
        options.emulator.job_run_duration = std::time::Duration::from_secs(2);
        // The demo prints what happens; the handler's own logs would drown it.
        options
            .extra_settings
            .insert("POOLBROKER_LOG".into(), "warn".into());
        // The cleanup timer runs every few seconds so the demo can show a report.
        options
            .extra_settings
            .insert("POOLBROKER_CLEANUP_SCHEDULE".into(), "*/2 * * * * *".into());
        // Follow the demo's Spark jobs every second rather than every 30.
        options
            .extra_settings
            .insert("POOLBROKER_JOB_POLL_SECS".into(), "1".into());
    }
    let world = LocalWorld::start(options)
        .await
        .context("could not start the local world")?;
    print_banner(&world, &app_root);

    let result = if args.demo {
        run_demo(&world).await
    } else {
        println!("Press ctrl-c to stop.");
        shutdown_signal().await;
        Ok(())
    };
    world.stop().await.context("stopping the local host")?;
    telemetry.shutdown().await?;
    result
}

fn print_banner(world: &LocalWorld, app_root: &Path) {
    println!("poolbroker local world (app root {})", app_root.display());
    println!(
        "  Functions host (HTTP triggers)  http://{}/api/",
        world.http_addr
    );
    println!(
        "  Studio (attached pools)         http://{}{}/",
        world.http_addr,
        crate::studio::BASE
    );
    println!(
        "  Service Bus emulator            http://{}",
        world.servicebus_addr
    );
    println!(
        "  ARM / Azure ML emulator         https://{} (local CA {})",
        world.arm_addr,
        world.tls.ca_cert_path().display()
    );
    println!(
        "  managed-identity endpoint       http://{}/msi/token",
        world.identity_addr
    );
    for f in world.host.functions() {
        let trigger = match &f.trigger {
            functions_host::TriggerInfo::ServiceBus { queue, .. } => {
                format!("Service Bus queue '{queue}'")
            }
            functions_host::TriggerInfo::Timer { schedule } => format!("timer '{schedule}'"),
            functions_host::TriggerInfo::Http { url, .. } => format!("HTTP {url}"),
        };
        println!("  function {:<18} {trigger}", f.name);
    }
    println!(
        "To use the CLI, or Microsoft's SDKs (azure-ai-ml, azure-identity), from another shell:"
    );
    for (k, v) in world.cli_environment() {
        println!("  export {k}='{v}'");
    }
    for (k, v) in world.trust_environment() {
        println!("  export {k}='{v}'");
    }
}

/// host.json in the current directory, else next to the sources this binary was built from.
fn find_app_root() -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    for candidate in [cwd.clone(), PathBuf::from(env!("CARGO_MANIFEST_DIR"))] {
        if candidate.join("host.json").is_file() {
            return Ok(candidate);
        }
    }
    anyhow::bail!(
        "no host.json in {} (run from the poolbroker repository, or pass --app-root)",
        cwd.display()
    )
}
