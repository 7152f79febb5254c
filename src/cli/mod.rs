//! Command-line interface: `serve` (the custom handler), `local` (the embedded local world),
//! `send`, `compute …`, `job …`, `package`, `bench`.

mod args;

pub use args::{
    Cli, Command, ComputeCommand, JobCommand, LocalArgs, OutputFormat, PackageArgs, SendArgs,
    WorkspaceArgs,
};
