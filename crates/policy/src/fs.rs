//! `std::fs` helpers for callers that work with real files: atomic writes,
//! loading a `registries.d` directory, and a key loader for evaluation.
//! Nothing else in this crate touches the file system.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::registries::{RegistriesConfig, RegistriesFile, is_config_file_name};

fn io_err(path: &Path, cause: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        cause,
    }
}

/// Writes a file atomically: a temporary file in the same directory is
/// written and synced, then renamed over `path`. Parent directories are
/// created. Readers see the old or the new content, never a partial file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    let mut attempt = 0u32;
    let (tmp_path, mut file) = loop {
        let candidate = dir.join(format!(".{name}.tmp-{}-{attempt}", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(f) => break (candidate, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 1000 => {
                attempt += 1
            }
            Err(e) => return Err(io_err(&candidate, e)),
        }
    };
    let result = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_err(&tmp_path, e))
        .and_then(|()| std::fs::rename(&tmp_path, path).map_err(|e| io_err(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp_path);
    }
    result
}

/// The `*.yaml` files of a `registries.d` directory, parsed, sorted by
/// name. A missing directory is an empty configuration.
pub fn read_registries_files(dir: &Path) -> Result<Vec<(String, RegistriesFile)>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_config_file_name(&name) {
            names.push(name);
        }
    }
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let meta = std::fs::metadata(&path).map_err(|e| io_err(&path, e))?;
        if meta.len() > crate::registries::MAX_REGISTRIES_FILE_BYTES as u64 {
            return Err(Error::InvalidRegistriesFile {
                file: path.display().to_string(),
                message: "file too large".to_owned(),
            });
        }
        let bytes = std::fs::read(&path).map_err(|e| io_err(&path, e))?;
        let file = RegistriesFile::from_yaml(&bytes, &path.display().to_string())?;
        out.push((path.display().to_string(), file));
    }
    Ok(out)
}

/// Loads and merges a `registries.d` directory.
pub fn load_registries_dir(dir: &Path) -> Result<RegistriesConfig, Error> {
    let files = read_registries_files(dir)?;
    RegistriesConfig::merge(files.iter().map(|(n, f)| (n.as_str(), f.clone())))
}

/// Reads and parses a `policy.json`.
pub fn load_policy(path: &Path) -> Result<crate::Policy, Error> {
    let meta = std::fs::metadata(path).map_err(|e| io_err(path, e))?;
    if meta.len() > crate::json::MAX_POLICY_BYTES as u64 {
        return Err(Error::InvalidPolicy {
            file: path.display().to_string(),
            path: "$".to_owned(),
            rule: crate::PolicyRule::Syntax("file too large".to_owned()),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    crate::Policy::from_json(&bytes, &path.display().to_string())
}

/// Sets (or with `None` removes) the section of one docker scope (`""` =
/// `default-docker`) in a `registries.d` directory, editing the file that
/// already defines it, else creating `<scope>.yaml`
/// ([`crate::registries_file_name`]). The file is written atomically; other
/// files and scopes are untouched. Returns the file written (if any).
pub fn set_registries_section(
    dir: &Path,
    scope: &str,
    section: Option<crate::Section>,
) -> Result<Option<PathBuf>, Error> {
    let files = read_registries_files(dir)?;
    // Refuse to edit a directory that is already inconsistent.
    RegistriesConfig::merge(files.iter().map(|(n, f)| (n.as_str(), f.clone())))?;
    let default = scope.is_empty();
    let existing = files.into_iter().find(|(_, f)| {
        if default {
            f.default_docker.is_some()
        } else {
            f.docker.contains_key(scope)
        }
    });
    let (path, mut file) = match existing {
        Some((p, f)) => (PathBuf::from(p), f),
        None => {
            if section.is_none() {
                return Ok(None);
            }
            (
                dir.join(crate::registries_file_name(scope)),
                RegistriesFile::default(),
            )
        }
    };
    match (default, section) {
        (true, s) => file.default_docker = s,
        (false, Some(s)) => {
            file.docker.insert(scope.to_owned(), s);
        }
        (false, None) => {
            file.docker.remove(scope);
        }
    }
    write_atomic(&path, file.to_yaml().as_bytes())?;
    Ok(Some(path))
}

/// A [`crate::KeyLoader`] reading key files from the file system, with
/// the size limit of the signature crate. Errors read like Go's
/// (`open /x: no such file or directory`).
#[derive(Debug, Clone, Copy, Default)]
pub struct FsKeyLoader;

impl crate::KeyLoader for FsKeyLoader {
    fn load(&self, path: &str) -> Result<Vec<u8>, String> {
        let describe = |e: std::io::Error| {
            let msg = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
                _ => e.to_string(),
            };
            format!("open {path}: {msg}")
        };
        let meta = std::fs::metadata(path).map_err(describe)?;
        if meta.len() > imprimatur_signature::MAX_KEY_BYTES as u64 {
            return Err(format!(
                "{path}: key file larger than {} bytes",
                imprimatur_signature::MAX_KEY_BYTES
            ));
        }
        std::fs::read(path).map_err(describe)
    }
}
