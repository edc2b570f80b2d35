//! The table of configuration files read, so that a [`Loc`] can name its file.

use crate::diag::{Diagnostic, Loc, Severity};

/// Every file read while loading one configuration, in the order they were opened.
#[derive(Debug, Default, Clone)]
pub struct Files {
    names: Vec<String>,
}

impl Files {
    /// Records a file and returns its index.
    pub fn add(&mut self, name: String) -> u32 {
        self.names.push(name);
        u32::try_from(self.names.len() - 1).unwrap_or(u32::MAX)
    }

    /// The name of file `id`, or an empty string.
    pub fn name(&self, id: u32) -> &str {
        self.names
            .get(id as usize)
            .map(String::as_str)
            .unwrap_or("")
    }

    /// All file names, in the order they were opened.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Builds a diagnostic at `loc`.
    pub fn diag(
        &self,
        severity: Severity,
        loc: Loc,
        message: impl Into<String>,
        text: Option<String>,
        hint: Option<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity,
            file: self.name(loc.file).to_string(),
            line: loc.line,
            column: loc.col,
            message: message.into(),
            text,
            hint,
        }
    }
}
