use std::sync::Arc;

use crate::handler::{Application, handler_port_from_env};
use crate::startup::app_state_from_env;
use crate::telemetry::{self, TelemetryConfig};

/// `poolbroker serve`: the custom handler the Functions host starts.
pub async fn serve() -> anyhow::Result<()> {
    let telemetry = Arc::new(telemetry::init(&TelemetryConfig::from_env()?)?);
    let port = handler_port_from_env(|name| std::env::var(name).ok())?;
    let state = app_state_from_env()?.with_telemetry(Arc::clone(&telemetry));
    let app = Application::build(port, state).await?;
    tracing::info!(
        port = app.port(),
        "poolbroker handler listening on 127.0.0.1"
    );
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("poolbroker handler stopped");
    match Arc::try_unwrap(telemetry) {
        Ok(telemetry) => telemetry.shutdown().await?,
        Err(shared) => shared.flush().await?,
    }
    Ok(())
}

/// SIGTERM (the host stopping or scaling in) or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
