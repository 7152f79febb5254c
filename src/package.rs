//! Deployable package: the zip that `az functionapp deployment source config-zip` (Premium) or
//! Flex Consumption one-deploy expects.
//!
//! Layout (what the Functions host reads after extracting into its app root):
//!
//! ```text
//! host.json                      copied as-is
//! <function>/function.json       one folder per `function-definitions/<function>/function.json`
//! <defaultExecutablePath>        the release binary, unix mode 0755
//! routes.yaml                    only if present at the repo root
//! ```
//!
//! The zip is deterministic: entries are sorted and every timestamp is the DOS epoch
//! (1980-01-01), so two builds from the same inputs are byte-identical and a package can be
//! identified (and rolled back to) by its SHA-256.

use std::fs;
use std::io::{Cursor, Write};
use std::path::{Component, Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// Where `poolbroker package` writes the zip unless told otherwise (relative to the repo root).
pub const DEFAULT_OUT: &str = "dist/poolbroker.zip";

/// Folder (under the repo root) holding one sub-folder per function with its `function.json`.
pub const FUNCTION_DEFINITIONS_DIR: &str = "function-definitions";

/// Optional hook routing rules shipped next to host.json when present.
pub const ROUTES_FILE: &str = "routes.yaml";

/// Source paths of the local world (the `local` feature), stored reversed so that this table
/// does not put them into the very binary it checks. Rust keeps the file of every panic location
/// in the binary, stripped or not, so a binary that links any of these crates carries its path;
/// the deployed package must carry none.
const LOCAL_WORLD_MARKERS_REVERSED: &[&str] = &[
    "/rotalume-subecivres/setarc",
    "/rotalume-lmeruza/setarc",
    "/tsoh-snoitcnuf/setarc",
    "/lacol/crs",
];

/// The local world's source paths, as they appear in a binary that links it.
pub fn local_world_markers() -> Vec<String> {
    LOCAL_WORLD_MARKERS_REVERSED
        .iter()
        .map(|reversed| reversed.chars().rev().collect())
        .collect()
}

const HOST_JSON: &str = "host.json";
const FUNCTION_JSON: &str = "function.json";
const EXECUTABLE_MODE: u32 = 0o755;
const DATA_MODE: u32 = 0o644;

/// Inputs of [`build_package`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageOptions {
    /// Repository root: holds `host.json`, `function-definitions/` and optionally `routes.yaml`.
    pub repo_root: PathBuf,
    /// An already-built release binary (Linux x86_64 for Azure); stored under the name
    /// host.json's `customHandler.description.defaultExecutablePath` gives.
    pub binary: PathBuf,
    /// Path of the zip to write; parent folders are created.
    pub out: PathBuf,
}

/// What [`build_package`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageReport {
    /// The zip that was written.
    pub out: PathBuf,
    /// Entry names in the order they appear in the zip.
    pub entries: Vec<String>,
    /// Function folder names, sorted.
    pub functions: Vec<String>,
    /// Entry name of the executable (host.json `defaultExecutablePath`).
    pub executable: String,
    /// Whether `routes.yaml` was included.
    pub includes_routes: bool,
    /// Size of the zip in bytes.
    pub size_bytes: u64,
    /// Lower-case hex SHA-256 of the zip bytes: identical inputs give the identical digest.
    pub sha256: String,
}

/// Why a package could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: invalid JSON: {source}", path.display())]
    InvalidJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "host.json: customHandler.description.defaultExecutablePath: expected a non-empty string; got {found}"
    )]
    MissingExecutablePath { found: String },
    #[error(
        "host.json: customHandler.description.defaultExecutablePath: expected a relative path inside the package \
         (no leading '/', no '..', no '\\'); got '{path}'"
    )]
    ExecutablePathNotRelative { path: String },
    #[error("{}: expected a file; got {kind}", path.display())]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error(
        "{dir}/{name}: function name must start with a letter and contain only letters, digits, '-' or '_' \
         (at most 128 characters)"
    )]
    InvalidFunctionName { dir: String, name: String },
    #[error("{}: expected a JSON object with a 'bindings' array", path.display())]
    InvalidFunctionJson { path: PathBuf },
    #[error("{}: no function folders containing function.json", path.display())]
    NoFunctions { path: PathBuf },
    #[error(
        "package entry '{entry}' would be written twice (executable name clashes with a function folder?)"
    )]
    DuplicateEntry { entry: String },
    #[error(
        "{}: the binary links the local world (it contains '{marker}'): build it with `cargo build --release --no-default-features` (what `poolbroker package` does without --binary)",
        path.display()
    )]
    ContainsLocalWorld { path: PathBuf, marker: String },
    #[error("building zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Builds the deployable zip described in the module docs and writes it to `opts.out`
/// (atomically: a sibling temp file is renamed over it).
pub fn build_package(opts: &PackageOptions) -> Result<PackageReport, PackageError> {
    let host_path = opts.repo_root.join(HOST_JSON);
    let host_bytes = read_file(&host_path)?;
    let host: Value =
        serde_json::from_slice(&host_bytes).map_err(|source| PackageError::InvalidJson {
            path: host_path.clone(),
            source,
        })?;
    let executable = default_executable_path(&host)?;

    let functions = read_function_definitions(&opts.repo_root.join(FUNCTION_DEFINITIONS_DIR))?;

    let routes_path = opts.repo_root.join(ROUTES_FILE);
    let routes = if routes_path.exists() {
        Some(read_file(&routes_path)?)
    } else {
        None
    };

    let binary = read_file(&opts.binary)?;
    if let Some(marker) = local_world_marker(&binary) {
        return Err(PackageError::ContainsLocalWorld {
            path: opts.binary.clone(),
            marker,
        });
    }

    let mut files: Vec<PackageFile> = Vec::with_capacity(functions.len() + 3);
    files.push(PackageFile::data(HOST_JSON.to_owned(), host_bytes));
    for function in &functions {
        files.push(PackageFile::data(
            format!("{}/{FUNCTION_JSON}", function.name),
            function.bytes.clone(),
        ));
    }
    if let Some(routes) = routes {
        files.push(PackageFile::data(ROUTES_FILE.to_owned(), routes));
    }
    files.push(PackageFile {
        name: executable.clone(),
        bytes: binary,
        mode: EXECUTABLE_MODE,
    });
    files.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(pair) = files.windows(2).find(|pair| pair[0].name == pair[1].name) {
        return Err(PackageError::DuplicateEntry {
            entry: pair[0].name.clone(),
        });
    }

    let zip_bytes = write_zip(&files)?;
    write_atomically(&opts.out, &zip_bytes)?;

    Ok(PackageReport {
        out: opts.out.clone(),
        entries: files.iter().map(|f| f.name.clone()).collect(),
        functions: functions.into_iter().map(|f| f.name).collect(),
        executable,
        includes_routes: files.iter().any(|f| f.name == ROUTES_FILE),
        size_bytes: zip_bytes.len() as u64,
        sha256: crate::hex::encode(&Sha256::digest(&zip_bytes)),
    })
}

/// The first of [`local_world_markers`] found in `binary`.
pub fn local_world_marker(binary: &[u8]) -> Option<String> {
    local_world_markers().into_iter().find(|marker| {
        binary
            .windows(marker.len())
            .any(|window| window == marker.as_bytes())
    })
}

/// Reads `customHandler.description.defaultExecutablePath` from a parsed host.json and checks it
/// names a file inside the package (the host resolves a relative path against the app root).
pub fn default_executable_path(host: &Value) -> Result<String, PackageError> {
    let value = host
        .pointer("/customHandler/description/defaultExecutablePath")
        .ok_or_else(|| PackageError::MissingExecutablePath {
            found: "nothing".to_owned(),
        })?;
    let path = match value.as_str() {
        Some(s) if !s.trim().is_empty() => s.to_owned(),
        _ => {
            return Err(PackageError::MissingExecutablePath {
                found: value.to_string(),
            });
        }
    };
    let relative_and_plain = !path.contains('\\')
        && Path::new(&path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if !relative_and_plain {
        return Err(PackageError::ExecutablePathNotRelative { path });
    }
    Ok(path)
}

struct FunctionDefinition {
    name: String,
    bytes: Vec<u8>,
}

struct PackageFile {
    name: String,
    bytes: Vec<u8>,
    mode: u32,
}

impl PackageFile {
    fn data(name: String, bytes: Vec<u8>) -> Self {
        Self {
            name,
            bytes,
            mode: DATA_MODE,
        }
    }
}

fn read_function_definitions(dir: &Path) -> Result<Vec<FunctionDefinition>, PackageError> {
    let entries = fs::read_dir(dir).map_err(|source| PackageError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut functions = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| PackageError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let folder = entry.path();
        let function_json = folder.join(FUNCTION_JSON);
        // Stray files (READMEs, editor droppings) and folders without function.json are not
        // functions; the host would ignore them too.
        if !folder.is_dir() || !function_json.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_valid_function_name(&name) {
            return Err(PackageError::InvalidFunctionName {
                dir: FUNCTION_DEFINITIONS_DIR.to_owned(),
                name,
            });
        }
        let bytes = read_file(&function_json)?;
        let parsed: Value =
            serde_json::from_slice(&bytes).map_err(|source| PackageError::InvalidJson {
                path: function_json.clone(),
                source,
            })?;
        if !parsed.get("bindings").is_some_and(Value::is_array) {
            return Err(PackageError::InvalidFunctionJson {
                path: function_json,
            });
        }
        functions.push(FunctionDefinition { name, bytes });
    }
    if functions.is_empty() {
        return Err(PackageError::NoFunctions {
            path: dir.to_path_buf(),
        });
    }
    functions.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(functions)
}

/// The Functions runtime's rule for function names.
fn is_valid_function_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn read_file(path: &Path) -> Result<Vec<u8>, PackageError> {
    let metadata = fs::metadata(path).map_err(|source| PackageError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if !metadata.is_file() {
        return Err(PackageError::NotAFile {
            path: path.to_path_buf(),
            kind: if metadata.is_dir() {
                "a directory"
            } else {
                "a special file"
            },
        });
    }
    fs::read(path).map_err(|source| PackageError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn write_zip(files: &[PackageFile]) -> Result<Vec<u8>, PackageError> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for file in files {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(DateTime::DEFAULT)
            .unix_permissions(file.mode);
        writer.start_file(file.name.as_str(), options)?;
        writer
            .write_all(&file.bytes)
            .map_err(|e| PackageError::Zip(e.into()))?;
    }
    Ok(writer.finish()?.into_inner())
}

fn write_atomically(out: &Path, bytes: &[u8]) -> Result<(), PackageError> {
    let write_err = |source| PackageError::Write {
        path: out.to_path_buf(),
        source,
    };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(write_err)?;
    }
    let mut tmp_name = out.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    fs::write(&tmp, bytes).map_err(write_err)?;
    fs::rename(&tmp, out).map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn executable_path_must_be_relative_and_inside_the_package() {
        let host =
            |p: Value| json!({"customHandler": {"description": {"defaultExecutablePath": p}}});
        assert_eq!(
            default_executable_path(&host(json!("poolbroker"))).unwrap(),
            "poolbroker"
        );
        assert_eq!(
            default_executable_path(&host(json!("bin/poolbroker"))).unwrap(),
            "bin/poolbroker"
        );
        for bad in ["/usr/bin/poolbroker", "../poolbroker", "a\\b", "./x"] {
            let err = default_executable_path(&host(json!(bad))).unwrap_err();
            assert!(
                matches!(err, PackageError::ExecutablePathNotRelative { .. }),
                "{bad}: {err}"
            );
        }
        for bad in [json!(""), json!(3), json!(null)] {
            let err = default_executable_path(&host(bad.clone())).unwrap_err();
            assert!(
                matches!(err, PackageError::MissingExecutablePath { .. }),
                "{bad}: {err}"
            );
        }
        let err = default_executable_path(&json!({"version": "2.0"})).unwrap_err();
        assert!(err.to_string().contains("defaultExecutablePath"), "{err}");
    }

    #[test]
    fn function_names_follow_the_runtime_rule() {
        assert!(is_valid_function_name("pool-commands"));
        assert!(is_valid_function_name("workspace_cleanup2"));
        assert!(!is_valid_function_name("2fast"));
        assert!(!is_valid_function_name("has space"));
        assert!(!is_valid_function_name(""));
        assert!(!is_valid_function_name(&"a".repeat(129)));
    }
}
