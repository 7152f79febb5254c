//! `poolbroker package`: the zip `az functionapp deployment source config-zip` (or Flex
//! one-deploy) takes: host.json, one folder per function, the handler binary.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context as _;

use super::args::PackageArgs;
use crate::package::{PackageOptions, build_package};

pub fn package(args: PackageArgs) -> anyhow::Result<()> {
    let repo_root = std::env::current_dir().context("cannot read the current directory")?;
    if !repo_root.join("host.json").is_file() {
        anyhow::bail!(
            "no host.json in {}: run `poolbroker package` from the repository root",
            repo_root.display()
        );
    }
    let binary = match args.binary {
        Some(binary) => binary,
        None => build_release(&repo_root)?,
    };
    let report = build_package(&PackageOptions {
        repo_root,
        binary,
        out: args.out,
    })?;
    println!(
        "wrote {} ({} bytes, sha256 {})",
        report.out.display(),
        report.size_bytes,
        report.sha256
    );
    for entry in &report.entries {
        println!("  {entry}");
    }
    println!(
        "deploy it with: az functionapp deployment source config-zip -g <resource-group> -n <app> --src {}",
        report.out.display()
    );
    Ok(())
}

/// `cargo build --release` for the host's platform (Linux x86_64 on Azure), without the `local`
/// feature: the deployed binary carries no emulator and no local host.
fn build_release(repo_root: &std::path::Path) -> anyhow::Result<PathBuf> {
    eprintln!(
        "building the release binary (cargo build --release --locked --no-default-features) …"
    );
    let status = Command::new("cargo")
        .args([
            "build",
            "--release",
            "--locked",
            "--no-default-features",
            "-p",
            "poolbroker",
        ])
        .current_dir(repo_root)
        .status()
        .context("running cargo (pass --binary to package an existing build)")?;
    if !status.success() {
        anyhow::bail!("cargo build --release failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root.join("target"));
    Ok(target.join("release").join("poolbroker"))
}
