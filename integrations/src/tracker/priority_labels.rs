//! Priority for trackers without a priority field (GitHub, GitLab): teams label issues
//! `priority:1`, `priority::1` (a GitLab scoped label) or `P1`.

/// 1 (urgent) ..= 4 (low) from the labels, the most urgent when several say so;
/// `None` when no label names a priority.
pub fn priority_from_labels<S: AsRef<str>>(labels: &[S]) -> Option<u8> {
    labels
        .iter()
        .filter_map(|label| priority_of(label.as_ref()))
        .min()
}

fn priority_of(label: &str) -> Option<u8> {
    let label = label.trim().to_ascii_lowercase();
    let level = match label.strip_prefix("priority") {
        Some(rest) => rest.trim_start_matches(':').trim(),
        None => label.strip_prefix('p')?,
    };
    match level.parse::<u8>() {
        Ok(n @ 1..=4) => Some(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_labels_in_the_usual_spellings() {
        assert_eq!(priority_from_labels(&["bug", "priority:2"]), Some(2));
        assert_eq!(priority_from_labels(&["Priority::1"]), Some(1));
        assert_eq!(priority_from_labels(&["priority: 3"]), Some(3));
        assert_eq!(priority_from_labels(&["P4"]), Some(4));
        assert_eq!(priority_from_labels(&["p3", "priority:1"]), Some(1));
    }

    #[test]
    fn other_labels_are_no_priority() {
        assert_eq!(priority_from_labels::<&str>(&[]), None);
        assert_eq!(
            priority_from_labels(&["p0", "p5", "priority:9", "perf", "priority", "pp1"]),
            None
        );
    }
}
