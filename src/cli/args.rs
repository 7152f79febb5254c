use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "poolbroker",
    version,
    about = "Event-driven broker that attaches Synapse Spark pools to Azure ML workspaces and submits Spark jobs",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run as an Azure Functions custom handler on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT.
    Serve,
    /// Start the local world (Service Bus, ARM and identity emulators, local Functions host with this handler).
    #[cfg(feature = "local")]
    Local(LocalArgs),
    /// Enqueue a command file (JSON envelope or az-ml attach YAML) onto the commands queue.
    Send(SendArgs),
    /// Attach, update, show, list and detach Synapse Spark pools (like `az ml compute`).
    #[command(subcommand)]
    Compute(ComputeCommand),
    /// Submit, show and cancel Spark jobs (compute and identity chosen by poolbroker).
    #[command(subcommand)]
    Job(JobCommand),
    /// Build the deployable zip (host.json, function folders, the handler binary).
    Package(PackageArgs),
    /// SDK v1 linked services (deprecated): list, show, register, unregister.
    #[command(subcommand, name = "linked-service")]
    LinkedService(LinkedServiceCommand),
    /// Synapse role assignments for an attached pool's identities (Synapse RBAC, not Azure RBAC).
    #[command(subcommand)]
    Access(AccessCommand),
    /// Checklist for one attached pool: compute, Synapse pool, Spark version, identities and roles.
    Doctor(DoctorArgs),
    /// Move off deprecated features.
    #[command(subcommand)]
    Migrate(MigrateCommand),
}

#[derive(Debug, Subcommand)]
pub enum LinkedServiceCommand {
    /// List the workspace's linked services.
    List {
        #[command(flatten)]
        workspace: WorkspaceArgs,
    },
    /// Show one linked service (its identity is `system_assigned_identity_principal_id`).
    Show(NamedArgs),
    /// Register a Synapse workspace as a linked service (Azure refuses new ones: deprecated).
    Register {
        #[arg(long, short = 'n')]
        name: String,
        /// ARM id of the Synapse workspace.
        #[arg(long)]
        synapse_workspace_id: String,
        #[command(flatten)]
        workspace: WorkspaceArgs,
    },
    /// Unregister a linked service (pools attached through it stay attached).
    Unregister {
        #[arg(long, short = 'n')]
        name: String,
        #[command(flatten)]
        workspace: WorkspaceArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Make sure the pool's identities hold Synapse Administrator on the pool.
    Grant(AccessArgs),
    /// Remove the role assignments poolbroker made for the pool.
    Revoke(AccessArgs),
}

#[derive(Debug, Args)]
pub struct AccessArgs {
    /// The attached compute.
    #[arg(long, short = 'n')]
    pub name: String,
    /// Also this linked service's identity (Synapse Apache Spark Administrator on the workspace).
    #[arg(long)]
    pub linked_service: Option<String>,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The attached compute to check.
    pub name: String,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Re-attach computes attached through SDK v1 linked services as v2 attached pools (dry run
    /// unless --apply).
    #[command(name = "linked-services")]
    LinkedServices {
        /// Re-attach them (default: only print the plan and the az ml YAML).
        #[arg(long)]
        apply: bool,
        #[command(flatten)]
        workspace: WorkspaceArgs,
    },
}

#[cfg(feature = "local")]
#[derive(Debug, Args)]
pub struct LocalArgs {
    /// Run a short scripted demo against the local world, print what happens and exit.
    #[arg(long)]
    pub demo: bool,
    /// Port of the HTTP triggers (as `func start`).
    #[arg(long, default_value_t = 7071)]
    pub http_port: u16,
    /// Port of the Service Bus emulator's REST endpoint.
    #[arg(long, default_value_t = 7072)]
    pub servicebus_port: u16,
    /// HTTPS port of the ARM / Azure ML emulator (and its blob endpoint for code uploads).
    #[arg(long, default_value_t = 7073)]
    pub arm_port: u16,
    /// Plain-http loopback port of the managed-identity token endpoint (as App Service's);
    /// default 7074, or a free one when `--arm-port 0`.
    #[arg(long)]
    pub identity_port: Option<u16>,
    /// Folder for the local world's state: its CA and server certificate live in `tls/`, made
    /// on first run and reused (default: $POOLBROKER_LOCAL_STATE_DIR, else
    /// $XDG_STATE_HOME/poolbroker/local, else ~/.local/state/poolbroker/local).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// HTTPS port of the Synapse data-plane emulator (role assignments).
    #[arg(long, default_value_t = 7075)]
    pub synapse_port: u16,
    /// Folder with host.json and function-definitions/ (default: the current directory, else the
    /// folder of the executable's source tree).
    #[arg(long)]
    pub app_root: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Command file: a poolbroker/v1 JSON envelope, or an `az ml compute attach` YAML.
    pub file: PathBuf,
    /// Queue to send to.
    #[arg(long, default_value = "pool-commands")]
    pub queue: String,
    /// Wait for the reply on the reply queue and print it.
    #[arg(long)]
    pub wait: bool,
    /// Reply queue used with --wait.
    #[arg(long, default_value = "pool-replies")]
    pub reply_queue: String,
    /// Seconds to wait for the reply.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Service Bus namespace (e.g. `sb-poolbroker.servicebus.windows.net`), signed in with your
    /// Azure CLI / azd login (Entra ID). Default: `ServiceBusConnection…` settings, else the local emulator.
    #[arg(long)]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Args, Default)]
pub struct WorkspaceArgs {
    /// Subscription id (default: from POOLBROKER_DEFAULT_WORKSPACE).
    #[arg(long, short = 's', global = true)]
    pub subscription: Option<String>,
    /// Resource group of the Azure ML workspace.
    #[arg(long, short = 'g', global = true)]
    pub resource_group: Option<String>,
    /// Azure ML workspace name.
    #[arg(long, short = 'w', global = true)]
    pub workspace_name: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Json, global = true)]
    pub output: OutputFormat,
    /// Send the command to the broker's queue and wait for its reply instead of calling ARM directly.
    #[arg(long, global = true)]
    pub via_queue: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum OutputFormat {
    #[default]
    Json,
    Yaml,
    Table,
}

#[derive(Debug, Subcommand)]
pub enum ComputeCommand {
    /// Attach a Synapse Spark pool (re-attaching an existing name updates it).
    Attach {
        /// az-ml compute YAML (`type: synapsespark`).
        #[arg(
            long,
            short = 'f',
            required_unless_present = "linked_service",
            conflicts_with = "linked_service"
        )]
        file: Option<PathBuf>,
        /// Compute name (with --linked-service).
        #[arg(long, short = 'n', requires = "linked_service")]
        name: Option<String>,
        /// Attach through this SDK v1 linked service (with --pool-name and --name).
        #[arg(long, requires_all = ["pool_name", "name"])]
        linked_service: Option<String>,
        /// Spark pool in the linked Synapse workspace.
        #[arg(long, requires = "linked_service")]
        pool_name: Option<String>,
        /// Identity type with --linked-service (system_assigned, user_assigned, none).
        #[arg(long, requires = "linked_service")]
        identity_type: Option<String>,
        /// User-assigned identity ids with --identity-type user_assigned, in order.
        #[arg(long, num_args = 1.., requires = "linked_service")]
        user_assigned_identities: Vec<String>,
        /// Do not grant the identities Synapse Administrator on the pool after attaching.
        #[arg(long)]
        no_grant: bool,
        #[command(flatten)]
        workspace: WorkspaceArgs,
    },
    /// Update the identity of an attached pool.
    Update {
        #[arg(long, short = 'n')]
        name: String,
        /// SystemAssigned, UserAssigned or None.
        #[arg(long)]
        identity: String,
        /// User-assigned identity resource ids, in order (the first is used for jobs by default).
        #[arg(long, num_args = 1..)]
        user_assigned_identities: Vec<String>,
        /// Do not grant the new identities Synapse Administrator on the pool.
        #[arg(long)]
        no_grant: bool,
        #[command(flatten)]
        workspace: WorkspaceArgs,
    },
    /// Show an attached pool.
    Show(NamedArgs),
    /// List attached Synapse Spark pools.
    List {
        #[command(flatten)]
        workspace: WorkspaceArgs,
    },
    /// Detach a pool (the Synapse pool itself is never deleted).
    Detach {
        #[arg(long, short = 'n')]
        name: String,
        /// Do not prompt for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Detach even when jobs are running on the pool.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        workspace: WorkspaceArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Submit a Spark job (az ml job YAML, `type: spark`).
    Submit {
        #[arg(long, short = 'f')]
        file: PathBuf,
        /// `auto` (default) or the name of an attached pool.
        #[arg(long)]
        compute: Option<String>,
        /// Same key → same job, however often it is submitted.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Wait for a terminal status.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        workspace: WorkspaceArgs,
    },
    /// Show a job.
    Show(NamedArgs),
    /// Cancel a job.
    Cancel(NamedArgs),
}

// One named resource (`--name`/`-n`) in a workspace: the arguments of every `show` and `cancel`.
// (A `//` comment: a doc comment here would replace the subcommands' own help text.)
#[derive(Debug, Args)]
pub struct NamedArgs {
    #[arg(long, short = 'n')]
    pub name: String,
    #[command(flatten)]
    pub workspace: WorkspaceArgs,
}

#[derive(Debug, Args)]
pub struct PackageArgs {
    /// Where to write the zip.
    #[arg(long, default_value = "dist/poolbroker.zip")]
    pub out: PathBuf,
    /// An already-built Linux x86_64 release binary (default: build it with cargo).
    #[arg(long)]
    pub binary: Option<PathBuf>,
}
