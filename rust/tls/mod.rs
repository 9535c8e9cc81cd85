//! TLS termination: a rustls `ServerConfig` built from CherryPy's PEM files
//! (`server.ssl_certificate`, `_private_key`, `_certificate_chain`, plus `ssl_client_ca` for
//! client certificates), swapped whole on reload so that new handshakes use new files
//! while open connections keep theirs, and what a finished handshake tells applications
//! (the `SSL_*` environ keys of mod_ssl and cheroot).
//!
//! Safe defaults only: TLS 1.2 and 1.3, rustls' default cipher suites (AEAD with forward
//! secrecy), ALPN `h2` then `http/1.1` (RFC 7301). PEM is read with rustls-pki-types'
//! `PemObject` (rustls-pemfile is unmaintained, RUSTSEC-2025-0134).

pub mod x509;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use rustls::crypto::CryptoProvider;
use rustls::server::{ServerSessionMemoryCache, StoresServerSessions, WebPkiClientVerifier};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{RootCertStore, ServerConfig as RustlsConfig, ServerConnection};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{TlsSettings, VerifyClient};
use crate::errors::Error;
use crate::exchange::TlsInfo;

/// A certificate that expires sooner than this gets a warning at start.
const EXPIRY_WARNING_DAYS: i64 = 30;

/// TLS sessions remembered for resumption, shared across reloads.
const SESSION_CACHE_SIZE: usize = 1024;

/// The TLS side of a listener: the current rustls configuration and how to rebuild it.
pub struct Terminator {
    settings: TlsSettings,
    alpn_h2: bool,
    sessions: Arc<dyn StoresServerSessions>,
    current: RwLock<Arc<RustlsConfig>>,
}

impl Terminator {
    /// Loads the files; returns the terminator and warnings (certificate expiry).
    pub fn new(settings: TlsSettings, alpn_h2: bool) -> Result<(Self, Vec<String>), Error> {
        let sessions: Arc<dyn StoresServerSessions> =
            ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
        let (config, warnings) = build(&settings, alpn_h2, sessions.clone(), Utc::now())?;
        let terminator = Terminator {
            settings,
            alpn_h2,
            sessions,
            current: RwLock::new(config),
        };
        Ok((terminator, warnings))
    }

    /// The configuration new handshakes use.
    pub fn config(&self) -> Arc<RustlsConfig> {
        self.current.read().clone()
    }

    /// Re-reads the files. On error the previous configuration stays in use.
    pub fn reload(&self) -> Result<Vec<String>, Error> {
        let (config, warnings) = build(
            &self.settings,
            self.alpn_h2,
            self.sessions.clone(),
            Utc::now(),
        )?;
        *self.current.write() = config;
        Ok(warnings)
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls configuration for `settings`, and the warnings to log.
pub fn build(
    settings: &TlsSettings,
    alpn_h2: bool,
    sessions: Arc<dyn StoresServerSessions>,
    now: DateTime<Utc>,
) -> Result<(Arc<RustlsConfig>, Vec<String>), Error> {
    let provider = provider();
    let cert_key = "server.ssl_certificate";
    let mut chain = read_certs(cert_key, &settings.certificate)?;
    let mut warnings = Vec::new();
    if let Some(w) = expiry_warning(&settings.certificate, &chain[0], now) {
        warnings.push(w);
    }
    if let Some(path) = &settings.chain {
        chain.extend(read_certs("server.ssl_certificate_chain", path)?);
    }
    let (key_name, key_path) = match &settings.private_key {
        Some(path) => ("server.ssl_private_key", path.as_path()),
        None => (cert_key, settings.certificate.as_path()),
    };
    let key = read_key(key_name, key_path)?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| Error::Tls {
            key: key_name,
            path: key_path.to_path_buf(),
            message: format!(
                "the private key cannot be used ({e}); use an RSA, ECDSA or Ed25519 key"
            ),
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => {}
        // The key type cannot tell its public key: nothing to compare.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(_)) => {
            return Err(Error::Tls {
                key: key_name,
                path: key_path.to_path_buf(),
                message: format!(
                    "this private key does not match the certificate in {}: configure the \
                     key that was used to create that certificate",
                    settings.certificate.display()
                ),
            })
        }
        Err(e) => {
            return Err(Error::Tls {
                key: cert_key,
                path: settings.certificate.clone(),
                message: format!("the certificate cannot be parsed: {e}"),
            })
        }
    }
    let builder = RustlsConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Error::Tls {
            key: cert_key,
            path: settings.certificate.clone(),
            message: format!("no usable TLS version: {e}"),
        })?;
    let builder = match (settings.verify_client, &settings.client_ca) {
        (VerifyClient::None, _) | (_, None) => builder.with_no_client_auth(),
        (mode, Some(ca)) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs("server.ssl_client_ca", ca)? {
                roots.add(cert).map_err(|e| Error::Tls {
                    key: "server.ssl_client_ca",
                    path: ca.clone(),
                    message: format!("a CA certificate cannot be used: {e}"),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if mode == VerifyClient::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier.build().map_err(|e| Error::Tls {
                key: "server.ssl_client_ca",
                path: ca.clone(),
                message: format!("cannot verify client certificates with these CAs: {e}"),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.alpn_protocols = if alpn_h2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    config.session_storage = sessions;
    Ok((Arc::new(config), warnings))
}

fn read_file(key: &'static str, path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::Tls {
        key,
        path: path.to_path_buf(),
        message: match e.kind() {
            std::io::ErrorKind::NotFound => "no such file: check the path".to_string(),
            std::io::ErrorKind::PermissionDenied => {
                "permission denied: the server's user must be able to read it".to_string()
            }
            _ => format!("cannot read it: {e}"),
        },
    })
}

/// Every `CERTIFICATE` section of a PEM file, in order; at least one.
fn read_certs(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = read_file(key, path)?;
    let fail = |message: String| Error::Tls {
        key,
        path: path.to_path_buf(),
        message,
    };
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("not a valid PEM file: {e}")))?;
    if certs.is_empty() {
        return Err(fail(
            "contains no certificate (expected a '-----BEGIN CERTIFICATE-----' section)".into(),
        ));
    }
    Ok(certs)
}

/// The private key of a PEM file: PKCS#8, PKCS#1 (RSA) or SEC1 (EC); never encrypted.
fn read_key(key: &'static str, path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let bytes = read_file(key, path)?;
    let fail = |message: &str| Error::Tls {
        key,
        path: path.to_path_buf(),
        message: message.to_string(),
    };
    let text = String::from_utf8_lossy(&bytes);
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
    {
        return Err(fail(
            "the private key is encrypted and the server cannot ask for its passphrase: \
             decrypt it (openssl pkey -in KEY -out KEY.plain) and protect the file instead",
        ));
    }
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => fail(
            "contains no private key (expected '-----BEGIN PRIVATE KEY-----', \
             'BEGIN RSA PRIVATE KEY' or 'BEGIN EC PRIVATE KEY')",
        ),
        other => fail(&format!("the private key is not valid PEM: {other}")),
    })
}

/// A warning when the leaf certificate has expired or expires within 30 days: it is
/// still served (clients decide), but the operator should renew it.
fn expiry_warning(path: &Path, leaf: &CertificateDer<'_>, now: DateTime<Utc>) -> Option<String> {
    let not_after = x509::not_after(leaf)?;
    let when = x509::format_time(&not_after);
    if not_after <= now {
        return Some(format!(
            "the certificate in {} expired on {when}: it is still served, but clients will \
             refuse it; renew it",
            path.display()
        ));
    }
    let days = (not_after - now).num_days();
    (days < EXPIRY_WARNING_DAYS).then(|| {
        format!(
            "the certificate in {} expires on {when} (in {days} days): renew it",
            path.display()
        )
    })
}

/// What a finished handshake tells the application.
pub fn connection_info(conn: &ServerConnection) -> TlsInfo {
    let protocol = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "TLS",
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .map(|s| {
            let name = s
                .suite()
                .as_str()
                .map_or_else(|| format!("{:?}", s.suite()), |n| n.to_string());
            // IANA names: rustls spells the TLS 1.3 suites "TLS13_AES_128_GCM_SHA256".
            name.replacen("TLS13_", "TLS_", 1)
        })
        .unwrap_or_default();
    let bits = if cipher.contains("AES_128") { 128 } else { 256 };
    let mut environ: Vec<(String, String)> = vec![
        ("SSL_PROTOCOL".into(), protocol.into()),
        ("SSL_CIPHER".into(), cipher),
        ("SSL_CIPHER_USEKEYSIZE".into(), bits.to_string()),
        ("SSL_CIPHER_ALGKEYSIZE".into(), bits.to_string()),
        ("SSL_VERSION_LIBRARY".into(), "rustls".into()),
        (
            "SSL_VERSION_INTERFACE".into(),
            concat!("cherrypy_rs/", env!("CARGO_PKG_VERSION")).into(),
        ),
    ];
    if let Some(sni) = conn.server_name() {
        environ.push(("SSL_TLS_SNI".into(), sni.to_string()));
    }
    let peer = conn.peer_certificates().and_then(|c| c.first());
    match peer {
        None => environ.push(("SSL_CLIENT_VERIFY".into(), "NONE".into())),
        Some(der) => {
            // rustls only finishes a handshake whose client certificate verified.
            environ.push(("SSL_CLIENT_VERIFY".into(), "SUCCESS".into()));
            if let Some(s) = x509::summarize(der) {
                environ.push(("SSL_CLIENT_M_VERSION".into(), s.version.to_string()));
                environ.push(("SSL_CLIENT_M_SERIAL".into(), s.serial.clone()));
                environ.push((
                    "SSL_CLIENT_V_START".into(),
                    x509::format_time(&s.not_before),
                ));
                environ.push(("SSL_CLIENT_V_END".into(), x509::format_time(&s.not_after)));
                dn_keys(&mut environ, "SSL_CLIENT_S_DN", &s.subject);
                dn_keys(&mut environ, "SSL_CLIENT_I_DN", &s.issuer);
            }
            environ.push(("SSL_CLIENT_CERT".into(), x509::to_pem(der)));
        }
    }
    TlsInfo {
        alpn: conn.alpn_protocol().map(|p| p.to_vec()),
        environ,
    }
}

/// `PREFIX` = the whole DN, `PREFIX_CN`... per attribute (values of a repeated attribute
/// joined with ",", and also numbered `PREFIX_OU_0`, `_1`), as cheroot does.
fn dn_keys(environ: &mut Vec<(String, String)>, prefix: &str, dn: &[x509::Attribute]) {
    environ.push((prefix.to_string(), x509::format_dn(dn)));
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in dn {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    for name in names {
        let values: Vec<&str> = dn
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        environ.push((format!("{prefix}_{name}"), values.join(",")));
        if values.len() > 1 {
            for (i, v) in values.iter().enumerate() {
                environ.push((format!("{prefix}_{name}_{i}"), v.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256};
    use std::path::PathBuf;

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new() -> Self {
            Files {
                dir: tempfile::tempdir().unwrap(),
            }
        }
        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    fn self_signed(key: &KeyPair) -> String {
        CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(key)
            .unwrap()
            .pem()
    }

    fn settings(cert: PathBuf, key: Option<PathBuf>) -> TlsSettings {
        TlsSettings {
            certificate: cert,
            private_key: key,
            chain: None,
            client_ca: None,
            verify_client: VerifyClient::None,
        }
    }

    fn load(s: &TlsSettings) -> Result<Vec<String>, Error> {
        let sessions: Arc<dyn StoresServerSessions> = ServerSessionMemoryCache::new(8);
        build(s, true, sessions, Utc::now()).map(|(_, w)| w)
    }

    fn message(s: &TlsSettings) -> String {
        load(s).expect_err("expected an error").to_string()
    }

    #[test]
    fn pkcs8_sec1_and_rsa_keys_load() {
        let f = Files::new();
        let ec = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = f.write("ec.pem", &self_signed(&ec));
        let pkcs8 = f.write("ec.key", &ec.serialize_pem());
        assert_eq!(
            load(&settings(cert.clone(), Some(pkcs8))).unwrap(),
            Vec::<String>::new()
        );
        // SEC1 and PKCS#1 files as OpenSSL writes them are covered by tests/test_tls.py.
        let rsa = KeyPair::generate_for(&PKCS_RSA_SHA256);
        if let Ok(rsa) = rsa {
            let c = f.write("rsa.pem", &self_signed(&rsa));
            let k = f.write("rsa.key", &rsa.serialize_pem());
            assert!(load(&settings(c, Some(k))).is_ok());
        }
        // Key and certificate in one file, no ssl_private_key.
        let both = f.write("both.pem", &(self_signed(&ec) + &ec.serialize_pem()));
        assert!(load(&settings(both, None)).is_ok());
    }

    #[test]
    fn mismatched_key_names_the_key_file() {
        let f = Files::new();
        let a = KeyPair::generate().unwrap();
        let b = KeyPair::generate().unwrap();
        let cert = f.write("a.pem", &self_signed(&a));
        let key = f.write("b.key", &b.serialize_pem());
        let msg = message(&settings(cert, Some(key)));
        assert!(
            msg.contains("server.ssl_private_key") && msg.contains("b.key"),
            "{msg}"
        );
        assert!(msg.contains("does not match"), "{msg}");
    }

    #[test]
    fn missing_encrypted_and_empty_files_are_explained() {
        let f = Files::new();
        let a = KeyPair::generate().unwrap();
        let cert = f.write("a.pem", &self_signed(&a));
        let missing = f.dir.path().join("nope.key");
        let msg = message(&settings(cert.clone(), Some(missing)));
        assert!(
            msg.contains("nope.key") && msg.contains("no such file"),
            "{msg}"
        );
        let encrypted = f.write(
            "enc.key",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
        );
        let msg = message(&settings(cert.clone(), Some(encrypted)));
        assert!(msg.contains("encrypted"), "{msg}");
        let legacy = f.write(
            "legacy.key",
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nMIIB\n-----END RSA PRIVATE KEY-----\n",
        );
        assert!(message(&settings(cert.clone(), Some(legacy))).contains("encrypted"));
        let nothing = f.write("empty.pem", "hello\n");
        let msg = message(&settings(nothing.clone(), None));
        assert!(
            msg.contains("server.ssl_certificate") && msg.contains("no certificate"),
            "{msg}"
        );
        let msg = message(&settings(cert, Some(nothing)));
        assert!(msg.contains("no private key"), "{msg}");
    }

    #[test]
    fn expiry_is_a_warning_not_an_error() {
        let f = Files::new();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        let cert = f.write("old.pem", &params.self_signed(&key).unwrap().pem());
        let k = f.write("old.key", &key.serialize_pem());
        let warnings = load(&settings(cert, Some(k))).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("expired on Jan  1 00:00:00 2021 GMT"),
            "{warnings:?}"
        );
    }

    #[test]
    fn chain_and_client_ca_load() {
        let f = Files::new();
        let key = KeyPair::generate().unwrap();
        let cert = f.write("a.pem", &self_signed(&key));
        let k = f.write("a.key", &key.serialize_pem());
        let mut s = settings(cert.clone(), Some(k));
        s.chain = Some(cert.clone());
        s.client_ca = Some(cert);
        s.verify_client = VerifyClient::Required;
        assert!(load(&s).is_ok());
        s.client_ca = Some(f.write("bad-ca.pem", "nothing"));
        let msg = message(&s);
        assert!(
            msg.contains("server.ssl_client_ca") && msg.contains("bad-ca.pem"),
            "{msg}"
        );
    }
}
