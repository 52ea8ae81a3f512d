//! JSON output as Go's `encoding/json` writes it (containers/image's
//! `json.Marshal`): HTML-safe string escaping, compact.

use imprimatur_signature::json::Value;

/// Appends `s` as Go's `json.Marshal` writes a string: `"`, `\`, `\n`,
/// `\r`, `\t` with a backslash, other control characters, `<`, `>`, `&`,
/// U+2028 and U+2029 as `\u00xx`/`\u20xx`.
pub(crate) fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&[u8]> = match c {
            '"' => Some(b"\\\""),
            '\\' => Some(b"\\\\"),
            '\n' => Some(b"\\n"),
            '\r' => Some(b"\\r"),
            '\t' => Some(b"\\t"),
            '\u{2028}' => Some(b"\\u2028"),
            '\u{2029}' => Some(b"\\u2029"),
            '<' | '>' | '&' | '\u{0}'..='\u{1f}' => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match esc {
            Some(e) => out.extend_from_slice(e),
            None => {
                let b = c as u32;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize & 0xf]);
                out.push(HEX[b as usize & 0xf]);
            }
        }
        start = i + c.len_utf8();
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Writes `v` compactly, members in their order (numbers as read).
pub(crate) fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.extend_from_slice(n.as_str().as_bytes()),
        Value::String(s) => write_string(out, s),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, x);
            }
            out.push(b']');
        }
        Value::Object(m) => {
            out.push(b'{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, k);
                out.push(b':');
                write_value(out, x);
            }
            out.push(b'}');
        }
        _ => out.extend_from_slice(b"null"),
    }
}
