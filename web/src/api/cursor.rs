//! The opaque cursors of `GET /api/v1/runs/{id}/events`: base64url of `<seq>.<run id>` and a
//! truncated HMAC-SHA256 tag over it. The tag keeps clients from forging positions (the
//! cursor is only a position, but a forged one is a client bug worth a clear 400), and the
//! run id keeps a cursor from being used on another run.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use baton_core::domain::RunId;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Bytes of the HMAC tag kept in a cursor: 128 bits are far beyond guessing.
const TAG_LEN: usize = 16;

/// The environment variable with the cursor key, shared by every instance that serves the
/// API so that a cursor from one is accepted by another.
pub const CURSOR_KEY_VARIABLE: &str = "BATON_CURSOR_KEY";

/// Why a cursor was refused: 400 `invalid_cursor`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("the cursor is not one this API issued")]
    Undecodable,
    #[error("the cursor was issued for another run")]
    OtherRun,
}

/// The key cursors are authenticated with.
#[derive(Clone)]
pub struct CursorKey {
    key: [u8; 32],
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(redacted)")
    }
}

impl CursorKey {
    /// A key derived from a secret of any length.
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            key: Sha256::digest(secret).into(),
        }
    }

    /// A random key: cursors stay valid for this process only.
    pub fn random() -> Self {
        // Version 4 UUIDs carry 122 bits from the operating system's generator each.
        let mut seed = Vec::with_capacity(32);
        seed.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        seed.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self::from_secret(&seed)
    }

    /// [`CURSOR_KEY_VARIABLE`] when set and not empty, else a random key.
    pub fn from_env() -> Self {
        match std::env::var(CURSOR_KEY_VARIABLE) {
            Ok(secret) if !secret.is_empty() => Self::from_secret(secret.as_bytes()),
            _ => Self::random(),
        }
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(payload);
        mac
    }

    /// The cursor that resumes `run`'s timeline after event `seq`.
    pub fn encode(&self, run: &RunId, seq: u32) -> String {
        let mut bytes = format!("{seq}.{run}").into_bytes();
        let tag = self.mac(&bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The sequence number a cursor resumes after, if this key issued it for `run`.
    pub fn decode(&self, run: &RunId, cursor: &str) -> Result<u32, CursorError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| CursorError::Undecodable)?;
        if bytes.len() <= TAG_LEN {
            return Err(CursorError::Undecodable);
        }
        let (payload, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        // Constant time: the tag comparison must not tell how much of a guess was right.
        self.mac(payload)
            .verify_truncated_left(tag)
            .map_err(|_| CursorError::Undecodable)?;
        let payload = std::str::from_utf8(payload).map_err(|_| CursorError::Undecodable)?;
        let (seq, cursor_run) = payload.split_once('.').ok_or(CursorError::Undecodable)?;
        if cursor_run != run.as_str() {
            return Err(CursorError::OtherRun);
        }
        seq.parse().map_err(|_| CursorError::Undecodable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunId {
        RunId::generate()
    }

    #[test]
    fn a_cursor_round_trips_for_its_run_only() {
        let key = CursorKey::random();
        let (a, b) = (run(), run());
        let cursor = key.encode(&a, 42);
        assert_eq!(key.decode(&a, &cursor), Ok(42));
        assert_eq!(key.decode(&b, &cursor), Err(CursorError::OtherRun));
    }

    #[test]
    fn tampered_foreign_or_garbage_cursors_are_refused() {
        let key = CursorKey::from_secret(b"one");
        let run = run();
        let cursor = key.encode(&run, 7);
        // Another key (another deployment, or a restarted process without a shared key).
        assert_eq!(
            CursorKey::from_secret(b"two").decode(&run, &cursor),
            Err(CursorError::Undecodable)
        );
        // The same payload with another position and the old tag.
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).expect("decodes");
        bytes[0] = b'9';
        let forged = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(key.decode(&run, &forged), Err(CursorError::Undecodable));
        for garbage in ["", "!!!", "AAAA", &cursor[..cursor.len() - 2]] {
            assert_eq!(
                key.decode(&run, garbage),
                Err(CursorError::Undecodable),
                "{garbage:?}"
            );
        }
    }
}
