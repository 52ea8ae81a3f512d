//! The crate's error type.

use std::fmt;

/// A position in the input: 1-based line and column (column in bytes), plus the byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in bytes.
    pub column: u64,
    /// 0-based byte offset.
    pub offset: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Which limit was exceeded (see [`crate::Limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitKind {
    /// Element nesting depth.
    Depth,
    /// Size of one markup event (a tag with its attributes, or one text run).
    EventSize,
    /// Size of one collected text value.
    TextSize,
    /// Number of stored items (rule results, idents, definitions, …).
    Items,
    /// Namespace declarations in scope.
    Namespaces,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::Depth => "element depth",
            LimitKind::EventSize => "markup/text event size",
            LimitKind::TextSize => "text size",
            LimitKind::Items => "number of items",
            LimitKind::Namespaces => "namespace declarations",
        })
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not well-formed XML (or is truncated).
    #[error("malformed XML at {position}: {message}")]
    Xml {
        /// Where.
        position: Position,
        /// What the XML parser said.
        message: String,
    },
    /// The input ended before the document was complete.
    #[error(
        "truncated XML at {position}: end of input with {depth} element(s) still open (root <{open}>)"
    )]
    Truncated {
        /// Where the input ended.
        position: Position,
        /// The root element's name.
        open: String,
        /// How many elements were open.
        depth: usize,
    },
    /// A DOCTYPE declaration was found; DTDs are refused (XXE, entity expansion).
    #[error(
        "refusing DOCTYPE declaration at {position}: DTDs and entity declarations are not allowed in SCAP results"
    )]
    Doctype {
        /// Where.
        position: Position,
    },
    /// A reference to an entity other than the five predefined ones.
    #[error("undeclared entity reference &{name}; at {position} (no DTD entities are expanded)")]
    Entity {
        /// The entity name.
        name: String,
        /// Where.
        position: Position,
    },
    /// A configured limit was exceeded.
    #[error("limit exceeded at {position}: {kind} over {limit}")]
    Limit {
        /// Which limit.
        kind: LimitKind,
        /// The configured value.
        limit: u64,
        /// Where.
        position: Position,
    },
    /// The document is well-formed XML but not an ARF / XCCDF results / OVAL results file.
    #[error("not an ARF, XCCDF or OVAL results file: root element is {root} at {position}{hint}")]
    NotResults {
        /// The root element as `{namespace}local` (or `<!DOCTYPE …>`).
        root: String,
        /// Where the root element starts.
        position: Position,
        /// An explanation for well-known cases (HTML reports, SCAP source content).
        hint: String,
    },
    /// A value the parser needs is invalid (for example an unknown rule result).
    #[error("invalid value at {position}: {message}")]
    Invalid {
        /// Where.
        position: Position,
        /// What is wrong.
        message: String,
    },
    /// Reading the input failed.
    #[error("reading input: {0}")]
    Io(#[source] std::io::Error),
    /// A gate definition could not be parsed.
    #[error("invalid gate: {0}")]
    Gate(String),
    /// Serializing output failed.
    #[error("writing output: {0}")]
    Output(String),
}

impl Error {
    /// The input position of the error, if it has one.
    pub fn position(&self) -> Option<Position> {
        match self {
            Error::Xml { position, .. }
            | Error::Truncated { position, .. }
            | Error::Doctype { position }
            | Error::Entity { position, .. }
            | Error::Limit { position, .. }
            | Error::NotResults { position, .. }
            | Error::Invalid { position, .. } => Some(*position),
            Error::Io(_) | Error::Gate(_) | Error::Output(_) => None,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
