//! `imprimatur-arf`: OpenSCAP results (ARF 1.1, XCCDF 1.1/1.2 results, OVAL results)
//! read by a streaming, namespace-aware parser into a typed report, with summaries,
//! gates and reports (JSON, text, JUnit XML, HTML).
//!
//! The library does no I/O: it reads any [`std::io::BufRead`] (decompression and file
//! handling are the caller's business) and writes to `String`s.
//!
//! ```
//! use imprimatur_arf::{parse_report, parse_summary, ResultValue};
//!
//! let xml = r#"<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.2" id="b">
//!   <TestResult id="tr1">
//!     <rule-result idref="r1" severity="high"><result>fail</result></rule-result>
//!     <rule-result idref="r2"><result>pass</result></rule-result>
//!     <rule-result idref="r3"><result>notselected</result></rule-result>
//!   </TestResult>
//! </Benchmark>"#;
//!
//! // Summary mode: counts only, memory independent of the file size.
//! let summary = parse_summary(xml.as_bytes())?;
//! let tr = &summary.test_results[0];
//! assert_eq!(tr.results.get(ResultValue::Fail), 1);
//! assert_eq!(tr.scan_result.total_rules, 2); // notselected is not counted
//!
//! // Full mode: the typed report.
//! let report = parse_report(xml.as_bytes())?;
//! assert_eq!(report.test_results[0].rule_results[0].idref, "r1");
//!
//! // A gate: plain data, here from YAML.
//! let gate = imprimatur_arf::Gate::from_yaml("maxFailed: { high: 0 }")?;
//! let outcome = gate.evaluate(&report);
//! assert!(!outcome.passed);
//! # Ok::<(), imprimatur_arf::Error>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod gate;
mod model;
pub mod output;
mod parse;
mod summary;

pub use error::{Error, GateError, LimitKind, Position, Result};
pub use gate::{
    Finding, Gate, GateOutcome, MAX_GATE_BYTES, SeverityLimits, TestResultScope, Waiver,
};
pub use model::*;
pub use parse::{Limits, Mode, ParseOptions, ns, parse, parse_report, parse_summary};
pub use summary::{
    OscapView, OvalSummary, SCHEMA_VERSION, ScanResult, SeverityBreakdown, Summary,
    TestResultSummary,
};
