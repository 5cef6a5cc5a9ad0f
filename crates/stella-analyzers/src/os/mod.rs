//! Analyzers of operating-system package databases.

pub mod apk;
pub mod dpkg;
pub mod os_release;
pub mod rpm;

/// Splits a Debian-style control file (`status`, `status.d/*`) or an apk database into
/// paragraphs of `(field, value)` pairs. Continuation lines (starting with a space or tab) are
/// joined to the previous field with a newline.
pub(crate) fn control_paragraphs(text: &str) -> Vec<Vec<(String, String)>> {
    let mut paragraphs = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            continue;
        }
        if (line.starts_with(' ') || line.starts_with('\t'))
            && let Some(last) = current.last_mut()
        {
            last.1.push('\n');
            last.1.push_str(line.trim());
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            current.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    paragraphs
}

/// The `N` of a version's `N:` epoch prefix, if any.
pub(crate) fn epoch_of(version: &str) -> Option<u64> {
    let (e, _) = version.split_once(':')?;
    e.parse().ok()
}
