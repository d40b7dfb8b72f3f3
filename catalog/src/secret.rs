//! The secret box: how stored credentials (datasource passwords) are encrypted at rest.
//!
//! AES-256-GCM with one 32-byte key per installation. Each sealed value carries its own random
//! 96-bit nonce, and GCM's tag makes a wrong key or any tampering fail loudly on `open`
//! instead of yielding garbage. Sealed text is `v1:` followed by base64 (standard, padded) of
//! `nonce ‖ ciphertext+tag`; the prefix lets a later format or key rotation coexist.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Bytes in an AES-256 key.
const KEY_LEN: usize = 32;
/// Bytes in a GCM nonce (96 bits, the size GCM is designed for).
const NONCE_LEN: usize = 12;
/// Marks the current sealed-text format.
const FORMAT_PREFIX: &str = "v1:";

/// Why a key could not be loaded or a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("invalid secret key: {0}")]
    InvalidKey(String),
    #[error("malformed sealed value: {0}")]
    Malformed(String),
    /// Deliberately vague: GCM cannot tell a wrong key from tampered data.
    #[error("sealed value could not be opened: wrong key or tampered data")]
    Unreadable,
    #[error("sealed value is not UTF-8 text")]
    NotText,
    #[error("the secret is too long to encrypt")]
    TooLong,
}

/// Encrypts and decrypts short secrets with one AES-256-GCM key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

// Never print key material, even in debug output.
impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox { .. }")
    }
}

impl SecretBox {
    /// Loads a key written as standard base64 of exactly 32 bytes (surrounding whitespace,
    /// such as a file's trailing newline, is ignored).
    pub fn from_key_text(text: &str) -> Result<SecretBox, SecretError> {
        const EXPECTED: &str =
            "expected standard base64 of 32 random bytes (44 characters, e.g. from `SecretBox::generate_key_text`)";
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| SecretError::InvalidKey(format!("not base64 ({e}); {EXPECTED}")))?;
        if bytes.len() != KEY_LEN {
            return Err(SecretError::InvalidKey(format!("decodes to {} bytes; {EXPECTED}", bytes.len())));
        }
        Ok(SecretBox::from_key_bytes(&bytes))
    }

    /// A new random key, as text that `from_key_text` accepts.
    pub fn generate_key_text() -> String {
        let key: [u8; KEY_LEN] = rand::random();
        STANDARD.encode(key)
    }

    fn from_key_bytes(bytes: &[u8]) -> SecretBox {
        SecretBox { cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes)) }
    }

    /// Encrypts `plain` under a fresh random nonce; sealing the same text twice gives
    /// different output.
    pub fn seal(&self, plain: &str) -> Result<String, SecretError> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = Nonce::from_slice(&nonce_bytes);
        // Encryption only fails for inputs beyond GCM's ~64 GiB limit.
        let ciphertext = self.cipher.encrypt(nonce, plain.as_bytes()).map_err(|_| SecretError::TooLong)?;
        let mut payload = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        payload.extend_from_slice(&nonce_bytes);
        payload.extend_from_slice(&ciphertext);
        Ok(format!("{FORMAT_PREFIX}{}", STANDARD.encode(payload)))
    }

    /// Decrypts what `seal` produced with the same key.
    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        let encoded = sealed
            .strip_prefix(FORMAT_PREFIX)
            .ok_or_else(|| SecretError::Malformed(format!("expected the `{FORMAT_PREFIX}` prefix")))?;
        let payload = STANDARD.decode(encoded).map_err(|e| SecretError::Malformed(format!("not base64: {e}")))?;
        // The tag alone is 16 bytes, so anything not longer than the nonce is truncated.
        if payload.len() <= NONCE_LEN {
            return Err(SecretError::Malformed("too short".into()));
        }
        let (nonce_bytes, ciphertext) = payload.split_at(NONCE_LEN);
        let plain =
            self.cipher.decrypt(Nonce::from_slice(nonce_bytes), ciphertext).map_err(|_| SecretError::Unreadable)?;
        String::from_utf8(plain).map_err(|_| SecretError::NotText)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_box() -> SecretBox {
        SecretBox::from_key_text(&SecretBox::generate_key_text()).unwrap()
    }

    #[test]
    fn sealed_text_opens_to_the_original() {
        let secrets = new_box();
        for plain in ["", "hunter2", "pässwörd with spaces and ✓"] {
            let sealed = secrets.seal(plain).unwrap();
            assert!(sealed.starts_with("v1:"));
            assert!(!sealed.contains(plain) || plain.is_empty());
            assert_eq!(secrets.open(&sealed).unwrap(), plain);
        }
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let secrets = new_box();
        let a = secrets.seal("same").unwrap();
        let b = secrets.seal("same").unwrap();
        assert_ne!(a, b);
        let nonce = |s: &str| STANDARD.decode(&s[3..]).unwrap()[..NONCE_LEN].to_vec();
        assert_ne!(nonce(&a), nonce(&b));
    }

    #[test]
    fn a_different_key_cannot_open() {
        let sealed = new_box().seal("secret").unwrap();
        assert_eq!(new_box().open(&sealed), Err(SecretError::Unreadable));
    }

    #[test]
    fn tampering_is_detected() {
        let secrets = new_box();
        let sealed = secrets.seal("secret").unwrap();
        let mut payload = STANDARD.decode(&sealed[3..]).unwrap();
        for i in [0, NONCE_LEN, payload.len() - 1] {
            payload[i] ^= 0x01;
            let tampered = format!("v1:{}", STANDARD.encode(&payload));
            assert_eq!(secrets.open(&tampered), Err(SecretError::Unreadable));
            payload[i] ^= 0x01;
        }
        assert!(matches!(secrets.open("v1:AAAA"), Err(SecretError::Malformed(_))));
        assert!(matches!(secrets.open("v1:not base64!"), Err(SecretError::Malformed(_))));
        assert!(matches!(secrets.open("plain text"), Err(SecretError::Malformed(_))));
        let truncated = &sealed[..sealed.len() - 8];
        assert!(secrets.open(truncated).is_err());
    }

    #[test]
    fn key_text_must_be_base64_of_32_bytes() {
        let key = SecretBox::generate_key_text();
        assert_eq!(key.len(), 44);
        assert!(SecretBox::from_key_text(&format!("  {key}\n")).is_ok());
        let short = SecretBox::from_key_text(&STANDARD.encode([7u8; 16])).unwrap_err();
        assert!(short.to_string().contains("16 bytes"), "{short}");
        assert!(short.to_string().contains("32"), "{short}");
        let garbage = SecretBox::from_key_text("not a key").unwrap_err();
        assert!(garbage.to_string().contains("base64"), "{garbage}");
    }

    #[test]
    fn debug_output_hides_the_key() {
        assert_eq!(format!("{:?}", new_box()), "SecretBox { .. }");
    }
}
