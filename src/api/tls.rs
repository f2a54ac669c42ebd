//! TLS: the trust store (Mozilla's roots plus the CAs the job was given), and the crypto provider
//! every connection uses.

use crate::config::CaBundle;
use crate::error::{Error, Result};
use rustls::SignatureScheme;
use rustls::crypto::ring::cipher_suite as suite;
use rustls::crypto::{
    CryptoProvider, GetRandomFailed, KeyProvider, SecureRandom, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::PrivateKeyDer;
use rustls::sign::SigningKey;
use std::sync::Arc;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use webpki::ring as algs;

/// The TLS configuration of every connection gljob makes: Mozilla's roots plus the `extra_cas`,
/// through [`provider`]. ureq has no provider of its own to fall back on (see Cargo.toml): a
/// configuration made any other way would panic at its first handshake.
pub fn config(extra_cas: &[CaBundle]) -> Result<TlsConfig> {
    Ok(TlsConfig::builder()
        .root_certs(trusted_roots(extra_cas)?)
        .unversioned_rustls_crypto_provider(provider())
        .build())
}

/// rustls's *ring* provider, cut to what a client of GitLab uses:
/// - AES-GCM cipher suites only, for TLS 1.3 and 1.2: every TLS server offers them (GitLab's
///   bundled NGINX, GitLab.com, load balancers). ChaCha20-Poly1305 is for clients without AES
///   instructions; its assembly is about 40 KB of the static binary;
/// - no client key: gljob never presents a certificate, so *ring*'s RSA and Ed25519 signing is
///   not linked either;
/// - the key exchange groups and the signature algorithms that verify a server, as rustls's own
///   *ring* provider has them (`rustls::crypto::ring::default_provider`, whose table is private:
///   it is written out below, as rustls 0.23 writes it).
///
/// Calling `default_provider` would link every cipher suite and the signing code, which is also
/// why ureq's `_ring` feature (its fallback to that provider) is not enabled (see Cargo.toml).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: vec![
            suite::TLS13_AES_256_GCM_SHA384,
            suite::TLS13_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ],
        kx_groups: rustls::crypto::ring::ALL_KX_GROUPS.to_vec(),
        signature_verification_algorithms: SIGNATURE_ALGORITHMS,
        secure_random: &SystemRandom,
        key_provider: &NoClientKey,
    })
}

/// What verifies a server's certificate and handshake, as rustls 0.23's *ring* provider has it.
static SIGNATURE_ALGORITHMS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        algs::ECDSA_P256_SHA256,
        algs::ECDSA_P256_SHA384,
        algs::ECDSA_P384_SHA256,
        algs::ECDSA_P384_SHA384,
        algs::ED25519,
        algs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        algs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
        algs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
        algs::RSA_PKCS1_2048_8192_SHA256,
        algs::RSA_PKCS1_2048_8192_SHA384,
        algs::RSA_PKCS1_2048_8192_SHA512,
        algs::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
        algs::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
        algs::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    ],
    mapping: &[
        // For TLS 1.2 the curve is not fixed by the scheme; for TLS 1.3 it is.
        (
            SignatureScheme::ECDSA_NISTP384_SHA384,
            &[algs::ECDSA_P384_SHA384, algs::ECDSA_P256_SHA384],
        ),
        (
            SignatureScheme::ECDSA_NISTP256_SHA256,
            &[algs::ECDSA_P256_SHA256, algs::ECDSA_P384_SHA256],
        ),
        (SignatureScheme::ED25519, &[algs::ED25519]),
        (
            SignatureScheme::RSA_PSS_SHA512,
            &[algs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PSS_SHA384,
            &[algs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PSS_SHA256,
            &[algs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA512,
            &[algs::RSA_PKCS1_2048_8192_SHA512],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA384,
            &[algs::RSA_PKCS1_2048_8192_SHA384],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA256,
            &[algs::RSA_PKCS1_2048_8192_SHA256],
        ),
    ],
};

/// The operating system's random numbers, through *ring*.
#[derive(Debug)]
struct SystemRandom;

impl SecureRandom for SystemRandom {
    fn fill(&self, buf: &mut [u8]) -> std::result::Result<(), GetRandomFailed> {
        use ring::rand::SecureRandom as _;
        ring::rand::SystemRandom::new()
            .fill(buf)
            .map_err(|_| GetRandomFailed)
    }
}

/// gljob presents no client certificate: there is never a private key to load.
#[derive(Debug)]
struct NoClientKey;

impl KeyProvider for NoClientKey {
    fn load_private_key(
        &self,
        _key: PrivateKeyDer<'static>,
    ) -> std::result::Result<Arc<dyn SigningKey>, rustls::Error> {
        Err(rustls::Error::General(
            "gljob presents no client certificate".into(),
        ))
    }
}

/// Mozilla's roots plus every certificate of the given PEM bundles. This is the only root store:
/// ureq's own bundled copy is not linked (see Cargo.toml), so every https:// root needs it.
fn trusted_roots(bundles: &[CaBundle]) -> Result<RootCerts> {
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
