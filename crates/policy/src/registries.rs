//! `registries.d` (containers-registries.d(5)): where signatures of a
//! docker repository are stored (§6.1, §6.2).
//!
//! Parsing follows the newer reference (yaml.v3): keys are lowercase and
//! case-sensitive, duplicate keys in one file are an error, unknown keys are
//! ignored. Only files whose names end in `.yaml` belong to the
//! configuration; files are merged in name order and a scope defined in two
//! files is an error naming both.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use imprimatur_reference::Reference;
use serde::Deserialize;

use crate::error::Error;

/// Largest `registries.d` file accepted.
pub const MAX_REGISTRIES_FILE_BYTES: usize = 1024 * 1024;

/// Whether a directory entry belongs to the configuration (`*.yaml`; `.yml`
/// and everything else are ignored, like the reference).
pub fn is_config_file_name(name: &str) -> bool {
    name.ends_with(".yaml")
}

/// One section: where signatures are read from and written to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Section {
    /// `lookaside`: base URL for reading (and writing when no staging URL).
    #[serde(default)]
    pub lookaside: Option<String>,
    /// `lookaside-staging`: base URL for writing.
    #[serde(default, rename = "lookaside-staging")]
    pub lookaside_staging: Option<String>,
    /// `sigstore`: deprecated alias of `lookaside`.
    #[serde(default)]
    pub sigstore: Option<String>,
    /// `sigstore-staging`: deprecated alias of `lookaside-staging`.
    #[serde(default, rename = "sigstore-staging")]
    pub sigstore_staging: Option<String>,
    /// `use-sigstore-attachments`.
    #[serde(default, rename = "use-sigstore-attachments")]
    pub use_sigstore_attachments: Option<bool>,
}

/// What a lookaside URL is wanted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Purpose {
    /// Reading signatures.
    Read,
    /// Writing signatures.
    Write,
}

impl Section {
    /// A section with just a `lookaside` URL.
    pub fn lookaside(url: &str) -> Section {
        Section {
            lookaside: Some(url.to_owned()),
            ..Section::default()
        }
    }

    /// The URL this section gives for a purpose (`""` counts as absent):
    /// write: `lookaside-staging`, `sigstore-staging`, `lookaside`, `sigstore`;
    /// read: `lookaside`, `sigstore`.
    pub fn url_for(&self, purpose: Purpose) -> Option<&str> {
        let order: [&Option<String>; 4] = match purpose {
            Purpose::Write => [
                &self.lookaside_staging,
                &self.sigstore_staging,
                &self.lookaside,
                &self.sigstore,
            ],
            Purpose::Read => [&self.lookaside, &self.sigstore, &None, &None],
        };
        order
            .into_iter()
            .filter_map(|o| o.as_deref())
            .find(|s| !s.is_empty())
    }

    fn is_empty(&self) -> bool {
        *self == Section::default()
    }

    fn write_yaml(&self, out: &mut String, indent: &str) {
        let fields: [(&str, &Option<String>); 4] = [
            ("lookaside", &self.lookaside),
            ("lookaside-staging", &self.lookaside_staging),
            ("sigstore", &self.sigstore),
            ("sigstore-staging", &self.sigstore_staging),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                let _ = writeln!(out, "{indent}{k}: {}", yaml_quote(v));
            }
        }
        if let Some(b) = self.use_sigstore_attachments {
            let _ = writeln!(out, "{indent}use-sigstore-attachments: {b}");
        }
    }
}

/// A YAML double-quoted scalar (JSON escaping is valid YAML).
fn yaml_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// One `registries.d` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistriesFile {
    /// `default-docker`.
    pub default_docker: Option<Section>,
    /// `docker`: scope → section.
    pub docker: BTreeMap<String, Section>,
}

#[derive(Deserialize)]
struct FileDoc {
    #[serde(default, rename = "default-docker")]
    default_docker: Option<Option<Section>>,
    #[serde(default)]
    docker: Option<BTreeMap<String, Option<Section>>>,
}

impl RegistriesFile {
    /// Parses one file. `file` is used in error messages.
    pub fn from_yaml(bytes: &[u8], file: &str) -> Result<RegistriesFile, Error> {
        let err = |message: String| Error::InvalidRegistriesFile {
            file: file.to_owned(),
            message,
        };
        if bytes.len() > MAX_REGISTRIES_FILE_BYTES {
            return Err(err(format!(
                "file is {} bytes, more than the limit of {MAX_REGISTRIES_FILE_BYTES}",
                bytes.len()
            )));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| err(format!("not UTF-8: {e}")))?;
        let options = serde_saphyr::options! {
            budget: serde_saphyr::budget! {
                max_depth: 32,
                max_nodes: 100_000,
                max_aliases: 100,
                max_documents: 1,
            },
        };
        let doc: Option<FileDoc> =
            serde_saphyr::from_str_with_options(text, options).map_err(|e| err(e.to_string()))?;
        let Some(doc) = doc else {
            return Ok(RegistriesFile::default());
        };
        Ok(RegistriesFile {
            default_docker: doc.default_docker.map(Option::unwrap_or_default),
            docker: doc
                .docker
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect(),
        })
    }

    /// The file as YAML (stable: scopes sorted, strings double-quoted).
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        if let Some(d) = &self.default_docker {
            if d.is_empty() {
                out.push_str("default-docker: {}\n");
            } else {
                out.push_str("default-docker:\n");
                d.write_yaml(&mut out, "  ");
            }
        }
        if !self.docker.is_empty() {
            out.push_str("docker:\n");
            for (scope, section) in &self.docker {
                if section.is_empty() {
                    let _ = writeln!(out, "  {}: {{}}", yaml_quote(scope));
                } else {
                    let _ = writeln!(out, "  {}:", yaml_quote(scope));
                    section.write_yaml(&mut out, "    ");
                }
            }
        }
        out
    }
}

/// Where a section came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Located {
    /// The section.
    pub section: Section,
    /// The file that defined it.
    pub file: String,
}

/// The merged configuration of a whole `registries.d` directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistriesConfig {
    /// `default-docker`, from at most one file.
    pub default_docker: Option<Located>,
    /// `docker` scopes, each from exactly one file.
    pub docker: BTreeMap<String, Located>,
}

/// Which section supplied a lookaside URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LookasideChoice {
    /// The base URL.
    pub url: String,
    /// The `docker` scope, or `None` for `default-docker`.
    pub scope: Option<String>,
    /// The file defining that section.
    pub file: String,
}

impl RegistriesConfig {
    /// Merges parsed files (give them in name order; the caller filters
    /// with [`is_config_file_name`]).
    pub fn merge<'a>(
        files: impl IntoIterator<Item = (&'a str, RegistriesFile)>,
    ) -> Result<RegistriesConfig, Error> {
        let mut out = RegistriesConfig::default();
        for (name, f) in files {
            if let Some(d) = f.default_docker {
                if let Some(prev) = &out.default_docker {
                    return Err(Error::RegistriesDefaultConflict {
                        first: prev.file.clone(),
                        second: name.to_owned(),
                    });
                }
                out.default_docker = Some(Located {
                    section: d,
                    file: name.to_owned(),
                });
            }
            for (scope, section) in f.docker {
                if let Some(prev) = out.docker.get(&scope) {
                    return Err(Error::RegistriesConflict {
                        scope,
                        first: prev.file.clone(),
                        second: name.to_owned(),
                    });
                }
                out.docker.insert(
                    scope,
                    Located {
                        section,
                        file: name.to_owned(),
                    },
                );
            }
        }
        Ok(out)
    }

    /// Parses and merges `(file name, bytes)` pairs; names not ending in
    /// `.yaml` are skipped; pairs are sorted by name first.
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<RegistriesConfig, Error> {
        let mut list: Vec<(&str, &[u8])> = files
            .into_iter()
            .filter(|(n, _)| is_config_file_name(n))
            .collect();
        list.sort_by(|a, b| a.0.cmp(b.0));
        let parsed = list
            .into_iter()
            .map(|(n, b)| RegistriesFile::from_yaml(b, n).map(|f| (n, f)))
            .collect::<Result<Vec<_>, _>>()?;
        RegistriesConfig::merge(parsed)
    }

    /// Candidate sections for a reference, most specific first:
    /// `docker[identity]`, `docker[namespace]`…, `default-docker`.
    pub fn candidates(&self, reference: &Reference) -> Vec<(Option<String>, &Located)> {
        let mut out = Vec::new();
        for key in reference.policy_scopes() {
            if let Some(l) = self.docker.get(&key) {
                out.push((Some(key), l));
            }
        }
        if let Some(d) = &self.default_docker {
            out.push((None, d));
        }
        out
    }

    /// The lookaside base URL for a reference (§6.2): the first candidate
    /// section that yields a non-empty URL for the purpose (less specific
    /// sections are consulted when a more specific one yields none).
    /// `None` means the built-in default ([`default_lookaside`]).
    pub fn lookaside_for(
        &self,
        reference: &Reference,
        purpose: Purpose,
    ) -> Option<LookasideChoice> {
        self.candidates(reference)
            .into_iter()
            .find_map(|(scope, l)| {
                l.section.url_for(purpose).map(|url| LookasideChoice {
                    url: url.to_owned(),
                    scope: scope.clone(),
                    file: l.file.clone(),
                })
            })
    }

    /// `use-sigstore-attachments` for a reference: the first candidate
    /// section that sets it decides; default `false`.
    pub fn use_sigstore_attachments(&self, reference: &Reference) -> bool {
        self.candidates(reference)
            .into_iter()
            .find_map(|(_, l)| l.section.use_sigstore_attachments)
            .unwrap_or(false)
    }
}

/// The built-in lookaside when no section gives one:
/// `file:///var/lib/containers/sigstore` for root, else
/// `file://$HOME/.local/share/containers/sigstore`.
pub fn default_lookaside(is_root: bool, home: &str) -> String {
    if is_root {
        "file:///var/lib/containers/sigstore".to_owned()
    } else {
        format!(
            "file://{}/.local/share/containers/sigstore",
            home.trim_end_matches('/')
        )
    }
}
