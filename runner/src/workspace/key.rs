//! Workspace keys and work-branch names derived from an issue identifier.

use sha2::{Digest, Sha256};

/// Longest sanitized part kept before the hash suffix; keeps names far below the usual
/// 255-byte limit of a file name.
const MAX_SANITIZED_LEN: usize = 80;

/// The directory name of an issue's workspace under the root.
///
/// Every character outside `[A-Za-z0-9._-]` becomes `_`. When that changed anything (or the
/// name started with `.`, was empty, or was longer than 80 characters) a short hash of the
/// original identifier is appended, so distinct identifiers keep distinct keys: `a/b#1` becomes
/// `a_b_1-<hash>` while `a_b_1` stays `a_b_1`. The result is never empty, never `.` or `..`,
/// never hidden and never contains a path separator.
pub fn workspace_key(identifier: &str) -> String {
    sanitize(
        identifier,
        |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'),
        |c| c == '.',
    )
}

/// The identifier part of a work branch: like [`workspace_key`] but also replacing `.` (git
/// refuses `..`, a trailing `.` and `.lock`) and a leading `-` (read as an option).
pub fn branch_component(identifier: &str) -> String {
    sanitize(
        identifier,
        |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'),
        |c| c == '-',
    )
}

/// A short stable hash of an identifier: the first 8 hex digits of its SHA-256.
pub fn identifier_hash(identifier: &str) -> String {
    let digest = Sha256::digest(identifier.as_bytes());
    hex::encode(&digest[..4])
}

fn sanitize(
    identifier: &str,
    allowed: impl Fn(char) -> bool,
    forbidden_first: impl Fn(char) -> bool,
) -> String {
    let mut changed = false;
    let mut out = String::with_capacity(identifier.len());
    for (index, c) in identifier.chars().enumerate() {
        if allowed(c) && !(index == 0 && forbidden_first(c)) {
            out.push(c);
        } else {
            out.push('_');
            changed = true;
        }
    }
    if out.is_empty() {
        out.push('_');
        changed = true;
    }
    if out.len() > MAX_SANITIZED_LEN {
        // Only ASCII remains, so any byte index is a char boundary.
        out.truncate(MAX_SANITIZED_LEN);
        changed = true;
    }
    if changed {
        out.push('-');
        out.push_str(&identifier_hash(identifier));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_identifiers_have_no_suffix() {
        assert_eq!(workspace_key("ENG-42"), "ENG-42");
        assert_eq!(workspace_key("v1.2_x"), "v1.2_x");
        assert_eq!(branch_component("ENG-42"), "ENG-42");
    }

    #[test]
    fn hash_is_stable() {
        assert_eq!(identifier_hash("a/b#1"), identifier_hash("a/b#1"));
        assert_eq!(identifier_hash("a/b#1").len(), 8);
    }
}
