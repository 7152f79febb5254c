//! The deployable zip has the layout the Functions host expects, built from the real repo files.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use poolbroker::package::{
    PackageError, PackageOptions, build_package, local_world_marker, local_world_markers,
};
use serde_json::Value;
use zip::ZipArchive;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh scratch folder per call; removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "poolbroker-package-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn dummy_binary(dir: &Path) -> PathBuf {
    let path = dir.join("poolbroker-dummy");
    // Content that is not valid UTF-8 and compresses poorly, like a real ELF would.
    let bytes: Vec<u8> = b"\x7fELF"
        .iter()
        .copied()
        .chain((0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8))
        .collect();
    fs::write(&path, bytes).unwrap();
    path
}

fn open(path: &Path) -> ZipArchive<fs::File> {
    ZipArchive::new(fs::File::open(path).unwrap()).unwrap()
}

/// Entry names in the order they are stored.
fn entry_names(archive: &mut ZipArchive<fs::File>) -> Vec<String> {
    (0..archive.len())
        .map(|i| archive.by_index(i).unwrap().name().unwrap().into_owned())
        .collect()
}

fn read_entry(archive: &mut ZipArchive<fs::File>, name: &str) -> Vec<u8> {
    let mut file = archive
        .by_name(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut buf = Vec::new();
    file.read_to_end(&mut buf).unwrap();
    buf
}

fn function_folders(root: &Path) -> BTreeSet<String> {
    fs::read_dir(root.join("function-definitions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("function.json").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn package_from_the_real_repo_has_the_host_layout() {
    let scratch = Scratch::new();
    let root = repo_root();
    let binary = dummy_binary(scratch.path());
    let out = scratch.path().join("dist/poolbroker.zip");

    let report = build_package(&PackageOptions {
        repo_root: root.clone(),
        binary: binary.clone(),
        out: out.clone(),
    })
    .unwrap();

    let mut archive = open(&out);
    let names: BTreeSet<String> = entry_names(&mut archive).into_iter().collect();

    // host.json at the root, byte-identical and parseable.
    let host_bytes = read_entry(&mut archive, "host.json");
    assert_eq!(host_bytes, fs::read(root.join("host.json")).unwrap());
    let host: Value = serde_json::from_slice(&host_bytes).unwrap();
    let exe = host
        .pointer("/customHandler/description/defaultExecutablePath")
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    assert_eq!(report.executable, exe);

    // One folder per function definition, each with its function.json copied verbatim.
    let functions = function_folders(&root);
    assert!(
        functions.len() >= 3,
        "expected the repo's functions, got {functions:?}"
    );
    assert_eq!(
        report.functions,
        functions.iter().cloned().collect::<Vec<_>>()
    );
    for f in &functions {
        let entry = format!("{f}/function.json");
        let bytes = read_entry(&mut archive, &entry);
        assert_eq!(
            bytes,
            fs::read(root.join("function-definitions").join(&entry)).unwrap()
        );
        let parsed: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(parsed["bindings"].is_array(), "{entry}");
    }

    // The executable under the host.json name, with the dummy's bytes and mode 0755.
    assert_eq!(read_entry(&mut archive, &exe), fs::read(&binary).unwrap());
    let mode = archive.by_name(&exe).unwrap().unix_mode().unwrap();
    assert_eq!(mode & 0o777, 0o755, "mode {mode:o}");
    let host_mode = archive.by_name("host.json").unwrap().unix_mode().unwrap();
    assert_eq!(host_mode & 0o777, 0o644, "mode {host_mode:o}");

    // Nothing else.
    let mut expected: BTreeSet<String> = functions
        .iter()
        .map(|f| format!("{f}/function.json"))
        .collect();
    expected.insert("host.json".to_owned());
    expected.insert(exe.clone());
    if root.join("routes.yaml").is_file() {
        expected.insert("routes.yaml".to_owned());
    }
    assert_eq!(names, expected);
    assert_eq!(
        report.entries.iter().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    assert_eq!(report.size_bytes, fs::metadata(&out).unwrap().len());
}

#[test]
fn two_builds_are_byte_identical() {
    let scratch = Scratch::new();
    let binary = dummy_binary(scratch.path());
    let build = |name: &str| {
        let out = scratch.path().join(name);
        let report = build_package(&PackageOptions {
            repo_root: repo_root(),
            binary: binary.clone(),
            out: out.clone(),
        })
        .unwrap();
        (fs::read(out).unwrap(), report.sha256)
    };
    let (first, first_sha) = build("a.zip");
    // Let the clock move, so a wall-clock timestamp leaking into the zip would show up as a diff.
    std::thread::sleep(std::time::Duration::from_millis(5));
    let (second, second_sha) = build("b.zip");
    assert_eq!(first, second);
    assert_eq!(first_sha, second_sha);
    assert_eq!(first_sha.len(), 64);

    // Different binary bytes → different package.
    fs::write(&binary, b"other").unwrap();
    let (third, third_sha) = build("c.zip");
    assert_ne!(first, third);
    assert_ne!(first_sha, third_sha);
}

/// A minimal repo laid out in a scratch folder, for the cases the real repo doesn't exercise.
fn fake_repo(dir: &Path, exe: &str) {
    fs::write(
        dir.join("host.json"),
        format!(r#"{{"version":"2.0","customHandler":{{"description":{{"defaultExecutablePath":"{exe}"}}}}}}"#),
    )
    .unwrap();
    let defs = dir.join("function-definitions");
    fs::create_dir_all(defs.join("zeta")).unwrap();
    fs::create_dir_all(defs.join("alpha")).unwrap();
    fs::create_dir_all(defs.join("not-a-function")).unwrap();
    fs::write(defs.join("README.md"), "stray").unwrap();
    fs::write(defs.join("zeta/function.json"), r#"{"bindings":[]}"#).unwrap();
    fs::write(
        defs.join("alpha/function.json"),
        r#"{"bindings":[{"type":"timerTrigger"}]}"#,
    )
    .unwrap();
    fs::write(defs.join("alpha/notes.txt"), "not packaged").unwrap();
}

#[test]
fn routes_yaml_is_included_and_entries_are_sorted() {
    let scratch = Scratch::new();
    let repo = scratch.path().join("repo");
    fs::create_dir_all(&repo).unwrap();
    fake_repo(&repo, "bin/handler");
    fs::write(repo.join("routes.yaml"), "routes: []\n").unwrap();
    let binary = dummy_binary(scratch.path());
    let out = scratch.path().join("out.zip");

    let report = build_package(&PackageOptions {
        repo_root: repo,
        binary,
        out: out.clone(),
    })
    .unwrap();

    assert!(report.includes_routes);
    assert_eq!(report.functions, vec!["alpha", "zeta"]);
    let names = entry_names(&mut open(&out));
    assert_eq!(
        names,
        vec![
            "alpha/function.json",
            "bin/handler",
            "host.json",
            "routes.yaml",
            "zeta/function.json"
        ]
    );
}

#[test]
fn broken_inputs_are_reported_with_the_file_and_field() {
    let scratch = Scratch::new();
    let binary = dummy_binary(scratch.path());
    let repo = scratch.path().join("repo");
    fs::create_dir_all(&repo).unwrap();
    let opts = PackageOptions {
        repo_root: repo.clone(),
        binary: binary.clone(),
        out: scratch.path().join("out.zip"),
    };

    // No host.json at all.
    let err = build_package(&opts).unwrap_err();
    assert!(
        matches!(err, PackageError::Read { ref path, .. } if path.ends_with("host.json")),
        "{err}"
    );

    // Absolute executable path: the host would look on PATH, not in the package.
    fake_repo(&repo, "/usr/local/bin/poolbroker");
    let err = build_package(&opts).unwrap_err();
    assert!(err.to_string().contains("defaultExecutablePath"), "{err}");

    // function.json without bindings.
    fake_repo(&repo, "poolbroker");
    fs::write(
        repo.join("function-definitions/zeta/function.json"),
        r#"{"disabled":false}"#,
    )
    .unwrap();
    let err = build_package(&opts).unwrap_err();
    assert!(
        matches!(err, PackageError::InvalidFunctionJson { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("zeta"), "{err}");

    // Malformed JSON names the file.
    fs::write(repo.join("function-definitions/zeta/function.json"), "{").unwrap();
    let err = build_package(&opts).unwrap_err();
    assert!(matches!(err, PackageError::InvalidJson { .. }), "{err}");

    // Executable name clashing with a function folder's file.
    fake_repo(&repo, "alpha/function.json");
    let err = build_package(&opts).unwrap_err();
    assert!(matches!(err, PackageError::DuplicateEntry { .. }), "{err}");

    // Missing binary.
    fake_repo(&repo, "poolbroker");
    let err = build_package(&PackageOptions {
        binary: scratch.path().join("nope"),
        ..opts.clone()
    })
    .unwrap_err();
    assert!(
        matches!(err, PackageError::Read { ref path, .. } if path.ends_with("nope")),
        "{err}"
    );

    // Nothing was left behind by the failures.
    assert!(!scratch.path().join("out.zip").exists());
}

#[test]
fn a_binary_that_links_the_local_world_is_refused_and_no_zip_is_written() {
    let scratch = Scratch::new();
    let binary = scratch.path().join("poolbroker-local");
    let mut bytes = fs::read(dummy_binary(scratch.path())).unwrap();
    // What a panic location of the emulator crate leaves in a binary.
    bytes.extend_from_slice(b"\0crates/azureml-emulator/src/dispatch.rs\0");
    fs::write(&binary, bytes).unwrap();
    let out = scratch.path().join("out.zip");

    let err = build_package(&PackageOptions {
        repo_root: repo_root(),
        binary: binary.clone(),
        out: out.clone(),
    })
    .unwrap_err();

    assert!(
        matches!(&err, PackageError::ContainsLocalWorld { marker, .. } if marker == "crates/azureml-emulator/"),
        "{err}"
    );
    assert!(err.to_string().contains("--no-default-features"), "{err}");
    assert!(!out.exists());
}

/// The markers are real: the binary these tests run against is built with the default `local`
/// feature, and the check finds the local world in it (its panic locations, not the check's own
/// table, which is stored so that it cannot match itself).
#[test]
fn the_default_build_is_recognised_as_carrying_the_local_world() {
    let binary = fs::read(env!("CARGO_BIN_EXE_poolbroker")).unwrap();
    assert!(local_world_marker(&binary).is_some());
    let table: String = local_world_markers()
        .iter()
        .map(|m| m.chars().rev().collect::<String>())
        .collect();
    assert_eq!(local_world_marker(table.as_bytes()), None);
}

/// What the deployed build (`--no-default-features`) links, from Cargo's own dependency graph:
/// none of the emulators or the local host, which the default build does link.
#[test]
fn the_deployed_build_depends_on_no_emulator_and_no_local_host() {
    let tree = |features: &[&str]| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = std::process::Command::new(cargo)
            .args([
                "tree",
                "-p",
                "poolbroker",
                "-e",
                "normal",
                "--prefix",
                "none",
            ])
            .args(["--format", "{p}", "--locked", "--offline"])
            .args(features)
            .current_dir(repo_root())
            .output()
            .expect("cargo tree runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    // Any stand-in, present or future: a `*-emulator` crate or the local Functions host.
    let local_world = |tree: &str| -> BTreeSet<String> {
        tree.lines()
            .filter_map(|line| line.split_whitespace().next())
            .filter(|name| name.ends_with("-emulator") || name.ends_with("functions-host"))
            .map(str::to_owned)
            .collect()
    };

    let deployed = tree(&["--no-default-features"]);
    let default = tree(&[]);

    let in_default = local_world(&default);
    // The pattern is real: the default build links every stand-in the workspace has.
    for name in [
        "poolbroker-servicebus-emulator",
        "poolbroker-azureml-emulator",
        "poolbroker-synapse-emulator",
        "poolbroker-functions-host",
    ] {
        assert!(
            in_default.contains(name),
            "{name} missing from the default build: {in_default:?}"
        );
    }
    let in_deployed = local_world(&deployed);
    assert!(
        in_deployed.is_empty(),
        "the deployed build links {in_deployed:?}:\n{deployed}"
    );
}
