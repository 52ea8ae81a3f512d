//! The streaming, namespace-aware parser.
//!
//! One pass over the input with `quick_xml::Reader` and our own namespace resolver
//! ([`Namespaces`]). Elements are matched on (namespace URI, local name), never on
//! prefixes. Subtrees that are not needed are skipped without namespace resolution
//! (their `xmlns` declarations cannot affect any element we look at); in summary
//! mode that includes the whole ARF report request (the embedded source datastream,
//! 90 % of a typical file).

use std::collections::HashMap;
use std::io::{self, BufRead, Read};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::error::{Error, LimitKind, Position, Result};
use crate::model::*;

/// XML namespace URIs we match on.
pub mod ns {
    /// ARF 1.1.
    pub const ARF: &str = "http://scap.nist.gov/schema/asset-reporting-format/1.1";
    /// XCCDF 1.1.
    pub const XCCDF_1_1: &str = "http://checklists.nist.gov/xccdf/1.1";
    /// XCCDF 1.2.
    pub const XCCDF_1_2: &str = "http://checklists.nist.gov/xccdf/1.2";
    /// OVAL results 5.
    pub const OVAL_RES: &str = "http://oval.mitre.org/XMLSchema/oval-results-5";
    /// OVAL definitions 5.
    pub const OVAL_DEF: &str = "http://oval.mitre.org/XMLSchema/oval-definitions-5";
    /// SCAP source data stream 1.2.
    pub const DS: &str = "http://scap.nist.gov/schema/scap/source/1.2";
    /// XHTML.
    pub const XHTML: &str = "http://www.w3.org/1999/xhtml";
}

/// How much to extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Counts only: memory does not depend on the file size (only on the number of
    /// TestResults and OVAL reports, a few hundred bytes each). The report request,
    /// OVAL definitions, rule-result details, target addresses and facts (but the
    /// `urn:xccdf:fact:identifier` one) are skipped.
    Summary,
    /// Everything the typed [`Report`] holds (rule results, rule metadata, OVAL
    /// definitions with CVEs). Still streaming: no DOM is built.
    #[default]
    Full,
}

/// Limits applied to untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Maximum element nesting depth (default 256; SSG content nests < 40 deep).
    pub max_depth: usize,
    /// Maximum size of one markup event or text run, in bytes (default 64 MiB).
    pub max_event_bytes: u64,
    /// Maximum size of one collected text value, in bytes (default 1 MiB).
    pub max_text_bytes: usize,
    /// Maximum number of stored items (rule results, idents, checks, messages,
    /// rules, definitions, references, …; default 20 million).
    pub max_items: u64,
    /// Maximum namespace declarations in scope (default 1024). Declarations are
    /// only read on the elements the parser resolves; inside skipped subtrees
    /// (nothing there is resolved) they are neither stored nor checked.
    pub max_namespace_bindings: usize,
    /// Characters kept from a rule description (default 400).
    pub description_excerpt: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 256,
            max_event_bytes: 64 << 20,
            max_text_bytes: 1 << 20,
            max_items: 20_000_000,
            max_namespace_bindings: 1024,
            description_excerpt: 400,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_depth`].
    pub fn with_max_depth(mut self, v: usize) -> Self {
        self.max_depth = v;
        self
    }

    /// Sets [`Limits::max_event_bytes`].
    pub fn with_max_event_bytes(mut self, v: u64) -> Self {
        self.max_event_bytes = v;
        self
    }

    /// Sets [`Limits::max_text_bytes`].
    pub fn with_max_text_bytes(mut self, v: usize) -> Self {
        self.max_text_bytes = v;
        self
    }

    /// Sets [`Limits::max_items`].
    pub fn with_max_items(mut self, v: u64) -> Self {
        self.max_items = v;
        self
    }

    /// Sets [`Limits::description_excerpt`].
    pub fn with_description_excerpt(mut self, v: usize) -> Self {
        self.description_excerpt = v;
        self
    }
}

/// Parser options: a [`Mode`] and [`Limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ParseOptions {
    /// What to extract.
    pub mode: Mode,
    /// Limits for untrusted input.
    pub limits: Limits,
}

impl ParseOptions {
    /// Summary mode with default limits.
    pub fn summary() -> Self {
        ParseOptions {
            mode: Mode::Summary,
            limits: Limits::default(),
        }
    }

    /// Full mode with default limits.
    pub fn full() -> Self {
        ParseOptions {
            mode: Mode::Full,
            limits: Limits::default(),
        }
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// Parses a document completely (rule results, rule metadata, OVAL definitions).
pub fn parse_report<R: BufRead>(input: R) -> Result<Report> {
    parse(input, &ParseOptions::full())
}

/// Parses a document in summary mode: counts only, memory independent of file size.
pub fn parse_summary<R: BufRead>(input: R) -> Result<crate::Summary> {
    parse(input, &ParseOptions::summary()).map(|r| r.summary())
}

/// Parses with explicit options.
pub fn parse<R: BufRead>(input: R, options: &ParseOptions) -> Result<Report> {
    let counting = Counting::new(input, options.limits.max_event_bytes);
    let mut reader = Reader::from_reader(counting);
    {
        let cfg = reader.config_mut();
        cfg.trim_text(false);
        cfg.expand_empty_elements = false;
        cfg.check_end_names = true;
    }
    let mut p = Parser::new(options);
    let mut buf = Vec::with_capacity(8 * 1024);
    loop {
        let start = reader.buffer_position();
        let ev = match reader.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(e) => return Err(xml_error(&reader, e, &options.limits)),
        };
        let end = reader.buffer_position();
        if end.saturating_sub(start) > options.limits.max_event_bytes {
            return Err(Error::Limit {
                kind: LimitKind::EventSize,
                limit: options.limits.max_event_bytes,
                position: reader.get_ref().position(start),
            });
        }
        // Fast paths: skipped subtrees, where only the nesting depth matters, and
        // text nobody collects. Written to branch on the event kind as little as
        // possible (a mispredicted branch per event costs more than the rest).
        if !p.capturing {
            if p.stack.last() == Some(&Frame::Skip) {
                // +1 / -1 for the nesting depth; 2 for the rare kinds the slow path
                // handles (entity references, end of file, DOCTYPE, …).
                let d: isize = match ev {
                    Event::Start(_) => 1,
                    Event::End(_) => -1,
                    Event::Text(_) | Event::Empty(_) | Event::Comment(_) | Event::CData(_) => 0,
                    _ => 2,
                };
                // The end tag of the skipped element itself also takes the slow path.
                let extra = p.skip_extra as isize + d;
                if d != 2 && extra >= 0 {
                    p.skip_extra = extra as usize;
                    if p.stack.len() + p.skip_extra > p.limits.max_depth {
                        return Err(Stop::Limit(LimitKind::Depth)
                            .into_error(reader.get_ref().position(start), &options.limits));
                    }
                    reader.get_mut().mark = end;
                    buf.clear();
                    continue;
                }
            } else if matches!(ev, Event::Text(_)) {
                reader.get_mut().mark = end;
                buf.clear();
                continue;
            }
        }
        let done = matches!(ev, Event::Eof);
        if let Err(stop) = p.event(ev) {
            return Err(stop.into_error(reader.get_ref().position(start), &options.limits));
        }
        if done {
            break;
        }
        buf.clear();
        let pos = reader.buffer_position();
        reader.get_mut().mark = pos;
    }
    if p.root_seen {
        Ok(p.report)
    } else {
        Err(Error::Xml {
            position: reader.get_ref().position(reader.buffer_position()),
            message: "no XML root element found (empty or not an XML file)".into(),
        })
    }
}

fn xml_error<R: BufRead>(
    reader: &Reader<Counting<R>>,
    e: quick_xml::Error,
    limits: &Limits,
) -> Error {
    let position = reader.get_ref().position(reader.error_position());
    if let quick_xml::Error::Io(io) = &e {
        if io
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<EventTooLarge>().is_some())
        {
            return Error::Limit {
                kind: LimitKind::EventSize,
                limit: limits.max_event_bytes,
                position,
            };
        }
        return Error::Io(io::Error::new(io.kind(), io.to_string()));
    }
    if let quick_xml::Error::Syntax(_) | quick_xml::Error::IllFormed(_) = &e {
        let msg = e.to_string();
        if msg.contains("end of input")
            || msg.contains("Unexpected end of file")
            || msg.contains("unclosed")
        {
            return Error::Xml {
                position,
                message: format!("{msg} (the file looks truncated)"),
            };
        }
    }
    Error::Xml {
        position,
        message: e.to_string(),
    }
}

/// Marker error: one event exceeded `max_event_bytes`.
#[derive(Debug)]
struct EventTooLarge;

impl std::fmt::Display for EventTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("markup event too large")
    }
}

impl std::error::Error for EventTooLarge {}

const BUF: usize = 64 * 1024;

/// A `BufRead` adapter with its own buffer that counts lines (for error positions)
/// and refuses to buffer one event beyond a limit.
///
/// Newlines are counted once per buffer refill (SIMD `memchr` over the whole
/// buffer), not per event. The previous buffer is kept, so positions are exact for
/// any offset in the current or the previous buffer (an event that started more
/// than one buffer back is reported at the start of the previous buffer).
struct Counting<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    /// Offset of `buf[0]` in the input.
    base: u64,
    /// Newlines before `buf[0]`.
    lines_before: u64,
    /// Offset just after the last newline before `buf[0]`.
    line_start_before: u64,
    prev: Vec<u8>,
    prev_base: u64,
    prev_lines_before: u64,
    prev_line_start_before: u64,
    mark: u64,
    max_event: u64,
}

impl<R: BufRead> Counting<R> {
    fn new(inner: R, max_event: u64) -> Self {
        Counting {
            inner,
            buf: Vec::new(),
            pos: 0,
            filled: 0,
            base: 0,
            lines_before: 0,
            line_start_before: 0,
            prev: Vec::new(),
            prev_base: 0,
            prev_lines_before: 0,
            prev_line_start_before: 0,
            mark: 0,
            max_event,
        }
    }

    fn consumed(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn locate(data: &[u8], base: u64, lines: u64, line_start: u64, off: u64) -> Position {
        let upto = (off.saturating_sub(base) as usize).min(data.len());
        let head = &data[..upto];
        let n = memchr::memchr_iter(b'\n', head).count() as u64;
        let start = match memchr::memrchr(b'\n', head) {
            Some(i) => base + i as u64 + 1,
            None => line_start,
        };
        Position {
            line: lines + n + 1,
            column: off.saturating_sub(start) + 1,
            offset: off,
        }
    }

    /// Line and column of byte offset `off`.
    fn position(&self, off: u64) -> Position {
        if off >= self.base {
            Self::locate(
                &self.buf[..self.filled],
                self.base,
                self.lines_before,
                self.line_start_before,
                off,
            )
        } else {
            Self::locate(
                &self.prev,
                self.prev_base,
                self.prev_lines_before,
                self.prev_line_start_before,
                off.max(self.prev_base),
            )
        }
    }
}

impl<R: BufRead> Read for Counting<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let b = self.fill_buf()?;
            let n = b.len().min(out.len());
            out[..n].copy_from_slice(&b[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    #[inline]
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.filled {
            self.refill()?;
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    #[inline]
    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.filled);
    }
}

impl<R: BufRead> Counting<R> {
    /// Retires the current buffer (counting its lines) and reads the next one.
    /// The event-size limit is checked here, once per buffer: an event larger
    /// than the limit is refused before it is buffered whole.
    #[cold]
    fn refill(&mut self) -> io::Result<()> {
        if self.consumed().saturating_sub(self.mark) > self.max_event {
            return Err(io::Error::other(EventTooLarge));
        }
        {
            // Retire the current buffer: count its lines, keep it as `prev`.
            let data = &self.buf[..self.filled];
            let n = memchr::memchr_iter(b'\n', data).count() as u64;
            let start = match memchr::memrchr(b'\n', data) {
                Some(i) => self.base + i as u64 + 1,
                None => self.line_start_before,
            };
            std::mem::swap(&mut self.buf, &mut self.prev);
            self.prev.truncate(self.filled);
            self.prev_base = self.base;
            self.prev_lines_before = self.lines_before;
            self.prev_line_start_before = self.line_start_before;
            self.base += self.filled as u64;
            self.lines_before += n;
            self.line_start_before = start;
            self.pos = 0;
            self.filled = 0;
            self.buf.resize(BUF, 0);
            let n = loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            self.filled = n;
        }
        Ok(())
    }
}

/// Why the parser stopped (turned into an [`Error`] with the event position).
enum Stop {
    Limit(LimitKind),
    Invalid(String),
    NotResults { root: String, hint: String },
    Doctype,
    Entity(String),
    Truncated { open: String, depth: usize },
    Xml(String),
}

impl Stop {
    fn into_error(self, position: Position, limits: &Limits) -> Error {
        match self {
            Stop::Limit(kind) => Error::Limit {
                kind,
                limit: match kind {
                    LimitKind::Depth => limits.max_depth as u64,
                    LimitKind::EventSize => limits.max_event_bytes,
                    LimitKind::TextSize => limits.max_text_bytes as u64,
                    LimitKind::Items => limits.max_items,
                    LimitKind::Namespaces => limits.max_namespace_bindings as u64,
                },
                position,
            },
            Stop::Invalid(message) => Error::Invalid { position, message },
            Stop::NotResults { root, hint } => Error::NotResults {
                root,
                position,
                hint,
            },
            Stop::Doctype => Error::Doctype { position },
            Stop::Entity(name) => Error::Entity { name, position },
            Stop::Truncated { open, depth } => Error::Truncated {
                position,
                open,
                depth,
            },
            Stop::Xml(message) => Error::Xml { position, message },
        }
    }
}

type Step<T = ()> = std::result::Result<T, Stop>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Arf,
    Xccdf,
    OvalRes,
    OvalDef,
    Ds,
    Other,
}

fn classify_ns(uri: &str) -> (Ns, Option<XccdfVersion>) {
    match uri {
        ns::ARF => (Ns::Arf, None),
        ns::XCCDF_1_2 => (Ns::Xccdf, Some(XccdfVersion::V1_2)),
        ns::XCCDF_1_1 => (Ns::Xccdf, Some(XccdfVersion::V1_1)),
        ns::OVAL_RES => (Ns::OvalRes, None),
        ns::OVAL_DEF => (Ns::OvalDef, None),
        ns::DS => (Ns::Ds, None),
        _ => (Ns::Other, None),
    }
}

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// One `xmlns` / `xmlns:p` declaration in scope: `names[start..start + prefix_len]`
/// is the prefix (empty for the default namespace), the `uri_len` bytes after it
/// the URI (empty: undeclared, `xmlns=""` or `xmlns:p=""`).
#[derive(Debug, Clone, Copy)]
struct Binding {
    start: usize,
    prefix_len: usize,
    uri_len: usize,
    ns: Ns,
    ver: Option<XccdfVersion>,
}

/// A namespace name resolved: what we match on, and the URI for messages.
#[derive(Debug, Clone, Copy)]
struct Resolved<'s, 'q> {
    ns: Ns,
    ver: Option<XccdfVersion>,
    /// The namespace URI; `None` for no namespace or an undeclared prefix.
    uri: Option<&'s str>,
    local: &'q str,
}

/// Namespace scopes, kept only for the open elements the parser looks at (not for
/// skipped subtrees: nothing inside them is resolved). Prefixes are looked up
/// innermost first, so redeclared and rebound prefixes and default namespaces
/// behave as the Namespaces in XML recommendation says.
struct Namespaces {
    names: String,
    bindings: Vec<Binding>,
    /// `bindings.len()` and `names.len()` before each open (non-skipped) element.
    marks: Vec<(usize, usize)>,
    max_bindings: usize,
    xmlns: memchr::memmem::Finder<'static>,
}

impl Namespaces {
    fn new(max_bindings: usize) -> Self {
        Namespaces {
            names: String::new(),
            bindings: Vec::with_capacity(16),
            marks: Vec::with_capacity(64),
            max_bindings,
            xmlns: memchr::memmem::Finder::new(b"xmlns"),
        }
    }

    /// Opens the scope of element `e`: adds its namespace declarations.
    fn push(&mut self, e: &BytesStart<'_>) -> Step {
        self.marks.push((self.bindings.len(), self.names.len()));
        // Most elements declare nothing: one substring search instead of parsing
        // every attribute.
        if self.xmlns.find(e.attributes_raw().as_bytes()).is_none() {
            return Ok(());
        }
        for a in e.attributes().with_checks(false) {
            let a = a.map_err(|err| Stop::Xml(err.to_string()))?;
            let key: &str = a.key.as_ref();
            let Some(rest) = key.strip_prefix("xmlns") else {
                continue;
            };
            let prefix = match rest.strip_prefix(':') {
                Some(p) => p,
                None if rest.is_empty() => "",
                None => continue,
            };
            // Like quick-xml's resolver: the URI is compared as written.
            let uri: &str = &a.value;
            match prefix {
                "xml" if uri != XML_NS => {
                    return Err(Stop::Xml(format!(
                        "the `xml` prefix can only be bound to {XML_NS}, not {:?}",
                        truncate(uri, 200)
                    )));
                }
                "xml" => continue,
                "xmlns" => {
                    return Err(Stop::Xml(
                        "the `xmlns` prefix cannot be declared".to_string(),
                    ));
                }
                _ if uri == XML_NS || uri == XMLNS_NS => {
                    return Err(Stop::Xml(format!(
                        "prefix {:?} cannot be bound to the reserved namespace {uri}",
                        truncate(prefix, 64)
                    )));
                }
                _ => {}
            }
            if self.bindings.len() >= self.max_bindings {
                return Err(Stop::Limit(LimitKind::Namespaces));
            }
            let (ns, ver) = classify_ns(uri);
            let start = self.names.len();
            self.names.push_str(prefix);
            self.names.push_str(uri);
            self.bindings.push(Binding {
                start,
                prefix_len: prefix.len(),
                uri_len: uri.len(),
                ns,
                ver,
            });
        }
        Ok(())
    }

    /// Closes the innermost scope opened by [`Namespaces::push`].
    fn pop(&mut self) {
        if let Some((b, n)) = self.marks.pop() {
            self.bindings.truncate(b);
            self.names.truncate(n);
        }
    }

    /// Resolves an element name (unprefixed names take the default namespace).
    fn resolve<'s, 'q>(&'s self, qname: &'q str) -> Resolved<'s, 'q> {
        let (prefix, local) = match qname.find(':') {
            Some(i) => (&qname[..i], &qname[i + 1..]),
            None => ("", qname),
        };
        let unbound = Resolved {
            ns: Ns::Other,
            ver: None,
            uri: None,
            local,
        };
        if prefix == "xml" {
            return Resolved {
                uri: Some(XML_NS),
                ..unbound
            };
        }
        let found = self.bindings.iter().rev().find(|b| {
            b.prefix_len == prefix.len() && &self.names[b.start..b.start + b.prefix_len] == prefix
        });
        match found {
            Some(b) if b.uri_len > 0 => {
                let at = b.start + b.prefix_len;
                Resolved {
                    ns: b.ns,
                    ver: b.ver,
                    uri: Some(&self.names[at..at + b.uri_len]),
                    local,
                }
            }
            _ => unbound,
        }
    }
}

/// What an open element means to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    Skip,
    ArfRoot,
    ReportRequests,
    Reports,
    ArfReport,
    ArfContent,
    Benchmark { in_request: bool },
    Rule,
    RuleTitle,
    RuleDescription,
    RuleIdent,
    RuleReference,
    TestResult,
    TrTarget,
    TrAddress,
    TrFacts,
    TrFact,
    TrScore,
    RuleResult,
    RrResult,
    RrIdent,
    RrMessage,
    RrCheck,
    RrComplexCheck,
    RrOverride,
    RrOvOld,
    RrOvNew,
    RrOvRemark,
    OvalResults,
    OvalDefs,
    OvalDefinitions,
    OvalDef,
    OvalMeta,
    OvalTitle,
    OvalAdvisory,
    OvalAdvSeverity,
    OvalAdvCve,
    OvalResResults,
    OvalSystem,
    OvalSysDefs,
}

struct Parser {
    full: bool,
    limits: Limits,
    report: Report,
    root_seen: bool,
    root_closed: bool,
    stack: Vec<Frame>,
    /// Elements open inside the innermost skipped element (`Frame::Skip` on top of
    /// `stack`), counted instead of pushed by the fast path in [`parse`].
    skip_extra: usize,
    /// The root element's name (for the truncation message).
    last_open: String,
    text: String,
    capturing: bool,
    text_truncated: bool,
    /// Capturing a rule description: only an excerpt is kept, so collecting stops
    /// once the excerpt is known to be cut ([`Parser::cut_excerpt`]).
    excerpt_capture: bool,
    /// Text length at which to try [`Parser::cut_excerpt`] next.
    excerpt_check_at: usize,
    stash_a: Option<String>,
    stash_b: Option<String>,
    items: u64,
    report_id: Option<String>,
    tr: Option<TestResult>,
    rr: Option<RuleResult>,
    rr_result: Option<ResultValue>,
    rule: Option<RuleInfo>,
    oval: Option<OvalReport>,
    oval_index: HashMap<String, usize>,
    def: Option<OvalDefinition>,
    system_seen: bool,
    ns: Namespaces,
}

impl Parser {
    fn new(o: &ParseOptions) -> Self {
        Parser {
            full: o.mode == Mode::Full,
            limits: o.limits,
            report: Report {
                kind: DocumentKind::Arf,
                test_results: Vec::new(),
                oval_reports: Vec::new(),
                rules: Default::default(),
                ignored_test_results: 0,
            },
            root_seen: false,
            root_closed: false,
            stack: Vec::with_capacity(64),
            skip_extra: 0,
            last_open: String::new(),
            text: String::new(),
            capturing: false,
            text_truncated: false,
            excerpt_capture: false,
            excerpt_check_at: 0,
            stash_a: None,
            stash_b: None,
            items: 0,
            report_id: None,
            tr: None,
            rr: None,
            rr_result: None,
            rule: None,
            oval: None,
            oval_index: HashMap::new(),
            def: None,
            system_seen: false,
            ns: Namespaces::new(o.limits.max_namespace_bindings),
        }
    }

    fn item(&mut self) -> Step {
        self.items += 1;
        if self.items > self.limits.max_items {
            return Err(Stop::Limit(LimitKind::Items));
        }
        Ok(())
    }

    fn event(&mut self, ev: Event<'_>) -> Step {
        match ev {
            Event::Start(e) => self.start(&e),
            Event::Empty(e) => {
                self.start(&e)?;
                self.end()
            }
            Event::End(_) => self.end(),
            Event::Text(t) => {
                if self.capturing {
                    let s = t.xml10_content();
                    self.push_text(&s)?;
                }
                Ok(())
            }
            Event::CData(t) => {
                if self.capturing {
                    let s = t.xml10_content();
                    self.push_text(&s)?;
                }
                Ok(())
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match r.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(Stop::Entity(truncate(other, 64))),
                    },
                    Err(e) => return Err(Stop::Xml(e.to_string())),
                };
                if self.capturing {
                    let mut b = [0u8; 4];
                    self.push_text(ch.encode_utf8(&mut b))?;
                }
                Ok(())
            }
            Event::DocType(d) => {
                let s = d.as_ref().trim_start();
                if s.len() >= 4 && s[..4].eq_ignore_ascii_case("html") {
                    Err(Stop::NotResults {
                        root: "<!DOCTYPE html>".into(),
                        hint: HTML_HINT.into(),
                    })
                } else {
                    Err(Stop::Doctype)
                }
            }
            Event::Eof => {
                if let Some(_f) = self.stack.last() {
                    Err(Stop::Truncated {
                        open: self.last_open.clone(),
                        depth: self.stack.len() + self.skip_extra,
                    })
                } else {
                    Ok(())
                }
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => Ok(()),
        }
    }

    fn push_text(&mut self, s: &str) -> Step {
        if self.text_truncated {
            return Ok(());
        }
        if self.text.len() + s.len() > self.limits.max_text_bytes {
            // Descriptions are excerpts: cut silently. Anything else is an error.
            if self.stack.contains(&Frame::RuleDescription) {
                self.text_truncated = true;
                return Ok(());
            }
            return Err(Stop::Limit(LimitKind::TextSize));
        }
        self.text.push_str(s);
        if self.excerpt_capture && self.text.len() >= self.excerpt_check_at {
            self.cut_excerpt();
        }
        Ok(())
    }

    /// If the description collected so far already gives a cut excerpt, keeps
    /// just that excerpt and stops collecting (the rest cannot change it:
    /// `excerpt(excerpt(s)) == excerpt(s)` for a cut excerpt).
    fn cut_excerpt(&mut self) {
        let max = self.limits.description_excerpt;
        let (ex, cut) = excerpt_cut(&self.text, max);
        if cut {
            self.text.clear();
            self.text.push_str(&ex);
            self.text_truncated = true;
            self.capturing = false;
        } else {
            // Mostly whitespace so far: look again when the text has doubled.
            self.excerpt_check_at = self.text.len().saturating_mul(2);
        }
    }

    fn begin_capture(&mut self) {
        self.text.clear();
        self.capturing = true;
        self.text_truncated = false;
        self.excerpt_capture = false;
    }

    fn begin_excerpt_capture(&mut self) {
        self.begin_capture();
        self.excerpt_capture = true;
        // Descriptions rarely have more whitespace than text.
        self.excerpt_check_at = self
            .limits
            .description_excerpt
            .saturating_mul(2)
            .saturating_add(64);
    }

    /// The collected text, trimmed (one allocation of the exact size; the
    /// collection buffer keeps its capacity for the next text).
    fn take_text(&mut self) -> String {
        self.capturing = false;
        self.excerpt_capture = false;
        let s = self.text.trim().to_string();
        self.text.clear();
        s
    }

    fn start(&mut self, e: &BytesStart<'_>) -> Step {
        if self.stack.len() + self.skip_extra >= self.limits.max_depth {
            return Err(Stop::Limit(LimitKind::Depth));
        }
        let parent = match self.stack.last() {
            Some(f) => *f,
            None => {
                self.ns.push(e)?;
                let frame = self.root(e)?;
                self.stack.push(frame);
                return Ok(());
            }
        };
        if parent == Frame::Skip {
            self.skip_extra += 1;
            return Ok(());
        }
        self.ns.push(e)?;
        let r = self.ns.resolve(e.name().into_inner());
        let frame = self.child(parent, r.ns, r.ver, r.local, e)?;
        if frame == Frame::Skip {
            // Nothing inside is resolved: its declarations can go now.
            self.ns.pop();
        }
        self.stack.push(frame);
        Ok(())
    }

    fn root(&mut self, e: &BytesStart<'_>) -> Step<Frame> {
        if self.root_closed {
            return Err(Stop::Xml("content after the root element".into()));
        }
        self.root_seen = true;
        self.last_open = e.name().into_inner().to_string();
        let r = self.ns.resolve(e.name().into_inner());
        let (n, ver, local) = (r.ns, r.ver, r.local);
        match (n, local) {
            (Ns::Arf, "asset-report-collection") => {
                self.report.kind = DocumentKind::Arf;
                Ok(Frame::ArfRoot)
            }
            (Ns::Xccdf, "Benchmark") => {
                self.report.kind = DocumentKind::XccdfResults;
                Ok(Frame::Benchmark { in_request: false })
            }
            (Ns::Xccdf, "TestResult") => {
                self.report.kind = DocumentKind::XccdfTestResult;
                self.begin_test_result(e, ver.unwrap_or(XccdfVersion::V1_2))
            }
            (Ns::OvalRes, "oval_results") => {
                self.report.kind = DocumentKind::OvalResults;
                self.begin_oval()
            }
            _ => {
                let uri = r.uri.unwrap_or_default().to_string();
                let local_s = local.to_string();
                let hint = if local_s.eq_ignore_ascii_case("html") || uri == ns::XHTML {
                    HTML_HINT.to_string()
                } else if n == Ns::Ds {
                    "; this is SCAP source content (a data stream), not scan results: evaluate it with `oscap xccdf eval --results-arf`".into()
                } else if n == Ns::OvalDef {
                    "; these are OVAL definitions, not OVAL results: evaluate them with `oscap oval eval --results`".into()
                } else if n == Ns::Arf || n == Ns::Xccdf || n == Ns::OvalRes {
                    "; expected asset-report-collection, Benchmark, TestResult or oval_results"
                        .into()
                } else {
                    String::new()
                };
                Err(Stop::NotResults {
                    root: format!("{{{uri}}}{local_s}"),
                    hint,
                })
            }
        }
    }

    fn child(
        &mut self,
        parent: Frame,
        n: Ns,
        ver: Option<XccdfVersion>,
        local: &str,
        e: &BytesStart<'_>,
    ) -> Step<Frame> {
        use Frame as F;
        let f = match parent {
            F::ArfRoot => match (n, local) {
                (Ns::Arf, "report-requests") if self.full => F::ReportRequests,
                (Ns::Arf, "reports") => F::Reports,
                _ => F::Skip,
            },
            F::ReportRequests => match (n, local) {
                (Ns::Xccdf, "Benchmark") => F::Benchmark { in_request: true },
                (Ns::Arf | Ns::Ds, _) => F::ReportRequests,
                _ => F::Skip,
            },
            F::Reports => match (n, local) {
                (Ns::Arf, "report") => {
                    self.report_id = attr(e, "id")?;
                    F::ArfReport
                }
                _ => F::Skip,
            },
            F::ArfReport => match (n, local) {
                (Ns::Arf, "content") => F::ArfContent,
                _ => F::Skip,
            },
            F::ArfContent => match (n, local) {
                (Ns::Xccdf, "TestResult") => {
                    self.begin_test_result(e, ver.unwrap_or(XccdfVersion::V1_2))?
                }
                (Ns::Xccdf, "Benchmark") => F::Benchmark { in_request: false },
                (Ns::OvalRes, "oval_results") => self.begin_oval()?,
                _ => F::Skip,
            },
            F::Benchmark { in_request } => match (n, local) {
                (Ns::Xccdf, "Group") => F::Benchmark { in_request },
                (Ns::Xccdf, "Rule") if self.full => {
                    let [id, sev, weight] = attrs(e, ["id", "severity", "weight"])?;
                    self.rule = Some(RuleInfo {
                        id: id.unwrap_or_default(),
                        severity: sev.as_deref().map(Severity::parse).unwrap_or_default(),
                        weight,
                        ..Default::default()
                    });
                    F::Rule
                }
                (Ns::Xccdf, "TestResult") => {
                    if in_request {
                        self.report.ignored_test_results += 1;
                        F::Skip
                    } else {
                        self.begin_test_result(e, ver.unwrap_or(XccdfVersion::V1_2))?
                    }
                }
                _ => F::Skip,
            },
            F::Rule => match (n, local) {
                (Ns::Xccdf, "title") => {
                    self.begin_capture();
                    F::RuleTitle
                }
                (Ns::Xccdf, "description") => {
                    self.begin_excerpt_capture();
                    F::RuleDescription
                }
                (Ns::Xccdf, "ident") => {
                    self.stash_a = attr(e, "system")?;
                    self.begin_capture();
                    F::RuleIdent
                }
                (Ns::Xccdf, "reference") => {
                    self.stash_a = attr(e, "href")?;
                    self.begin_capture();
                    F::RuleReference
                }
                _ => F::Skip,
            },
            F::TestResult => match (n, local) {
                (Ns::Xccdf, "benchmark") => {
                    let [id, href] = attrs(e, ["id", "href"])?;
                    if let Some(tr) = self.tr.as_mut() {
                        tr.benchmark_id = id;
                        tr.benchmark_href = href;
                    }
                    F::Skip
                }
                (Ns::Xccdf, "profile") => {
                    let idref = attr(e, "idref")?;
                    if let Some(tr) = self.tr.as_mut() {
                        tr.profile = idref;
                    }
                    F::Skip
                }
                (Ns::Xccdf, "target") => {
                    self.begin_capture();
                    F::TrTarget
                }
                (Ns::Xccdf, "target-address") if self.full => {
                    self.begin_capture();
                    F::TrAddress
                }
                (Ns::Xccdf, "target-facts") => F::TrFacts,
                // Summary mode keeps a bounded number (oscap writes one per scoring model).
                (Ns::Xccdf, "score")
                    if self.full || self.tr.as_ref().is_some_and(|t| t.scores.len() < 16) =>
                {
                    let [system, max] = attrs(e, ["system", "maximum"])?;
                    self.stash_a = system;
                    self.stash_b = max;
                    self.begin_capture();
                    F::TrScore
                }
                (Ns::Xccdf, "rule-result") => {
                    let [idref, sev, weight, time, role] =
                        attrs(e, ["idref", "severity", "weight", "time", "role"])?;
                    self.rr_result = None;
                    self.rr = Some(RuleResult {
                        idref: idref.unwrap_or_default(),
                        result: ResultValue::Unknown,
                        severity: sev.as_deref().map(Severity::parse).unwrap_or_default(),
                        weight,
                        time,
                        role,
                        idents: Vec::new(),
                        checks: Vec::new(),
                        messages: Vec::new(),
                        overrides: Vec::new(),
                    });
                    F::RuleResult
                }
                _ => F::Skip,
            },
            F::TrFacts => match (n, local) {
                (Ns::Xccdf, "fact") => {
                    let name = attr(e, "name")?;
                    // Summary mode keeps only the fact that names the scanned target.
                    if !self.full && name.as_deref() != Some(IDENTIFIER_FACT) {
                        F::Skip
                    } else {
                        self.stash_a = name;
                        self.begin_capture();
                        F::TrFact
                    }
                }
                _ => F::Skip,
            },
            F::RuleResult => match (n, local) {
                (Ns::Xccdf, "result") => {
                    self.begin_capture();
                    F::RrResult
                }
                (Ns::Xccdf, "ident") if self.full => {
                    self.stash_a = attr(e, "system")?;
                    self.begin_capture();
                    F::RrIdent
                }
                (Ns::Xccdf, "message") if self.full => {
                    self.stash_a = attr(e, "severity")?;
                    self.begin_capture();
                    F::RrMessage
                }
                (Ns::Xccdf, "check") if self.full => self.begin_check(e)?,
                (Ns::Xccdf, "complex-check") if self.full => F::RrComplexCheck,
                (Ns::Xccdf, "override") if self.full => {
                    let [authority, time, date] = attrs(e, ["authority", "time", "date"])?;
                    self.item()?;
                    if let Some(rr) = self.rr.as_mut() {
                        rr.overrides.push(Override {
                            authority,
                            time: time.or(date),
                            ..Default::default()
                        });
                    }
                    F::RrOverride
                }
                _ => F::Skip,
            },
            F::RrComplexCheck => match (n, local) {
                (Ns::Xccdf, "check") => self.begin_check(e)?,
                (Ns::Xccdf, "complex-check") => F::RrComplexCheck,
                _ => F::Skip,
            },
            F::RrCheck => match (n, local) {
                (Ns::Xccdf, "check-content-ref") => {
                    let [name, href] = attrs(e, ["name", "href"])?;
                    if let Some(c) = self.rr.as_mut().and_then(|rr| rr.checks.last_mut())
                        && c.name.is_none()
                        && c.href.is_none()
                    {
                        c.name = name;
                        c.href = href;
                    }
                    F::Skip
                }
                _ => F::Skip,
            },
            F::RrOverride => match (n, local) {
                (Ns::Xccdf, "old-result") => {
                    self.begin_capture();
                    F::RrOvOld
                }
                (Ns::Xccdf, "new-result") => {
                    self.begin_capture();
                    F::RrOvNew
                }
                (Ns::Xccdf, "remark") => {
                    self.begin_capture();
                    F::RrOvRemark
                }
                _ => F::Skip,
            },
            F::OvalResults => match (n, local) {
                (Ns::OvalRes, "results") => F::OvalResResults,
                (Ns::OvalDef, "oval_definitions") if self.full => F::OvalDefs,
                _ => F::Skip,
            },
            F::OvalDefs => match (n, local) {
                (Ns::OvalDef, "definitions") => F::OvalDefinitions,
                _ => F::Skip,
            },
            F::OvalDefinitions => match (n, local) {
                (Ns::OvalDef, "definition") => {
                    let [id, class] = attrs(e, ["id", "class"])?;
                    self.def = Some(OvalDefinition {
                        id: id.unwrap_or_default(),
                        class,
                        ..Default::default()
                    });
                    F::OvalDef
                }
                _ => F::Skip,
            },
            F::OvalDef => match (n, local) {
                (Ns::OvalDef, "metadata") => F::OvalMeta,
                _ => F::Skip,
            },
            F::OvalMeta => match (n, local) {
                (Ns::OvalDef, "title") => {
                    self.begin_capture();
                    F::OvalTitle
                }
                (Ns::OvalDef, "reference") => {
                    let [source, ref_id, ref_url] = attrs(e, ["source", "ref_id", "ref_url"])?;
                    self.item()?;
                    if let Some(d) = self.def.as_mut() {
                        let source = source.unwrap_or_default();
                        let ref_id = ref_id.unwrap_or_default();
                        if source.eq_ignore_ascii_case("CVE") && !d.cves.contains(&ref_id) {
                            d.cves.push(ref_id.clone());
                        }
                        d.references.push(OvalReference {
                            source,
                            ref_id,
                            ref_url,
                        });
                    }
                    F::Skip
                }
                // Vendor extension (Red Hat puts it in the OVAL definitions namespace);
                // matched by local name under metadata, whatever its namespace.
                (_, "advisory") => F::OvalAdvisory,
                _ => F::Skip,
            },
            F::OvalAdvisory => match local {
                "severity" => {
                    self.begin_capture();
                    F::OvalAdvSeverity
                }
                "cve" => {
                    self.begin_capture();
                    F::OvalAdvCve
                }
                _ => F::Skip,
            },
            F::OvalResResults => match (n, local) {
                (Ns::OvalRes, "system") => F::OvalSystem,
                _ => F::Skip,
            },
            F::OvalSystem => match (n, local) {
                (Ns::OvalRes, "definitions") => F::OvalSysDefs,
                _ => F::Skip,
            },
            F::OvalSysDefs => match (n, local) {
                (Ns::OvalRes, "definition") => {
                    let [id, result] = attrs(e, ["definition_id", "result"])?;
                    let result = result.unwrap_or_default();
                    let r = OvalResult::parse(&result).ok_or_else(|| {
                        Stop::Invalid(format!(
                            "unknown OVAL definition result {:?}",
                            truncate(&result, 64)
                        ))
                    })?;
                    let first_system = !self.system_seen;
                    if let Some(o) = self.oval.as_mut() {
                        o.counts.add(r);
                    }
                    if self.full && first_system {
                        let id = id.unwrap_or_default();
                        if let Some(o) = self.oval.as_mut() {
                            match self.oval_index.get(&id) {
                                Some(&i) => {
                                    if let Some(d) = o.definitions.get_mut(i) {
                                        d.result = Some(r);
                                    }
                                }
                                None => {
                                    self.items += 1;
                                    self.oval_index.insert(id.clone(), o.definitions.len());
                                    o.definitions.push(OvalDefinition {
                                        id,
                                        result: Some(r),
                                        ..Default::default()
                                    });
                                }
                            }
                        }
                        if self.items > self.limits.max_items {
                            return Err(Stop::Limit(LimitKind::Items));
                        }
                    }
                    F::Skip
                }
                _ => F::Skip,
            },
            // Elements whose children we never look at.
            F::Skip
            | F::RuleTitle
            | F::RuleDescription
            | F::RuleIdent
            | F::RuleReference
            | F::TrTarget
            | F::TrAddress
            | F::TrFact
            | F::TrScore
            | F::RrResult
            | F::RrIdent
            | F::RrMessage
            | F::RrOvOld
            | F::RrOvNew
            | F::RrOvRemark
            | F::OvalTitle
            | F::OvalAdvSeverity
            | F::OvalAdvCve => F::Skip,
        };
        Ok(f)
    }

    fn begin_check(&mut self, e: &BytesStart<'_>) -> Step<Frame> {
        let [system, multi, negate] = attrs(e, ["system", "multi-check", "negate"])?;
        self.item()?;
        if let Some(rr) = self.rr.as_mut() {
            rr.checks.push(CheckRef {
                system,
                name: None,
                href: None,
                multi_check: is_true(multi.as_deref()),
                negate: is_true(negate.as_deref()),
            });
        }
        Ok(Frame::RrCheck)
    }

    fn begin_test_result(&mut self, e: &BytesStart<'_>, version: XccdfVersion) -> Step<Frame> {
        let [id, start, end, test_system] =
            attrs(e, ["id", "start-time", "end-time", "test-system"])?;
        self.item()?;
        self.tr = Some(TestResult {
            report_id: self.report_id.clone(),
            id: id.unwrap_or_default(),
            version,
            benchmark_id: None,
            benchmark_href: None,
            profile: None,
            start_time: start,
            end_time: end,
            test_system,
            target: Target::default(),
            scores: Vec::new(),
            counts: ResultCounts::default(),
            severity_counts: [ResultCounts::default(); 5],
            rule_results: Vec::new(),
        });
        Ok(Frame::TestResult)
    }

    fn begin_oval(&mut self) -> Step<Frame> {
        self.item()?;
        self.oval = Some(OvalReport {
            report_id: self.report_id.clone(),
            ..Default::default()
        });
        self.oval_index.clear();
        self.system_seen = false;
        Ok(Frame::OvalResults)
    }

    fn end(&mut self) -> Step {
        use Frame as F;
        if self.skip_extra > 0 {
            // Inside a skipped element (normally handled by the fast path).
            self.skip_extra -= 1;
            return Ok(());
        }
        let Some(frame) = self.stack.pop() else {
            return Err(Stop::Xml("unexpected end tag".into()));
        };
        if self.stack.is_empty() {
            self.root_closed = true;
        }
        if frame != F::Skip {
            self.ns.pop();
        }
        match frame {
            F::Skip
            | F::ArfRoot
            | F::ReportRequests
            | F::Reports
            | F::ArfContent
            | F::Benchmark { .. }
            | F::TrFacts
            | F::RrCheck
            | F::RrComplexCheck
            | F::RrOverride
            | F::OvalDefs
            | F::OvalDefinitions
            | F::OvalMeta
            | F::OvalAdvisory
            | F::OvalResResults
            | F::OvalSysDefs => {}
            F::ArfReport => self.report_id = None,
            F::OvalSystem => self.system_seen = true,
            F::RuleTitle => {
                let t = self.take_text();
                if let Some(r) = self.rule.as_mut() {
                    r.title = Some(t);
                }
            }
            F::RuleDescription => {
                self.capturing = false;
                self.excerpt_capture = false;
                let ex = excerpt(&self.text, self.limits.description_excerpt);
                self.text.clear();
                if let Some(r) = self.rule.as_mut() {
                    r.description = Some(ex);
                }
            }
            F::RuleIdent => {
                let t = self.take_text();
                self.item()?;
                let system = self.stash_a.take().unwrap_or_default();
                if let Some(r) = self.rule.as_mut() {
                    r.idents.push(Ident { system, id: t });
                }
            }
            F::RuleReference => {
                let t = self.take_text();
                self.item()?;
                let href = self.stash_a.take();
                if let Some(r) = self.rule.as_mut() {
                    r.references.push(RuleReference { href, text: t });
                }
            }
            F::Rule => {
                if let Some(r) = self.rule.take() {
                    self.item()?;
                    self.report.rules.entry(r.id.clone()).or_insert(r);
                }
            }
            F::TrTarget => {
                let t = self.take_text();
                if let Some(tr) = self.tr.as_mut() {
                    tr.target.name = Some(t);
                }
            }
            F::TrAddress => {
                let t = self.take_text();
                self.item()?;
                if let Some(tr) = self.tr.as_mut() {
                    tr.target.addresses.push(t);
                }
            }
            F::TrFact => {
                let t = self.take_text();
                self.item()?;
                let name = self.stash_a.take().unwrap_or_default();
                if let Some(tr) = self.tr.as_mut() {
                    tr.target.facts.push(Fact { name, value: t });
                }
            }
            F::TrScore => {
                let t = self.take_text();
                self.item()?;
                let system = self.stash_a.take();
                let maximum = self.stash_b.take();
                if let Some(tr) = self.tr.as_mut() {
                    tr.scores.push(Score {
                        system,
                        maximum,
                        value: t,
                    });
                }
            }
            F::RrResult => {
                let t = self.take_text();
                let v = ResultValue::parse(&t).ok_or_else(|| {
                    Stop::Invalid(format!("unknown rule result {:?}", truncate(&t, 64)))
                })?;
                self.rr_result = Some(v);
            }
            F::RrIdent => {
                let t = self.take_text();
                self.item()?;
                let system = self.stash_a.take().unwrap_or_default();
                if let Some(rr) = self.rr.as_mut() {
                    rr.idents.push(Ident { system, id: t });
                }
            }
            F::RrMessage => {
                let t = self.take_text();
                self.item()?;
                let severity = self.stash_a.take();
                if let Some(rr) = self.rr.as_mut() {
                    rr.messages.push(Message { severity, text: t });
                }
            }
            F::RrOvOld | F::RrOvNew | F::RrOvRemark => {
                let t = self.take_text();
                if let Some(o) = self.rr.as_mut().and_then(|rr| rr.overrides.last_mut()) {
                    match frame {
                        F::RrOvOld => o.old_result = Some(t),
                        F::RrOvNew => o.new_result = Some(t),
                        _ => o.remark = Some(t),
                    }
                }
            }
            F::RuleResult => {
                let Some(v) = self.rr_result.take() else {
                    return Err(Stop::Invalid(format!(
                        "rule-result {:?} has no result",
                        self.rr
                            .as_ref()
                            .map(|r| truncate(&r.idref, 200))
                            .unwrap_or_default()
                    )));
                };
                if let Some(mut rr) = self.rr.take() {
                    rr.result = v;
                    if let Some(tr) = self.tr.as_mut() {
                        tr.counts.add(v);
                        tr.severity_counts[rr.severity.index()].add(v);
                        if self.full {
                            self.items += 1;
                            tr.rule_results.push(rr);
                        }
                    }
                    if self.items > self.limits.max_items {
                        return Err(Stop::Limit(LimitKind::Items));
                    }
                }
            }
            F::TestResult => {
                if let Some(tr) = self.tr.take() {
                    self.report.test_results.push(tr);
                }
            }
            F::OvalTitle => {
                let t = self.take_text();
                if let Some(d) = self.def.as_mut() {
                    d.title = Some(t);
                }
            }
            F::OvalAdvSeverity => {
                let t = self.take_text();
                if let Some(d) = self.def.as_mut() {
                    d.advisory_severity = Some(t);
                }
            }
            F::OvalAdvCve => {
                let t = self.take_text();
                self.item()?;
                if let Some(d) = self.def.as_mut()
                    && !t.is_empty()
                    && !d.cves.contains(&t)
                {
                    d.cves.push(t);
                }
            }
            F::OvalDef => {
                if let (Some(d), Some(o)) = (self.def.take(), self.oval.as_mut()) {
                    self.items += 1;
                    self.oval_index.insert(d.id.clone(), o.definitions.len());
                    o.definitions.push(d);
                    if self.items > self.limits.max_items {
                        return Err(Stop::Limit(LimitKind::Items));
                    }
                }
            }
            F::OvalResults => {
                if let Some(o) = self.oval.take() {
                    self.report.oval_reports.push(o);
                }
                self.oval_index.clear();
            }
        }
        Ok(())
    }
}

const IDENTIFIER_FACT: &str = "urn:xccdf:fact:identifier";

const HTML_HINT: &str = "; this is an HTML document (for example the HTML report `oscap --report` writes), not the XML results: pass the file written with `--results-arf` (or `--results` / `--oval-results`)";

fn is_true(v: Option<&str>) -> bool {
    matches!(v.map(str::trim), Some("true" | "1"))
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Collapses whitespace and keeps the first `max` characters of that (then `…`
/// if anything was left out).
fn excerpt(s: &str, max: usize) -> String {
    excerpt_cut(s, max).0
}

/// [`excerpt`], and whether it was cut (then it ends with `…`).
fn excerpt_cut(s: &str, max: usize) -> (String, bool) {
    let mut out = String::with_capacity(s.len().min(max + 4));
    let mut chars = 0usize;
    for word in s.split_whitespace() {
        if !out.is_empty() {
            if chars >= max {
                out.push('…');
                return (out, true);
            }
            out.push(' ');
            chars += 1;
        }
        // Whole words while they fit (the common case), char by char at the cut.
        let n = if word.is_ascii() {
            word.len()
        } else {
            word.chars().count()
        };
        if chars + n <= max {
            out.push_str(word);
            chars += n;
            continue;
        }
        for c in word.chars() {
            if chars >= max {
                out.push('…');
                return (out, true);
            }
            out.push(c);
            chars += 1;
        }
    }
    (out, false)
}

fn attr(e: &BytesStart<'_>, name: &str) -> Step<Option<String>> {
    let [v] = attrs(e, [name])?;
    Ok(v)
}

/// Reads unprefixed attributes (which have no namespace) by local name.
fn attrs<const N: usize>(e: &BytesStart<'_>, names: [&str; N]) -> Step<[Option<String>; N]> {
    if let Some(found) = attrs_plain(e.attributes_raw(), names) {
        return Ok(found.map(|v| v.map(str::to_string)));
    }
    attrs_slow(e, names)
}

/// [`attrs`] with quick-xml's attribute parser.
fn attrs_slow<const N: usize>(e: &BytesStart<'_>, names: [&str; N]) -> Step<[Option<String>; N]> {
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    // Duplicate-attribute checks are quadratic; the last value wins instead.
    for a in e.attributes().with_checks(false) {
        let a = a.map_err(|err| Stop::Xml(err.to_string()))?;
        let key = a.key.as_ref();
        if let Some(i) = names.iter().position(|n| *n == key) {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| match err {
                    quick_xml::Error::Escape(
                        quick_xml::escape::EscapeError::UnrecognizedEntity(_, name),
                    ) => Stop::Entity(truncate(&name, 64)),
                    other => Stop::Xml(other.to_string()),
                })?;
            out[i] = Some(v.into_owned());
        }
    }
    Ok(out)
}

/// Fast path of [`attrs`] for the common case: only `name="value"` (or `'value'`)
/// pairs separated by whitespace, and the wanted values need no normalization (no
/// `&`, `<`, tab, CR or LF). Returns `None` on anything else, and [`attrs`] then
/// uses quick-xml's attribute parser (with its normalization and its errors).
fn attrs_plain<'a, const N: usize>(raw: &'a str, names: [&str; N]) -> Option<[Option<&'a str>; N]> {
    let b = raw.as_bytes();
    let is_ws = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let mut out: [Option<&'a str>; N] = [None; N];
    let mut i = 0;
    loop {
        while i < b.len() && is_ws(b[i]) {
            i += 1;
        }
        if i == b.len() {
            return Some(out);
        }
        let key_start = i;
        while i < b.len() && !is_ws(b[i]) && !matches!(b[i], b'=' | b'"' | b'\'' | b'/') {
            i += 1;
        }
        if i == key_start || b.get(i) != Some(&b'=') {
            return None;
        }
        let key = &raw[key_start..i];
        let quote = *b.get(i + 1)?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let value_start = i + 2;
        let len = memchr::memchr(quote, b.get(value_start..)?)?;
        let value = &raw[value_start..value_start + len];
        i = value_start + len + 1;
        if i < b.len() && !is_ws(b[i]) {
            return None;
        }
        if let Some(k) = names.iter().position(|n| *n == key) {
            if value
                .bytes()
                .any(|c| matches!(c, b'&' | b'<' | b'\t' | b'\n' | b'\r'))
            {
                return None;
            }
            // The last value wins, as in the slow path.
            out[k] = Some(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast attribute path gives what quick-xml's parser gives, or defers to it.
    #[test]
    fn plain_attributes_match_quick_xml() {
        let cases = [
            r#" a="1" b='2'"#,
            r#"  a="x y"  b="" c="3"
 "#,
            r#" a="1" a="2""#,
            r#" b="&amp;" a="ok""#,
            r#" a="tab	in" b="1""#,
            r#" a="1"b="2""#,
            r#" a=1"#,
            r#" a"#,
            r#" a = "1""#,
            r#" xmlns:p="urn:p" p:a="n" a="é€""#,
            r#" a="it's" b='say "hi"'"#,
            r#" a="unterminated"#,
            r#" a="<""#,
            "",
        ];
        for raw in cases {
            let e = BytesStart::from_content(format!("e{raw}"), 1);
            let slow = attrs_slow(&e, ["a", "b", "c"]).ok();
            if let Some(fast) = attrs_plain(e.attributes_raw(), ["a", "b", "c"]) {
                let fast = fast.map(|v| v.map(str::to_string));
                assert_eq!(Some(fast), slow, "{raw:?}");
            }
            // And through the public helper.
            assert_eq!(attrs(&e, ["a", "b", "c"]).ok(), slow, "{raw:?}");
        }
        // The common case does take the fast path.
        assert!(attrs_plain(r#" a="1" b='2'"#, ["a"]).is_some());
    }

    /// `excerpt(excerpt(s)) == excerpt(s)` once cut, for every prefix of a text:
    /// what lets the parser stop collecting a description early.
    #[test]
    fn cut_excerpts_are_stable() {
        let s = "  Set   wörd  a\n\tb  €€ c  dd eee  ffff  ";
        let cuts: Vec<usize> = (0..=s.len()).filter(|&i| s.is_char_boundary(i)).collect();
        for max in 0..30 {
            let whole = excerpt(s, max);
            for &i in &cuts {
                let (ex, cut) = excerpt_cut(&s[..i], max);
                if cut {
                    assert_eq!(excerpt(&ex, max), whole, "max {max} prefix {i}");
                }
            }
        }
    }
}
