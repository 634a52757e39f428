//! Headless Chromium for the browser tests, and where their screenshots go.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A scratch directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("baton-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Headless Chromium with a fresh profile per call, and nothing talking to the network
/// besides the page.
pub struct Browser {
    profiles: Scratch,
}

impl Browser {
    /// `None` when Chromium is absent and the test may skip.
    pub fn find() -> Option<Self> {
        if Path::new(CHROMIUM).is_file() {
            return Some(Self {
                profiles: Scratch::new("chromium"),
            });
        }
        assert!(
            std::env::var_os("BATON_REQUIRE_BROWSER").is_none(),
            "BATON_REQUIRE_BROWSER is set but {CHROMIUM} is missing: run scripts/browser.sh"
        );
        None
    }

    pub fn run(&self, args: &[&str], url: &str) -> std::process::Output {
        let profile = self.profiles.0.join(uuid::Uuid::new_v4().to_string());
        let output = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(args)
            .arg(url)
            .stdin(Stdio::null())
            .output()
            .expect("run chromium");
        assert!(
            output.status.success(),
            "chromium failed on {url}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// The DOM after Chromium loaded and rendered `url`.
    pub fn dom(&self, url: &str) -> String {
        let output = self.run(&["--dump-dom"], url);
        String::from_utf8(output.stdout).expect("utf-8 DOM")
    }

    /// A 1280×900 screenshot of `url` at `path`.
    pub fn screenshot(&self, url: &str, path: &Path) {
        let _ = std::fs::remove_file(path);
        self.run(
            &[
                &format!("--screenshot={}", path.display()),
                "--window-size=1280,900",
            ],
            url,
        );
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "no screenshot of {url} at {}", path.display());
    }
}

/// `target/screenshots/`: kept after the test for a person to look at.
pub fn screenshots_dir() -> PathBuf {
    // `target/tmp` for integration tests; the screenshots go beside it.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots dir");
    dir
}
