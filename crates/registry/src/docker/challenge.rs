//! What a registry says when it refuses: the `WWW-Authenticate` challenge of a
//! 401 (RFC 7235, as distribution sends it) and the distribution error body
//! (`{"errors":[{"code","message","detail"}]}`). Both are untrusted input:
//! parsed without panics, and only within the size the caller read.

use std::collections::BTreeMap;

/// One authentication challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lower-cased: `basic` or `bearer` (others are kept, unused).
    pub scheme: String,
    /// The parameters (`realm`, `service`, `scope`, ...), names lower-cased.
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// The `realm` parameter.
    pub fn realm(&self) -> Option<&str> {
        self.params.get("realm").map(String::as_str)
    }
}

/// Parses a `WWW-Authenticate` header value into its challenges. Anything
/// unparseable ends the list; what was parsed before it is kept.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out = Vec::new();
    let mut rest = header.trim_start();
    while !rest.is_empty() {
        let scheme_end = rest
            .find(|c: char| c.is_ascii_whitespace() || c == ',')
            .unwrap_or(rest.len());
        let scheme = rest[..scheme_end].to_ascii_lowercase();
        rest = rest[scheme_end..].trim_start();
        if scheme.is_empty() {
            rest = rest.trim_start_matches(',').trim_start();
            continue;
        }
        let mut params = BTreeMap::new();
        // Parameters: name=token or name="quoted", separated by commas. A
        // word not followed by '=' starts the next challenge.
        while let Some((name, after)) = param_name(rest) {
            let Some((value, after)) = param_value(after) else {
                return push(out, scheme, params);
            };
            params.insert(name.to_ascii_lowercase(), value);
            rest = after.trim_start();
            match rest.strip_prefix(',') {
                Some(r) => rest = r.trim_start(),
                None => break,
            }
        }
        out.push(Challenge { scheme, params });
    }
    out
}

fn push(
    mut out: Vec<Challenge>,
    scheme: String,
    params: BTreeMap<String, String>,
) -> Vec<Challenge> {
    out.push(Challenge { scheme, params });
    out
}

/// `name=` at the start of `s`: the name and what follows the `=`.
fn param_name(s: &str) -> Option<(&str, &str)> {
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))?;
    let (name, rest) = s.split_at(end);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=')?;
    (!name.is_empty()).then_some((name, rest.trim_start()))
}

/// A token or quoted string at the start of `s`, and what follows it.
fn param_value(s: &str) -> Option<(String, &str)> {
    if let Some(quoted) = s.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Some((value, &quoted[i + 1..])),
                '\\' => value.push(chars.next()?.1),
                c => value.push(c),
            }
        }
        None
    } else {
        let end = s
            .find(|c: char| c == ',' || c.is_ascii_whitespace())
            .unwrap_or(s.len());
        Some((s[..end].to_owned(), &s[end..]))
    }
}

/// The messages of a distribution error body, joined: `MANIFEST_UNKNOWN:
/// manifest unknown`. Empty when the body is not such a document.
pub fn error_messages(body: &[u8]) -> (Vec<String>, String) {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let Ok(parsed) = serde_json::from_slice::<Body>(body) else {
        return (Vec::new(), String::new());
    };
    let codes = parsed.errors.iter().map(|e| e.code.clone()).collect();
    let text = parsed
        .errors
        .iter()
        .map(|e| match (e.code.is_empty(), e.message.is_empty()) {
            (false, false) => format!("{}: {}", e.code, e.message),
            (false, true) => e.code.clone(),
            _ => e.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    (codes, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenge_of_a_registry() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:org/app:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].realm(), Some("https://auth.example/token"));
        assert_eq!(c[0].params["scope"], "repository:org/app:pull");
    }

    #[test]
    fn basic_and_several_challenges() {
        let c = parse_challenges(r#"Basic realm="basic-realm""#);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].realm(), Some("basic-realm"));
        let c = parse_challenges(r#"Basic realm="a", Bearer realm="b",service=s"#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].params["service"], "s");
    }

    #[test]
    fn escapes_and_garbage_do_not_panic() {
        let c = parse_challenges(r#"Bearer realm="a\"b""#);
        assert_eq!(c[0].realm(), Some("a\"b"));
        for s in [
            "",
            ",",
            "Bearer realm=\"unterminated",
            "=",
            "Bearer ,,,",
            "é=é",
        ] {
            let _ = parse_challenges(s);
        }
    }

    #[test]
    fn distribution_error_bodies() {
        let (codes, text) = error_messages(
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#,
        );
        assert_eq!(codes, ["MANIFEST_UNKNOWN"]);
        assert_eq!(text, "MANIFEST_UNKNOWN: manifest unknown");
        assert_eq!(error_messages(b"<html>").1, "");
    }
}
