//! Command-line interface: `serve` (the custom handler), `local` (the embedded local world, only
//! with the `local` feature), `send`, `compute …`, `job …`, `package`, `linked-service …`,
//! `access …`, `doctor`, `migrate …`.

mod access;
mod args;
mod compute;
mod exec;
mod job;
mod linked_service;
#[cfg(feature = "local")]
mod local;
mod migrate;
mod output;
mod package;
mod progress;
mod send;
mod serve;
mod via_queue;

#[cfg(feature = "local")]
pub use args::LocalArgs;
pub use args::{
    AccessArgs, AccessCommand, Cli, Command, ComputeCommand, DoctorArgs, JobCommand,
    LinkedServiceCommand, MigrateCommand, OutputFormat, PackageArgs, SendArgs, WorkspaceArgs,
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
        Command::LinkedService(command) => linked_service::linked_service(command).await,
        Command::Access(command) => access::access(command).await,
        Command::Doctor(args) => access::doctor(args).await,
        Command::Migrate(command) => migrate::migrate(command).await,
    }
}
