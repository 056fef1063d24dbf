//! The one error type of the core (bucketing, the store file, queries and
//! ingestion all use it). The Python layer maps each variant onto a
//! `uoseg` exception class that also subclasses the matching built-in.

use crate::suggest::did_you_mean;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tag, attribute, value or segment that the store does not hold (KeyError).
    /// `context` is where a query names it (the query line with a caret under
    /// the name), shown below the message; empty when there is no query.
    #[error("unknown {kind} '{name}'{}{}", did_you_mean(suggestions), context_block(context))]
    UnknownName { kind: &'static str, name: String, suggestions: Vec<String>, context: String },
    /// A column or argument of the wrong type (TypeError).
    #[error("{0}")]
    Type(String),
    /// A value the engine refuses: nulls in an id column, negative or out-of-range
    /// ids, conflicting names (ValueError). The message names the column and row.
    #[error("{0}")]
    InvalidInput(String),
    /// A store file that is truncated, corrupted or of a newer format (ValueError).
    #[error("{0}")]
    StoreFormat(String),
    /// An operating-system error while reading or writing a file (OSError;
    /// FileNotFoundError when `kind` is `NotFound`). `path` is the file at fault.
    #[error("{message}")]
    Io { kind: std::io::ErrorKind, message: String, path: Option<String> },
    /// A query that does not parse (ValueError), with position and a caret.
    #[error("{}", .0.render())]
    Syntax(Box<crate::syntax::QuerySyntaxError>),
    /// Quantile edges that repeat with `duplicates="raise"` (ValueError, as
    /// `uoseg.DuplicateEdgesError`); see `quantile::duplicate_edges`.
    #[error("{message}")]
    DuplicateEdges { edges: Vec<f64>, message: String },
    /// A bug in uoseg, e.g. a caught panic (RuntimeError).
    #[error("internal error in uoseg (please report it): {0}")]
    Internal(String),
}

impl Error {
    pub fn unknown(kind: &'static str, name: &str, known: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        Error::UnknownName {
            kind,
            name: name.to_string(),
            suggestions: crate::suggest::closest(name, known),
            context: String::new(),
        }
    }

    /// An I/O failure on `path`, with what was being done (`"cannot read"`).
    pub fn io(err: &std::io::Error, doing: &str, path: &std::path::Path) -> Self {
        Error::Io {
            kind: err.kind(),
            message: format!("{doing} {}: {err}", path.display()),
            path: Some(path.display().to_string()),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidInput(message.into())
    }

    pub fn type_error(message: impl Into<String>) -> Self {
        Error::Type(message.into())
    }

    pub fn format(message: impl Into<String>) -> Self {
        Error::StoreFormat(message.into())
    }

    /// The same error with `what` it concerns put before its message
    /// (`"attribute 'age': ..."`); errors whose message is built from fields
    /// (unknown names, syntax, I/O) are returned as they are.
    pub fn context(self, what: &str) -> Self {
        match self {
            Error::Type(m) => Error::Type(format!("{what}: {m}")),
            Error::InvalidInput(m) => Error::InvalidInput(format!("{what}: {m}")),
            Error::StoreFormat(m) => Error::StoreFormat(format!("{what}: {m}")),
            other => other,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::Io { kind: err.kind(), message: err.to_string(), path: None }
    }
}

fn context_block(context: &str) -> String {
    if context.is_empty() {
        String::new()
    } else {
        format!("\n{context}")
    }
}
