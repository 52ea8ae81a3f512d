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
    /// A gate definition could not be parsed or is inconsistent.
    #[error("invalid gate")]
    Gate(#[source] GateError),
    /// Serializing output failed.
    #[error("writing {format} output")]
    Output {
        /// The output format (`JSON`, …).
        format: &'static str,
        /// The serializer's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

/// Why a gate definition was refused (inside [`Error::Gate`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// The definition is larger than [`crate::MAX_GATE_BYTES`].
    #[error("gate definition of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Input size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not valid YAML or JSON for a gate (syntax, unknown field, wrong
    /// type); the source names the position.
    #[error("not a valid {format} gate")]
    Syntax {
        /// `YAML` or `JSON`.
        format: &'static str,
        /// The deserializer's error (with line and column).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A waiver names neither a rule nor a CVE.
    #[error("waiver {index}: needs `rule` or `cve`")]
    WaiverWithoutTarget {
        /// 1-based position in `waivers`.
        index: usize,
    },
    /// A waiver without a reason.
    #[error("waiver {index}: `reason` is empty")]
    WaiverWithoutReason {
        /// 1-based position in `waivers`.
        index: usize,
    },
    /// A waiver's `expires` is not a date or time.
    #[error("waiver {index}: `expires` {value:?} is not YYYY-MM-DD or an RFC 3339 time")]
    BadExpiry {
        /// 1-based position in `waivers`.
        index: usize,
        /// The value given.
        value: String,
    },
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
            Error::Io(_) | Error::Gate(_) | Error::Output { .. } => None,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
