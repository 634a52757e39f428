//! Just enough reading of Rust sources for the permission tests: comments and literals
//! blanked out, functions found by name, the calls in a body listed. Not a parser; it relies
//! on the workspace's formatting (rustfmt) and on unit tests sitting at the end of a file
//! behind `#[cfg(test)]`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A source file's production code: unit tests cut off, comments and the contents of string
/// and char literals replaced by spaces, so braces and names in them count for nothing.
pub fn production_code(source: &str) -> String {
    let code = match source.find("#[cfg(test)]") {
        Some(at) => &source[..at],
        None => source,
    };
    blank_comments_and_literals(code)
}

fn blank_comments_and_literals(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                blank(&mut out, chars[i]);
                i += 1;
            }
            out.push_str("  ");
            i += 2;
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&chars, i) {
            // A raw string: r"..." or r#"..."#.
            let mut hashes = 0;
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            out.push('"');
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
                    break;
                }
                blank(&mut out, chars[j]);
                j += 1;
            }
            out.push('"');
            i = j + 1 + hashes;
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
                if let Some(&escaped) = chars.get(i) {
                    blank(&mut out, escaped);
                }
                i += 1;
            }
            out.push('"');
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            // An escaped char literal: '\n', '\'', '\u{..}'.
            out.push_str("' ");
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                blank(&mut out, chars[i]);
                i += 1;
            }
            out.push('\'');
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            out.push_str("' '");
            i += 3;
        } else {
            // Anything else, lifetimes included.
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn ident_before(chars: &[char], at: usize) -> bool {
    at > 0 && is_ident(chars[at - 1])
}

/// The text between the brace at `open` and its partner, both excluded.
fn braced(code: &str, open: usize) -> &str {
    let mut depth = 0usize;
    for (offset, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &code[open + 1..open + offset];
                }
            }
            _ => {}
        }
    }
    &code[open + 1..]
}

/// The body of the block that follows the first occurrence of `header` (`impl Store for
/// DynamoStore`), if any.
pub fn block_after<'a>(code: &'a str, header: &str) -> Option<&'a str> {
    let at = code.find(header)?;
    let open = at + code[at..].find('{')?;
    Some(braced(code, open))
}

/// Every function with a body in `code`: (name, body).
pub fn functions(code: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = code[from..].find("fn ") {
        let at = from + offset;
        from = at + 3;
        if at > 0 && code[..at].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let name: String = code[at + 3..]
            .chars()
            .take_while(|&c| is_ident(c))
            .collect();
        if name.is_empty() {
            continue;
        }
        // The body starts at the first `{` unless a `;` (a declaration) comes first.
        let rest = &code[at..];
        let Some(open) = rest.find(['{', ';']) else {
            continue;
        };
        if rest.as_bytes()[open] == b';' {
            continue;
        }
        found.push((name, braced(code, at + open).to_owned()));
    }
    found
}

/// One call in a body: the name called, whether it is a method call (`.name(`), and the
/// receiver expression's last few characters before the dot (whitespace dropped).
#[derive(Debug, Clone)]
pub struct Call {
    pub name: String,
    pub method: bool,
    pub receiver: String,
}

/// Every `name(` and `.name(` in `code` (turbofish calls are not needed here).
pub fn calls(code: &str) -> Vec<Call> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !is_ident(chars[i]) || ident_before(&chars, i) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_ident(chars[i]) {
            i += 1;
        }
        if chars.get(i) != Some(&'(') {
            continue;
        }
        let name: String = chars[start..i].iter().collect();
        let before: String = chars[..start]
            .iter()
            .rev()
            .filter(|c| !c.is_whitespace())
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let method = before.ends_with('.');
        let receiver = before.trim_end_matches('.').to_owned();
        found.push(Call {
            name,
            method,
            receiver,
        });
    }
    found
}

/// Every `.rs` file under `dir` (recursively), sorted.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Whether a file holds only tests (`tests.rs`, `*_tests.rs`, `tests/`, `test_support.rs`).
pub fn is_test_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default();
    name == "tests.rs"
        || name.ends_with("_tests.rs")
        || name == "test_support.rs"
        || path.components().any(|part| part.as_os_str() == "tests")
}

/// The names of the calls in `code`, as a set.
pub fn call_names(code: &str) -> BTreeSet<String> {
    calls(code).into_iter().map(|call| call.name).collect()
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// A file of the workspace, read whole; panics with the path when it cannot be read.
pub fn read(relative: impl AsRef<Path>) -> String {
    let path = workspace_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
