//! TLS for remote databases (rustls). The certificate chain and host name are always verified,
//! against the configured CA bundle or the Mozilla roots.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the CA bundle {path}: {reason} (RDS users: download global-bundle.pem from https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem and pass sslrootcert=<path> or PGSSLROOTCERT)")]
    Bundle { path: String, reason: String },
    #[error("the CA bundle {path} holds no usable certificate")]
    EmptyBundle { path: String },
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

/// The connector used for every connection; unused when the server is reached over a Unix socket
/// or with `sslmode=disable`.
pub fn connector(root_cert: Option<&Path>) -> Result<MakeRustlsConnect, TlsError> {
    let roots = match root_cert {
        Some(path) => roots_from_bundle(path)?,
        None => RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn roots_from_bundle(path: &Path) -> Result<RootCertStore, TlsError> {
    let shown = path.display().to_string();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::Bundle {
            path: shown.clone(),
            reason: e.to_string(),
        })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Bundle {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(TlsError::EmptyBundle { path: shown });
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_bundle_names_the_file_and_where_to_get_rds_certificates() {
        let err = connector(Some(Path::new("/nonexistent/global-bundle.pem")))
            .err()
            .expect("a missing bundle must fail")
            .to_string();
        assert!(err.contains("/nonexistent/global-bundle.pem"), "{err}");
        assert!(err.contains("truststore.pki.rds.amazonaws.com"), "{err}");
    }

    #[test]
    fn a_bundle_without_certificates_is_rejected() {
        let dir = std::env::temp_dir().join(format!("cruddur-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("empty.pem");
        std::fs::write(&file, "not a certificate\n").unwrap();
        let err = connector(Some(&file)).err().expect("must fail").to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains("no usable certificate"), "{err}");
    }

    #[test]
    fn the_default_roots_build_a_connector() {
        assert!(connector(None).is_ok());
    }
}
