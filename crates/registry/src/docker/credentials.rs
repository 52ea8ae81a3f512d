//! Registry credentials the way skopeo finds them: `--creds USER[:PASS]`, or
//! an auth file (`--authfile`, `$REGISTRY_AUTH_FILE`,
//! `$XDG_RUNTIME_DIR/containers/auth.json`, `~/.docker/config.json`).
//!
//! An auth file maps a registry, or a repository namespace inside one, to a
//! base64 `user:password`:
//!
//! ```json
//! {"auths": {"quay.io": {"auth": "dXNlcjpwYXNz"}, "quay.io/org/app": {"auth": "…"}}}
//! ```
//!
//! As in containers/image, the most specific key wins (`host/ns/repo`, then
//! `host/ns`, then `host`), and docker's legacy keys (`https://host/v1/`) are
//! read as `host`. Credential helpers (`credHelpers`, `credsStore`) are not
//! run: a registry that has only a helper gets no credentials from the file.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use imprimatur_signature::Zeroizing;
use serde::Deserialize;

use crate::error::{Error, Result};

/// Largest auth file read.
const MAX_AUTH_FILE: u64 = 1 << 20;

/// A user name and password (or identity token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token. Never printed by `Debug`, wiped when
    /// dropped.
    pub password: Zeroizing<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// Parses skopeo's `--creds USER[:PASSWORD]`. A missing password is an
    /// empty one.
    pub fn from_creds_flag(value: &str) -> Result<Self> {
        let (user, pass) = value.split_once(':').unwrap_or((value, ""));
        if user.is_empty() {
            return Err(Error::AuthFile {
                path: PathBuf::from("--creds"),
                message: "empty user name (write USER[:PASSWORD])".into(),
            });
        }
        Ok(Credentials {
            username: user.to_owned(),
            password: Zeroizing::new(pass.to_owned()),
        })
    }
}

#[derive(Deserialize)]
struct AuthFileJson {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
}

#[derive(Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The credentials of one auth file, keyed by normalized registry or
/// namespace.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuthFile {
    entries: HashMap<String, Credentials>,
    source: Option<PathBuf>,
}

impl fmt::Debug for AuthFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<&String> = self.entries.keys().collect();
        keys.sort();
        f.debug_struct("AuthFile")
            .field("source", &self.source)
            .field("keys", &keys)
            .finish()
    }
}

impl AuthFile {
    /// Parses an auth file's bytes; `path` is only for messages.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |message: String| Error::AuthFile {
            path: path.to_owned(),
            message,
        };
        let json: AuthFileJson =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let mut entries = HashMap::new();
        for (key, entry) in json.auths {
            let creds = match (entry.auth, entry.username, entry.password) {
                (Some(auth), _, _) if !auth.is_empty() => decode_auth(&auth).ok_or_else(|| {
                    bad(format!(
                        "entry {key:?}: \"auth\" is not base64 USER:PASSWORD"
                    ))
                })?,
                (_, Some(username), Some(password)) => Credentials {
                    username,
                    password: Zeroizing::new(password),
                },
                // An entry without secrets (a credential helper's placeholder).
                _ => continue,
            };
            entries.insert(normalize_key(&key), creds);
        }
        Ok(AuthFile {
            entries,
            source: Some(path.to_owned()),
        })
    }

    /// Reads and parses an auth file. A file that does not exist is an empty
    /// one only when `missing_ok` (the default search path); a named file must
    /// exist.
    pub fn load(path: &Path, missing_ok: bool) -> Result<Self> {
        use std::io::Read as _;
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(AuthFile::default());
            }
            Err(e) => return Err(Error::io("open", path, e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_AUTH_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("read", path, e))?;
        if bytes.len() as u64 > MAX_AUTH_FILE {
            return Err(Error::TooLarge {
                what: format!("credentials file {}", path.display()),
                limit: MAX_AUTH_FILE,
            });
        }
        AuthFile::parse(&bytes, path)
    }

    /// The first auth file of skopeo's search path that exists:
    /// `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
    /// `$XDG_CONFIG_HOME/containers/auth.json` (or `~/.config/…`),
    /// `~/.docker/config.json`. None found is an empty file.
    pub fn load_default() -> Result<Self> {
        for path in default_auth_paths() {
            let file = AuthFile::load(&path, true)?;
            if file.source.is_some() {
                return Ok(file);
            }
        }
        Ok(AuthFile::default())
    }

    /// The file this was read from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// The credentials for a repository (`registry` host, `repository` path):
    /// the most specific matching key.
    pub fn lookup(&self, registry: &str, repository: &str) -> Option<&Credentials> {
        let mut key = format!("{registry}/{repository}");
        loop {
            if let Some(c) = self.entries.get(&key) {
                return Some(c);
            }
            match key.rfind('/') {
                Some(i) => key.truncate(i),
                None => return None,
            }
        }
    }
}

fn default_auth_paths() -> Vec<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let mut paths = Vec::new();
    if let Some(p) = env("REGISTRY_AUTH_FILE") {
        paths.push(p);
    }
    if let Some(p) = env("XDG_RUNTIME_DIR") {
        paths.push(p.join("containers/auth.json"));
    }
    let home = env("HOME");
    match (env("XDG_CONFIG_HOME"), &home) {
        (Some(p), _) => paths.push(p.join("containers/auth.json")),
        (None, Some(h)) => paths.push(h.join(".config/containers/auth.json")),
        (None, None) => {}
    }
    if let Some(h) = home {
        paths.push(h.join(".docker/config.json"));
    }
    paths
}

fn decode_auth(auth: &str) -> Option<Credentials> {
    let raw = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()?,
    );
    let text = std::str::from_utf8(&raw).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some(Credentials {
        username: user.to_owned(),
        password: Zeroizing::new(pass.to_owned()),
    })
}

/// docker's legacy keys carry a scheme and a `/v1/` or `/v2/` path; they
/// name the registry only (containers/image `normalizeAuthFileKey`).
fn normalize_key(key: &str) -> String {
    let stripped = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"));
    match stripped {
        Some(rest) => rest.split('/').next().unwrap_or(rest).to_owned(),
        None if key == "index.docker.io" || key == "registry-1.docker.io" => "docker.io".into(),
        None => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(json: &str) -> AuthFile {
        AuthFile::parse(json.as_bytes(), Path::new("auth.json")).unwrap()
    }

    #[test]
    fn most_specific_key_wins() {
        // user:pass, other:secret, legacy:x
        let f = file(
            r#"{"auths":{
                "reg.example":{"auth":"dXNlcjpwYXNz"},
                "reg.example/org/app":{"auth":"b3RoZXI6c2VjcmV0"},
                "https://legacy.example/v1/":{"auth":"bGVnYWN5Ong="}}}"#,
        );
        assert_eq!(
            f.lookup("reg.example", "org/app").unwrap().username,
            "other"
        );
        assert_eq!(
            f.lookup("reg.example", "org/app2").unwrap().username,
            "user"
        );
        assert_eq!(
            f.lookup("reg.example", "org/app/sub").unwrap().username,
            "other"
        );
        assert_eq!(
            f.lookup("legacy.example", "a").unwrap().password.as_str(),
            "x"
        );
        assert!(f.lookup("nothere.example", "a").is_none());
    }

    #[test]
    fn password_may_contain_colons_and_helpers_are_skipped() {
        // "u:p:q"
        let f = file(r#"{"auths":{"r":{"auth":"dTpwOnE="},"h":{}},"credHelpers":{"x":"y"}}"#);
        assert_eq!(f.lookup("r", "a").unwrap().password.as_str(), "p:q");
        assert!(f.lookup("h", "a").is_none());
    }

    #[test]
    fn malformed_files_name_the_problem() {
        let e = AuthFile::parse(b"{", Path::new("/x/auth.json")).unwrap_err();
        assert!(matches!(e, Error::AuthFile { .. }));
        assert!(e.to_string().contains("/x/auth.json"), "{e}");
        let e = AuthFile::parse(br#"{"auths":{"r":{"auth":"!!"}}}"#, Path::new("a")).unwrap_err();
        assert!(e.to_string().contains("\"r\""), "{e}");
    }

    #[test]
    fn creds_flag_and_debug_redaction() {
        let c = Credentials::from_creds_flag("alice:s3cr:et").unwrap();
        assert_eq!(c.password.as_str(), "s3cr:et");
        assert!(!format!("{c:?}").contains("s3cr"));
        assert_eq!(
            Credentials::from_creds_flag("bob")
                .unwrap()
                .password
                .as_str(),
            ""
        );
        assert!(Credentials::from_creds_flag(":x").is_err());
    }

    #[test]
    fn missing_default_file_is_empty_named_file_is_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("none.json");
        assert!(AuthFile::load(&p, true).unwrap().source().is_none());
        assert!(matches!(AuthFile::load(&p, false), Err(Error::Io { .. })));
    }
}
