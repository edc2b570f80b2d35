//! Diagnostics: every problem found in a configuration, with where it is and what to do.

use std::fmt;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational: the configuration means what it says, but the user may want to know.
    Warning,
    /// The configuration is refused: keepalived-rs will not run it.
    Error,
}

/// A position in a configuration file: an index into the file table, 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loc {
    /// Index of the file in the [`crate::source::Files`] table.
    pub file: u32,
    /// 1-based line number (0 when unknown).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub col: u32,
}

impl Loc {
    /// The same line at another column.
    pub fn at_col(self, col: u32) -> Loc {
        Loc { col, ..self }
    }
}

/// One problem in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file the problem is in, as it was named (empty for problems without a place).
    pub file: String,
    /// 1-based line (0 when the problem has no single place, such as a missing instance).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub column: u32,
    /// What is wrong.
    pub message: String,
    /// The offending text, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// What to do about it, when we can tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// True for an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match (self.file.is_empty(), self.line, self.column) {
            (true, _, _) => {}
            (false, 0, _) => write!(f, "{}: ", self.file)?,
            (false, l, 0) => write!(f, "{}:{}: ", self.file, l)?,
            (false, l, c) => write!(f, "{}:{}:{}: ", self.file, l, c)?,
        }
        write!(f, "{sev}: {}", self.message)?;
        if let Some(t) = &self.text {
            write!(f, "\n    | {t}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n    = hint: {h}")?;
        }
        Ok(())
    }
}

/// The Levenshtein distance between two short strings, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(!a[i - 1].eq_ignore_ascii_case(&b[j - 1]));
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate nearest to `word`, if it is near enough to be a plausible typo.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_typos_and_ignores_strangers() {
        let kws = ["priority", "advert_int", "virtual_router_id"];
        assert_eq!(nearest("priorty", kws), Some("priority"));
        assert_eq!(nearest("Priority", kws), Some("priority"));
        assert_eq!(nearest("advert_intt", kws), Some("advert_int"));
        assert_eq!(nearest("zzz", kws), None);
    }

    #[test]
    fn display_names_file_line_column_text_and_hint() {
        let d = Diagnostic {
            severity: Severity::Error,
            file: "k.conf".into(),
            line: 3,
            column: 5,
            message: "unknown keyword 'priorty'".into(),
            text: Some("priorty 100".into()),
            hint: Some("did you mean 'priority'?".into()),
        };
        assert_eq!(
            d.to_string(),
            "k.conf:3:5: error: unknown keyword 'priorty'\n    | priorty 100\n    = hint: did you mean 'priority'?"
        );
    }
}
