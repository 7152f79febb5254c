//! Command-line interface: `serve` (the custom handler), `local` (the embedded local world, only
//! with the `local` feature), `send`, `compute …`, `job …`, `package`.

mod args;
mod compute;
mod exec;
mod job;
#[cfg(feature = "local")]
mod local;
mod output;
mod package;
mod progress;
mod send;
mod serve;
mod via_queue;

#[cfg(feature = "local")]
pub use args::LocalArgs;
pub use args::{
    Cli, Command, ComputeCommand, JobCommand, OutputFormat, PackageArgs, SendArgs, WorkspaceArgs,
};
pub use serve::shutdown_signal;

/// Runs one CLI command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => serve::serve().await,
        #[cfg(feature = "local")]
        Command::Local(args) => local::local(args).await,
        Command::Compute(command) => compute::compute(command).await,
        Command::Send(args) => send::send(args).await,
        Command::Package(args) => package::package(args),
        Command::Job(command) => job::job(command).await,
    }
}
