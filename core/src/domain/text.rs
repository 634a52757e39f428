//! Limits shared by the identifiers that arrive from outside (API paths, delivery headers):
//! they become store keys and log fields, so they are bounded and printable.

/// How much of a refused value an error message repeats: enough to recognise it, never a
/// 10 KB echo.
const PREVIEW_CHARS: usize = 64;

/// Whether `value` has no control character (NUL, newlines, escapes...).
pub fn is_printable(value: &str) -> bool {
    !value.chars().any(char::is_control)
}

/// `value` as an error message may quote it: control characters escaped, cut after
/// [`PREVIEW_CHARS`] characters.
pub fn preview(value: &str) -> String {
    let mut shown: String = value
        .chars()
        .take(PREVIEW_CHARS)
        .flat_map(char::escape_default)
        .collect();
    if value.chars().nth(PREVIEW_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_are_short_and_escaped() {
        assert_eq!(preview("github:a#1"), "github:a#1");
        assert_eq!(preview("a\0b\n"), "a\\u{0}b\\n");
        let long = "x".repeat(10_000);
        assert_eq!(preview(&long).chars().count(), PREVIEW_CHARS + 1);
        assert!(is_printable("linear:ENG-42 ünïcode"));
        assert!(!is_printable("a\u{7f}"));
    }
}
