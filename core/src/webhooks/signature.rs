//! Shared signature helpers: HMAC-SHA256 of the raw body checked in constant time, a
//! constant-time comparison for plain tokens, and header access.

use super::{ParseError, VerifyError};
use crate::secret::Secret;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// A SHA-256 digest is 32 bytes, 64 hex characters.
const DIGEST_LEN: usize = 32;

/// A header that is present but not visible ASCII (`HeaderValue::to_str` refuses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NotText;

/// The first value of header `name` as text; `Ok(None)` when absent.
pub(super) fn header_str<'a>(
    headers: &'a HeaderMap,
    name: &str,
) -> Result<Option<&'a str>, NotText> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value.to_str().map(Some).map_err(|_| NotText),
    }
}

/// A header the parser needs: missing or blank is `MissingHeader`, unreadable is
/// `InvalidHeader`. The value is trimmed.
pub(super) fn required_header<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<&'a str, ParseError> {
    optional_header(headers, name)?.ok_or(ParseError::MissingHeader(name))
}

/// Like [`required_header`], but absence (or a blank value) is `Ok(None)`.
pub(super) fn optional_header<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<&'a str>, ParseError> {
    match header_str(headers, name) {
        Ok(value) => Ok(value.map(str::trim).filter(|v| !v.is_empty())),
        Err(NotText) => Err(ParseError::InvalidHeader(
            name,
            "not visible ASCII".to_owned(),
        )),
    }
}

/// Reads signature header `name` (trimmed): missing is `MissingSignature`, unreadable is
/// `MalformedSignature`.
pub(super) fn signature_header<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<&'a str, VerifyError> {
    match header_str(headers, name) {
        Ok(Some(value)) => Ok(value.trim()),
        Ok(None) => Err(VerifyError::MissingSignature(name)),
        Err(NotText) => Err(VerifyError::MalformedSignature(name)),
    }
}

/// Checks `signature_hex` (64 hex characters, either case) against HMAC-SHA256(secret, body).
///
/// The hex is decoded first (a bad value is `MalformedSignature(header)`), then compared with
/// `Mac::verify_slice`, which runs in constant time.
pub(super) fn verify_hmac_sha256_hex(
    secret: &Secret,
    body: &[u8],
    signature_hex: &str,
    header: &'static str,
) -> Result<(), VerifyError> {
    let mut expected = [0u8; DIGEST_LEN];
    hex::decode_to_slice(signature_hex, &mut expected)
        .map_err(|_| VerifyError::MalformedSignature(header))?;
    // HMAC takes keys of any length; the error arm is unreachable but must not panic.
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| VerifyError::Mismatch)?;
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| VerifyError::Mismatch)
}

/// Reads header `name`, strips `prefix` (ASCII case-insensitive: `sha256=`), and checks the
/// hex HMAC that follows. A value without the prefix is `MalformedSignature`.
pub(super) fn verify_prefixed_hmac(
    headers: &HeaderMap,
    name: &'static str,
    prefix: &str,
    secret: &Secret,
    body: &[u8],
) -> Result<(), VerifyError> {
    let value = signature_header(headers, name)?;
    let hex =
        strip_prefix_ignore_case(value, prefix).ok_or(VerifyError::MalformedSignature(name))?;
    verify_hmac_sha256_hex(secret, body, hex, name)
}

fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| value.get(prefix.len()..))
        .flatten()
}

/// Compares a presented token with the expected one in constant time.
///
/// Both sides are hashed to SHA-256 first so the comparison always covers 32 bytes: a plain
/// `ct_eq` on slices returns early when the lengths differ, which would leak the secret's
/// length.
pub(super) fn token_matches(presented: &[u8], expected: &[u8]) -> bool {
    let presented = Sha256::digest(presented);
    let expected = Sha256::digest(expected);
    presented.as_slice().ct_eq(expected.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::test_support::{secret, sign_hex};
    use http::HeaderValue;

    // GitHub's published vector (reference.md §4).
    const GITHUB_SECRET: &str = "It's a Secret to Everybody";
    const GITHUB_BODY: &[u8] = b"Hello, World!";
    const GITHUB_HEX: &str = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn github_published_vector() {
        assert_eq!(sign_hex(GITHUB_SECRET, GITHUB_BODY), GITHUB_HEX);
        let result = verify_hmac_sha256_hex(&secret(GITHUB_SECRET), GITHUB_BODY, GITHUB_HEX, "h");
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn uppercase_hex_is_accepted() {
        let upper = GITHUB_HEX.to_ascii_uppercase();
        let result = verify_hmac_sha256_hex(&secret(GITHUB_SECRET), GITHUB_BODY, &upper, "h");
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn slack_published_vector_uses_the_same_hmac() {
        // Slack signs `v0:{timestamp}:{body}`; the HMAC itself is the one used here.
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let base = format!("v0:1531420618:{body}");
        let result = verify_hmac_sha256_hex(
            &secret("8f742231b10e8888abcd99yyyzzz85a5"),
            base.as_bytes(),
            "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
            "h",
        );
        assert_eq!(result, Ok(()));
    }

    #[test]
    fn tampered_body_and_wrong_secret_mismatch() {
        let tampered =
            verify_hmac_sha256_hex(&secret(GITHUB_SECRET), b"Hello, World?", GITHUB_HEX, "h");
        assert_eq!(tampered, Err(VerifyError::Mismatch));
        let wrong = verify_hmac_sha256_hex(&secret("not it"), GITHUB_BODY, GITHUB_HEX, "h");
        assert_eq!(wrong, Err(VerifyError::Mismatch));
    }

    #[test]
    fn malformed_hex_is_refused_before_comparing() {
        let s = secret(GITHUB_SECRET);
        for bad in [
            "",
            "zz",
            &GITHUB_HEX[..62],
            &format!("{GITHUB_HEX}00"),
            &GITHUB_HEX.replace('7', "g"),
            "é",
        ] {
            assert_eq!(
                verify_hmac_sha256_hex(&s, GITHUB_BODY, bad, "h"),
                Err(VerifyError::MalformedSignature("h")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn prefixed_header_is_checked() {
        let s = secret(GITHUB_SECRET);
        let mut headers = HeaderMap::new();
        let verify = |headers: &HeaderMap| {
            verify_prefixed_hmac(headers, "X-Sig", "sha256=", &s, GITHUB_BODY)
        };
        assert_eq!(
            verify(&headers),
            Err(VerifyError::MissingSignature("X-Sig"))
        );

        headers.insert("x-sig", HeaderValue::from_static(GITHUB_HEX));
        assert_eq!(
            verify(&headers),
            Err(VerifyError::MalformedSignature("X-Sig"))
        );

        let value = format!("sha1={GITHUB_HEX}");
        headers.insert("x-sig", HeaderValue::from_str(&value).expect("ascii"));
        assert_eq!(
            verify(&headers),
            Err(VerifyError::MalformedSignature("X-Sig"))
        );

        let value = format!("SHA256={GITHUB_HEX}");
        headers.insert("x-sig", HeaderValue::from_str(&value).expect("ascii"));
        assert_eq!(verify(&headers), Ok(()));

        headers.insert(
            "x-sig",
            HeaderValue::from_bytes(b"sha256=\xff").expect("obs-text"),
        );
        assert_eq!(
            verify(&headers),
            Err(VerifyError::MalformedSignature("X-Sig"))
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(token_matches(b"hunter2", b"hunter2"));
        assert!(!token_matches(b"hunter", b"hunter2"));
        assert!(!token_matches(b"hunter22", b"hunter2"));
        assert!(!token_matches(b"", b"hunter2"));
        assert!(!token_matches(b"Hunter2", b"hunter2"));
    }

    #[test]
    fn header_lookup_ignores_case_and_trims() {
        let mut headers = HeaderMap::new();
        headers.insert("x-github-delivery", HeaderValue::from_static(" abc "));
        headers.insert("x-blank", HeaderValue::from_static("  "));
        headers.insert(
            "x-binary",
            HeaderValue::from_bytes(b"\xfe").expect("obs-text"),
        );
        assert_eq!(required_header(&headers, "X-GitHub-Delivery"), Ok("abc"));
        assert_eq!(
            required_header(&headers, "X-Blank"),
            Err(ParseError::MissingHeader("X-Blank"))
        );
        assert!(matches!(
            required_header(&headers, "X-Binary"),
            Err(ParseError::InvalidHeader("X-Binary", _))
        ));
        assert_eq!(optional_header(&headers, "X-Absent"), Ok(None));
    }
}
