//! Output formats: stable JSON, compact text, JUnit XML and a self-contained HTML report.
//!
//! All functions return `String`s; writing them anywhere is the caller's business.

mod html;
mod json;
mod junit;
mod text;

pub use html::html_report;
pub use json::{report_json, summary_json};
pub use junit::junit_report;
pub use text::{gate_text, summary_text};

/// Escapes text for XML/HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Characters not allowed in XML 1.0 are dropped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}
