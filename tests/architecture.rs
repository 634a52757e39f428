//! `docs/architecture.md` stays true: every path it names exists, every crate it names is a
//! package of the workspace, and every registry function it names (`path` → `fn name`) is
//! defined in that file. A moved registry or a renamed crate fails here, not in a
//! newcomer's first hour.

use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn page() -> String {
    std::fs::read_to_string(root().join("docs/architecture.md")).expect("docs/architecture.md")
}

/// The text between backticks, in order.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// A span that names a file or directory of the repository.
fn is_path(span: &str) -> bool {
    span.contains('/')
        && !span.contains(char::is_whitespace)
        && !span.contains('{')
        && !span.starts_with('/')
}

/// The `name` of every package of the workspace.
fn packages() -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let members = manifest
        .split("members = [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("workspace members");
    members
        .split(',')
        .map(|member| member.trim().trim_matches('"'))
        .filter(|member| !member.is_empty())
        .map(|member| {
            let text = std::fs::read_to_string(root().join(member).join("Cargo.toml"))
                .unwrap_or_else(|e| panic!("{member}/Cargo.toml: {e}"));
            text.lines()
                .find_map(|line| line.strip_prefix("name = "))
                .map(|name| name.trim_matches('"').to_owned())
                .unwrap_or_else(|| panic!("{member}/Cargo.toml names no package"))
        })
        .collect()
}

#[test]
fn every_path_named_exists() {
    let page = page();
    let paths: Vec<&str> = code_spans(&page)
        .into_iter()
        .filter(|s| is_path(s))
        .collect();
    assert!(paths.len() > 20, "the page names its paths: {paths:?}");
    for path in paths {
        assert!(
            root().join(path).exists(),
            "docs/architecture.md names `{path}`, which is gone"
        );
    }
}

#[test]
fn every_crate_named_is_a_workspace_package() {
    let page = page();
    let packages = packages();
    let named: Vec<&str> = code_spans(&page)
        .into_iter()
        .filter(|span| *span == "baton" || span.starts_with("baton-"))
        .collect();
    assert!(named.len() >= 8, "{named:?}");
    for name in &named {
        assert!(
            packages.contains(*name),
            "`{name}` is no package of the workspace: {packages:?}"
        );
    }
    for package in &packages {
        assert!(
            named.contains(&package.as_str()),
            "the crate map leaves out `{package}`"
        );
    }
}

#[test]
fn every_registry_named_is_where_the_page_says() {
    let page = page();
    let spans = code_spans(&page);
    let mut checked = 0;
    for pair in spans.windows(2) {
        let (path, function) = (pair[0], pair[1]);
        let Some(name) = function.strip_prefix("fn ") else {
            continue;
        };
        assert!(
            is_path(path),
            "`{function}` follows `{path}`, which is no path"
        );
        let source =
            std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            source.contains(&format!("fn {name}(")) || source.contains(&format!("fn {name}<")),
            "`{path}` no longer defines `fn {name}`"
        );
        checked += 1;
    }
    assert!(checked >= 5, "the page names the registries: {checked}");
}
