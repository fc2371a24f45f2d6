//! The log's anchor outside the database: an HMAC-SHA256 key (`CUTOVER_LOG_KEY`) that signs
//! every new entry's hash, so a chain rewritten and re-hashed by someone with write access
//! to the database, but not the key, no longer verifies.
//!
//! The key comes from the environment only; it is never stored, logged or printed (its
//! `Debug` shows `LogKey(***)`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The environment variable the key is read from.
pub const LOG_KEY_ENV: &str = "CUTOVER_LOG_KEY";

/// A secret that signs log entries.
#[derive(Clone)]
pub struct LogKey(Vec<u8>);

impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogKey(***)")
    }
}

impl LogKey {
    /// A key from its bytes; `None` for an empty one.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<LogKey> {
        let bytes = bytes.into();
        (!bytes.is_empty()).then_some(LogKey(bytes))
    }

    /// The key in `CUTOVER_LOG_KEY` (its UTF-8 bytes), if set and not empty.
    pub fn from_env() -> Option<LogKey> {
        std::env::var_os(LOG_KEY_ENV).and_then(|v| LogKey::new(v.into_encoded_bytes()))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts any key length")
    }

    /// The MAC of an entry hash, hex.
    pub fn sign(&self, hash: &str) -> String {
        let mut m = self.mac();
        m.update(hash.as_bytes());
        hex::encode(m.finalize().into_bytes())
    }

    /// Whether `mac` is this key's MAC of `hash` (compared in constant time).
    pub fn verifies(&self, hash: &str, mac: &str) -> bool {
        let Ok(bytes) = hex::decode(mac) else {
            return false;
        };
        let mut m = self.mac();
        m.update(hash.as_bytes());
        m.verify_slice(&bytes).is_ok()
    }
}
