//! HTTPS like ARM: a local certificate authority and a server certificate for `localhost`,
//! `127.0.0.1` and `::1`, generated on first use and kept in a state directory so a shell that
//! trusts the CA (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`) keeps trusting it across runs, the way
//! Azurite's `--cert` setups work.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// File names inside the state directory.
pub const CA_CERT_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca.key.pem";
const SERVER_CERT_FILE: &str = "server.pem";
const SERVER_KEY_FILE: &str = "server.key.pem";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not create the TLS state directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a PEM certificate or key: {detail}")]
    Pem { path: PathBuf, detail: String },
    #[error("could not generate the local certificate authority: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("the server certificate was refused by rustls: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The local CA and the server configuration built on it.
#[derive(Clone)]
pub struct LocalTls {
    ca_cert_path: PathBuf,
    server_config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for LocalTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTls")
            .field("ca_cert_path", &self.ca_cert_path)
            .finish_non_exhaustive()
    }
}

impl LocalTls {
    /// Loads the CA and server certificate from `dir`, generating all four files on first use.
    /// Generation happens in a sibling directory that is renamed into place, so processes
    /// starting together (parallel tests) all end up with the same CA. Keys are 0600 on Unix.
    pub fn load_or_create(dir: &Path) -> Result<Self, TlsError> {
        if !complete(dir) {
            create(dir)?;
        }
        let chain_path = dir.join(SERVER_CERT_FILE);
        let key_path = dir.join(SERVER_KEY_FILE);
        let chain_pem = read(&chain_path)?;
        let key_pem = read(&key_path)?;
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(chain_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| TlsError::Pem {
                    path: chain_path.clone(),
                    detail: e.to_string(),
                })?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| TlsError::Pem {
            path: key_path.clone(),
            detail: e.to_string(),
        })?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            ca_cert_path: dir.join(CA_CERT_FILE),
            server_config: Arc::new(config),
        })
    }

    /// The PEM file a client must trust (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`,
    /// `POOLBROKER_EXTRA_CA_CERTS`).
    pub fn ca_cert_path(&self) -> &Path {
        &self.ca_cert_path
    }

    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.server_config.clone())
    }
}

const FILES: [&str; 4] = [CA_CERT_FILE, CA_KEY_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE];

fn complete(dir: &Path) -> bool {
    FILES.iter().all(|f| dir.join(f).is_file())
}

fn create(dir: &Path) -> Result<(), TlsError> {
    let mkdir = |path: &Path| {
        std::fs::create_dir_all(path).map_err(|source| TlsError::CreateDir {
            path: path.to_owned(),
            source,
        })
    };
    let parent = dir.parent().unwrap_or(Path::new("."));
    mkdir(parent)?;
    let staging = parent.join(format!(
        ".{}.{}",
        dir.file_name().and_then(|n| n.to_str()).unwrap_or("tls"),
        uuid::Uuid::new_v4().simple()
    ));
    mkdir(&staging)?;
    generate(&staging)?;
    // An empty directory (made by hand) may be replaced; a partial one is left to the user.
    let _ = std::fs::remove_dir(dir);
    match std::fs::rename(&staging, dir) {
        Ok(()) => Ok(()),
        Err(_) if complete(dir) => {
            // Another process won the race: use its CA.
            let _ = std::fs::remove_dir_all(&staging);
            Ok(())
        }
        Err(source) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(TlsError::Write {
                path: dir.to_owned(),
                source,
            })
        }
    }
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn write(path: &Path, contents: &str, secret: bool) -> Result<(), TlsError> {
    let err = |source| TlsError::Write {
        path: path.to_owned(),
        source,
    };
    std::fs::write(path, contents).map_err(err)?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    Ok(())
}

fn generate(dir: &Path) -> Result<(), TlsError> {
    let now = OffsetDateTime::now_utc();
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "poolbroker local CA");
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, "poolbroker local world");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = now - Duration::days(1);
    ca_params.not_after = now + Duration::days(3650);
    let ca_key = KeyPair::generate()?;
    let ca_key_pem = ca_key.serialize_pem();
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key)?;

    let mut server_params = CertificateParams::new(vec![String::from("localhost")])?;
    server_params
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    server_params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
    server_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    // OpenSSL 3 strict mode (Python 3.13's default) wants the authority key identifier.
    server_params.use_authority_key_identifier_extension = true;
    server_params.not_before = now - Duration::days(1);
    // Under the 398-day limit some TLS stacks apply to server certificates.
    server_params.not_after = now + Duration::days(397);
    let server_key = KeyPair::generate()?;
    let server_cert = server_params.signed_by(&server_key, &ca)?;

    write(&dir.join(CA_CERT_FILE), &ca.pem(), false)?;
    write(&dir.join(CA_KEY_FILE), &ca_key_pem, true)?;
    write(&dir.join(SERVER_CERT_FILE), &server_cert.pem(), false)?;
    write(
        &dir.join(SERVER_KEY_FILE),
        &server_key.serialize_pem(),
        true,
    )?;
    Ok(())
}
