//! The trust store: Mozilla's roots plus the CAs the job was given.

use crate::config::CaBundle;
use crate::error::{Error, Result};
use ureq::tls::{Certificate, PemItem, RootCerts};

/// Mozilla's roots plus every certificate of the given PEM bundles. This is the only root store:
/// ureq's own bundled copy is not linked (see Cargo.toml), so every https:// root needs it.
pub fn trusted_roots(bundles: &[CaBundle]) -> Result<RootCerts> {
    let mut roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()))
        .collect();
    for bundle in bundles {
        let before = roots.len();
        for item in ureq::tls::parse_pem(&bundle.pem) {
            match item {
                Ok(PemItem::Certificate(cert)) => roots.push(cert),
                Ok(_) => {}
                Err(e) => {
                    return Err(Error::usage(format!(
                        "{}: the CA file is not valid PEM: {e}",
                        bundle.source
                    )));
                }
            }
        }
        if roots.len() == before {
            return Err(Error::usage(format!(
                "{}: the CA file holds no PEM certificate",
                bundle.source
            )));
        }
    }
    Ok(RootCerts::new_with_certs(&roots))
}
