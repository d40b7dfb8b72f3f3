//! The edge's TLS listener: its certificate, read from PEM files (`SLUICE_TLS_CERT_FILE`,
//! `SLUICE_TLS_KEY_FILE`), offered to every handshake, and read again when either file changes
//! (looked at every second by [`CertWatcher`]), so a renewed certificate takes effect without
//! a restart. A pair that does not load (half written, mismatched) is logged and the previous
//! one stays. ALPN offers `h2` and `http/1.1`; HTTP/2's limits are set in `serve.rs` and
//! described in `docs/edge.md`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use pingora::tls::sign::CertifiedKey;
use pingora::tls::{ClientHello, CryptoProvider, ResolvesServerCert};

/// How often the files are looked at.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The edge's certificate and key, as last loaded.
#[derive(Debug)]
pub struct EdgeCert {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: ArcSwap<CertifiedKey>,
    /// The files' modification times when last loaded.
    loaded: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

impl EdgeCert {
    /// Loads the pair; the error says which file and what is wrong.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Arc<EdgeCert>, String> {
        pingora::tls::install_default_crypto_provider();
        let stamps = (modified(cert_file), modified(key_file));
        let key = certified_key(cert_file, key_file)?;
        Ok(Arc::new(EdgeCert {
            cert_file: cert_file.to_path_buf(),
            key_file: key_file.to_path_buf(),
            current: ArcSwap::from_pointee(key),
            loaded: Mutex::new(stamps),
        }))
    }

    /// Loads the pair again when either file changed since it was last loaded.
    pub fn reload_if_changed(&self) {
        let stamps = (modified(&self.cert_file), modified(&self.key_file));
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if *loaded == stamps {
            return;
        }
        match certified_key(&self.cert_file, &self.key_file) {
            Ok(key) => {
                self.current.store(Arc::new(key));
                *loaded = stamps;
                tracing::info!(cert = %self.cert_file.display(), "TLS certificate reloaded");
            }
            // Tried again on the next look: the files may be half written.
            Err(e) => tracing::warn!("TLS certificate not reloaded, the previous one stays: {e}"),
        }
    }
}

impl ResolvesServerCert for EdgeCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn certified_key(cert_file: &Path, key_file: &Path) -> Result<CertifiedKey, String> {
    let (cert_text, key_text) = (cert_file.to_string_lossy(), key_file.to_string_lossy());
    let (certs, key) = match pingora::tls::load_certs_and_key_files(&cert_text, &key_text) {
        Ok(Some(pair)) => pair,
        Ok(None) => return Err(format!("no certificate in {cert_text} or no private key in {key_text}")),
        Err(e) => return Err(format!("cannot read {cert_text} or {key_text}: {e}")),
    };
    let certs = certs.into_iter().map(|c| c.into_owned()).collect();
    let provider = CryptoProvider::get_default().ok_or("no TLS crypto provider is installed")?;
    CertifiedKey::from_der(certs, key.clone_key(), provider)
        .map_err(|e| format!("{cert_text} and {key_text} do not make a certificate and its key: {e}"))
}

/// Looks at the certificate files every second.
pub struct CertWatcher {
    pub cert: Arc<EdgeCert>,
}

#[async_trait]
impl BackgroundService for CertWatcher {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut ticker = tokio::time::interval(CHECK_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => self.cert.reload_if_changed(),
                _ = shutdown.changed() => return,
            }
        }
    }
}
