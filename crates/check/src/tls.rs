//! TLS for SSL_GET: the rustls client configuration, and explicit reasons for handshake
//! failures.
//!
//! - rustls with the *ring* provider, TLS 1.2 and TLS 1.3, rustls' default cipher suites:
//!   TLS 1.3's, and for TLS 1.2 ECDHE with AES-GCM or ChaCha20-Poly1305. rustls has no
//!   CBC suite and no TLS 1.0/1.1: a server limited to those fails its check with that
//!   reason ([`failure_reason`]).
//! - Certificate verification is off by default, as in keepalived (which never asks
//!   OpenSSL to verify the peer): any certificate is accepted, but the handshake
//!   signatures are still checked against the certificate's key. With
//!   [`TlsMaterial::verify`] the chain is verified against `ca_pem` (and the name against
//!   the SNI, or the address when there is none).
//! - A client certificate and key from PEM (`certificate`, `key` of the SSL block). An
//!   encrypted key is refused at load by the parent ([`key_is_encrypted`]).
//! - The server name: the SNI when configured, else the address (rustls sends no SNI for
//!   an address) — [`server_name`].

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, Error,
    PeerIncompatible, RootCertStore, SignatureScheme,
};

/// The TLS material of the SSL block, read by the parent.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsMaterial {
    /// `ca`: the CA certificates (PEM) to verify the server against.
    pub ca_pem: Option<Vec<u8>>,
    /// `certificate`: the client certificate chain (PEM).
    pub cert_pem: Option<Vec<u8>>,
    /// `key`: the client's private key (PEM, unencrypted).
    pub key_pem: Option<Vec<u8>>,
    /// Verify the server's certificate (off by default, as in keepalived).
    pub verify: bool,
}

impl fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .field("cert_pem", &self.cert_pem.as_ref().map(Vec::len))
            .field("key_pem", &self.key_pem.as_ref().map(|_| "<hidden>"))
            .field("verify", &self.verify)
            .finish()
    }
}

/// The provider: ring, rustls' default suites and groups.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration for `m`.
pub fn client_config(m: &TlsMaterial) -> Result<Arc<ClientConfig>, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS configuration: {e}"))?;
    let builder = if m.verify {
        let Some(ca) = &m.ca_pem else {
            return Err("certificate verification is on but the SSL block names no ca".to_string());
        };
        let mut roots = RootCertStore::empty();
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(ca) {
            let cert = cert.map_err(|e| format!("ca: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("ca: a certificate cannot be used: {e}"))?;
            n += 1;
        }
        if n == 0 {
            return Err("ca: no certificate in the file".into());
        }
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| format!("ca: {e}"))?;
        builder.with_webpki_verifier(verifier)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
    };
    let config = match (&m.cert_pem, &m.key_pem) {
        (Some(cert), Some(key)) => {
            if key_is_encrypted(key) {
                return Err("key: the private key is encrypted".into());
            }
            let chain = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("certificate: {e}"))?;
            if chain.is_empty() {
                return Err("certificate: no certificate in the file".into());
            }
            let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| format!("key: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("certificate and key: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => return Err("certificate without key".into()),
        (None, Some(_)) => return Err("key without certificate".into()),
    };
    Ok(Arc::new(config))
}

/// The name rustls needs: the SNI when there is one (sent to the server, and checked
/// against the certificate when verifying), else `addr` (no SNI is sent).
pub fn server_name(sni: Option<&str>, addr: IpAddr) -> Result<ServerName<'static>, String> {
    match sni {
        Some(name) => ServerName::try_from(name.to_string())
            .map_err(|e| format!("the SNI '{name}' is not a valid name: {e}")),
        None => Ok(ServerName::IpAddress(addr.into())),
    }
}

/// The protocol limits, for messages.
const WE_SPEAK: &str = "keepalived-rs speaks TLS 1.2 and 1.3";

/// An explicit reason for a TLS failure, for the log and the dumps.
pub fn failure_reason(e: &Error) -> String {
    match e {
        Error::AlertReceived(AlertDescription::ProtocolVersion)
        | Error::PeerIncompatible(
            PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
            | PeerIncompatible::SupportedVersionsExtensionRequired,
        ) => format!("the server offers only TLS 1.0/1.1; {WE_SPEAK}"),
        Error::AlertReceived(
            AlertDescription::HandshakeFailure | AlertDescription::InsufficientSecurity,
        )
        | Error::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon) => format!(
            "no cipher suite in common: the server offers only CBC suites (or others \
             keepalived-rs does not speak); {WE_SPEAK} with AEAD suites only (TLS 1.3, and \
             ECDHE with AES-GCM or ChaCha20-Poly1305 in TLS 1.2) (the server answered \
             {}; a server that requires a client certificate may also answer so)",
            alert_or_error(e)
        ),
        Error::PeerIncompatible(PeerIncompatible::NoKxGroupsInCommon) => {
            "no key exchange group in common (keepalived-rs offers X25519, P-256, P-384)"
                .to_string()
        }
        Error::PeerIncompatible(PeerIncompatible::NoSignatureSchemesInCommon) => {
            "no signature scheme in common with the server".to_string()
        }
        Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => {
                "certificate verification failed: the server's certificate is not issued by \
                 the configured ca"
                    .to_string()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "certificate verification failed: {c} (the SNI, or the address when there is none, must be in the certificate)"
                )
            }
            _ => format!("certificate verification failed: {c}"),
        },
        Error::AlertReceived(
            a @ (AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::AccessDenied),
        ) => format!("the server refused the client certificate (alert {a:?})"),
        Error::AlertReceived(a) => format!("the server ended the handshake (alert {a:?})"),
        Error::InvalidMessage(_) | Error::InappropriateMessage { .. } => {
            format!("the server does not speak TLS as expected ({e})")
        }
        Error::NoCertificatesPresented => "the server presented no certificate".to_string(),
        _ => format!("TLS error: {e}"),
    }
}

/// `handshake_failure` for alerts, the error otherwise.
fn alert_or_error(e: &Error) -> String {
    match e {
        Error::AlertReceived(AlertDescription::HandshakeFailure) => {
            "alert handshake_failure".into()
        }
        Error::AlertReceived(AlertDescription::InsufficientSecurity) => {
            "alert insufficient_security".into()
        }
        _ => e.to_string(),
    }
}

/// Whether a PEM private key is encrypted (PKCS#8 `ENCRYPTED PRIVATE KEY`, or a
/// traditional key with `Proc-Type: 4,ENCRYPTED`): the parent refuses such keys at load.
pub fn key_is_encrypted(pem: &[u8]) -> bool {
    let text = String::from_utf8_lossy(pem);
    text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text
            .lines()
            .any(|l| l.trim_start().starts_with("Proc-Type:") && l.contains("ENCRYPTED"))
}

/// The verifier when verification is off: any certificate, but the handshake signatures
/// must be made by its key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
