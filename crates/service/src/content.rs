//! Choosing SCAP content for an image: a datastream and profile given
//! explicitly, or chosen from the image's `/etc/os-release` among the SCAP
//! Security Guide datastreams installed (Debian's `ssg-*` packages put them
//! in `/usr/share/xml/scap/ssg/content/`). Not RHEL-only: Debian, Ubuntu,
//! RHEL and its rebuilds, Fedora, SLES and openSUSE map to SSG's names.
//!
//! `/etc/os-release` is read through `openat2(RESOLVE_IN_ROOT)`: in Debian it
//! is a symlink (`../usr/lib/os-release`), and an image could point it
//! anywhere; it is always resolved inside the image.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::error::{Error, Result};

/// Where Debian's (and Fedora's) SCAP Security Guide packages install content.
pub const DEFAULT_CONTENT_DIR: &str = "/usr/share/xml/scap/ssg/content";
/// The profile used when none is named (SSG's per-distribution baseline).
pub const DEFAULT_PROFILE: &str = "standard";
const PROFILE_PREFIX: &str = "xccdf_org.ssgproject.content_profile_";
/// Largest datastream read to list its profiles (SSG's are 10 to 100 MB).
/// Counted while reading, so a FIFO or `/dev/zero` named as content ends
/// in an error instead of filling memory.
pub const MAX_DATASTREAM_BYTES: u64 = 512 << 20;

/// The distribution an image says it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRelease {
    /// `ID` (`debian`, `ubuntu`, `rhel`, ...).
    pub id: String,
    /// `ID_LIKE`, split.
    pub id_like: Vec<String>,
    /// `VERSION_ID` (`11`, `22.04`, `9.3`).
    pub version_id: String,
    /// `PRETTY_NAME`.
    pub pretty_name: String,
}

impl OsRelease {
    /// Parses os-release text (`KEY=value`, values optionally quoted).
    pub fn parse(text: &str) -> OsRelease {
        let mut map = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                    .unwrap_or(v);
                map.insert(k.trim().to_owned(), v.replace("\\\"", "\""));
            }
        }
        let get = |k: &str| map.get(k).cloned().unwrap_or_default();
        OsRelease {
            id: get("ID").to_ascii_lowercase(),
            id_like: get("ID_LIKE")
                .split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect(),
            version_id: get("VERSION_ID"),
            pretty_name: get("PRETTY_NAME"),
        }
    }

    /// Reads `etc/os-release` (else `usr/lib/os-release`) of a root
    /// filesystem, resolving every link inside it.
    pub fn read_from_root(root: &Path) -> Result<OsRelease> {
        let dir = rustix::fs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::io("open", root, e.into()))?;
        for name in ["etc/os-release", "usr/lib/os-release"] {
            let opened = rustix::fs::openat2(
                &dir,
                name,
                OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            );
            let Ok(fd) = opened else { continue };
            let mut text = String::new();
            std::fs::File::from(fd)
                .take(64 << 10)
                .read_to_string(&mut text)
                .map_err(|e| Error::io("read", root.join(name), e))?;
            return Ok(OsRelease::parse(&text));
        }
        Err(Error::Content(format!(
            "{} has no etc/os-release or usr/lib/os-release: name the datastream and profile",
            root.display()
        )))
    }

    /// SSG's product names for this distribution, most specific first
    /// (`debian11`; `ubuntu2204`; `rhel9`; `sle15`; `fedora`).
    pub fn ssg_products(&self) -> Vec<String> {
        let major = self.version_id.split('.').next().unwrap_or_default();
        // ID_LIKE only when the distribution itself is unknown to SSG.
        let own = products_of(&self.id, major, &self.version_id);
        if !own.is_empty() {
            return own;
        }
        let mut out = Vec::new();
        for id in &self.id_like {
            for n in products_of(id, major, &self.version_id) {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }
}

/// SSG product names for one distribution id.
fn products_of(id: &str, major: &str, version_id: &str) -> Vec<String> {
    if major.is_empty() && id != "fedora" {
        return Vec::new();
    }
    match id {
        "debian" => vec![format!("debian{major}")],
        "ubuntu" => vec![format!("ubuntu{}", version_id.replace('.', ""))],
        "rhel" => vec![format!("rhel{major}")],
        "centos" | "rocky" | "almalinux" | "ol" => {
            vec![format!("{id}{major}"), format!("rhel{major}")]
        }
        "fedora" => vec!["fedora".into()],
        "sles" | "sled" | "sle" => vec![format!("sle{major}")],
        "opensuse-leap" | "opensuse" => vec!["opensuse".into(), format!("sle{major}")],
        _ => Vec::new(),
    }
}

/// The content a scan uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenContent {
    /// The datastream file.
    pub datastream: PathBuf,
    /// The full XCCDF profile id.
    pub profile: String,
    /// How it was chosen, for people (`debian 11 -> ssg-debian11-ds.xml`).
    pub why: String,
}

/// Chooses the datastream and profile: explicit ones win; otherwise the
/// image's distribution picks `ssg-<product>-ds.xml` in `content_dir`.
pub fn choose(
    root: &Path,
    content_dir: &Path,
    datastream: Option<&Path>,
    profile: Option<&str>,
) -> Result<ChosenContent> {
    let (datastream, why) = match datastream {
        Some(ds) => {
            if !ds.is_file() {
                return Err(Error::Content(format!(
                    "datastream {} does not exist",
                    ds.display()
                )));
            }
            (
                ds.to_owned(),
                format!("datastream {} as given", ds.display()),
            )
        }
        None => {
            let os = OsRelease::read_from_root(root)?;
            let products = os.ssg_products();
            let candidates: Vec<PathBuf> = products
                .iter()
                .map(|p| content_dir.join(format!("ssg-{p}-ds.xml")))
                .collect();
            let found = candidates
                .iter()
                .find(|c| c.is_file())
                .cloned()
                .ok_or_else(|| {
                    Error::Content(format!(
                        "no SCAP content for {} (ID={} VERSION_ID={}): looked for {} \
                     (install the distribution's ssg package, or give --datastream and --profile)",
                        if os.pretty_name.is_empty() {
                            "the image"
                        } else {
                            &os.pretty_name
                        },
                        os.id,
                        os.version_id,
                        if candidates.is_empty() {
                            format!("a known distribution id in {}", content_dir.display())
                        } else {
                            candidates
                                .iter()
                                .map(|c| c.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ))
                })?;
            let why = format!(
                "{} {} -> {}",
                os.id,
                os.version_id,
                found
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            );
            (found, why)
        }
    };
    let profiles = profiles_in(&datastream)?;
    let wanted = profile.unwrap_or(DEFAULT_PROFILE);
    let full = if wanted.starts_with("xccdf_") {
        wanted.to_owned()
    } else {
        format!("{PROFILE_PREFIX}{wanted}")
    };
    if !profiles.iter().any(|p| p == &full) {
        return Err(Error::Content(format!(
            "profile {full} is not in {} (profiles: {})",
            datastream.display(),
            profiles
                .iter()
                .map(|p| p.strip_prefix(PROFILE_PREFIX).unwrap_or(p))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(ChosenContent {
        datastream,
        profile: full,
        why,
    })
}

/// The bytes of `path`, at most `limit` of them.
fn read_datastream(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", path, e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::Content(format!(
            "{}: larger than {limit} bytes, not read as a datastream",
            path.display()
        )));
    }
    Ok(bytes)
}

/// The XCCDF profile ids a datastream declares (`<…Profile id="…"`), found
/// by scanning the bytes: a datastream is tens of MB and only ids are needed.
pub fn profiles_in(datastream: &Path) -> Result<Vec<String>> {
    let bytes = read_datastream(datastream, MAX_DATASTREAM_BYTES)?;
    let mut out = Vec::new();
    for needle in [&b"Profile id=\""[..], &b"Profile\n id=\""[..]] {
        for at in memchr::memmem::find_iter(&bytes, needle) {
            let start = at + needle.len();
            let Some(len) = memchr::memchr(b'"', &bytes[start..]) else {
                continue;
            };
            let id = String::from_utf8_lossy(&bytes[start..start + len]).into_owned();
            if id.starts_with("xccdf_") && !out.contains(&id) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_maps_to_ssg_products() {
        let deb = OsRelease::parse(
            "PRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\nID=debian\nVERSION_ID=\"11\"\n",
        );
        assert_eq!(deb.ssg_products(), ["debian11"]);
        let ubu = OsRelease::parse("ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\n");
        assert_eq!(ubu.ssg_products(), ["ubuntu2204"]);
        let mint = OsRelease::parse("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_ID=\"21\"\n");
        assert_eq!(mint.ssg_products(), ["ubuntu21", "debian21"]);
        let rocky =
            OsRelease::parse("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n");
        assert_eq!(
            rocky.ssg_products()[..2],
            ["rocky9".to_owned(), "rhel9".to_owned()]
        );
        assert!(
            OsRelease::parse("ID=alpine\nVERSION_ID=3.19.0\n")
                .ssg_products()
                .is_empty()
        );
    }

    #[test]
    fn os_release_symlinks_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::fs::write(
            root.join("usr/lib/os-release"),
            "ID=debian\nVERSION_ID=\"11\"\n",
        )
        .unwrap();
        // Absolute, as if the image were the whole machine: must stay inside.
        std::os::unix::fs::symlink("/usr/lib/os-release", root.join("etc/os-release")).unwrap();
        assert_eq!(OsRelease::read_from_root(&root).unwrap().version_id, "11");
        // Pointing outside with ../: still resolved inside (and missing there).
        let outside = dir.path().join("host-os-release");
        std::fs::write(&outside, "ID=evil\n").unwrap();
        std::fs::remove_file(root.join("etc/os-release")).unwrap();
        std::os::unix::fs::symlink("../../host-os-release", root.join("etc/os-release")).unwrap();
        let os = OsRelease::read_from_root(&root).unwrap();
        assert_eq!(
            os.id, "debian",
            "fell back to usr/lib/os-release, never read the host file"
        );
    }

    #[test]
    fn missing_content_names_what_was_looked_for() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/os-release"),
            "PRETTY_NAME=\"Debian 99\"\nID=debian\nVERSION_ID=99\n",
        )
        .unwrap();
        let e = choose(dir.path(), Path::new("/nonexistent/content"), None, None).unwrap_err();
        assert!(matches!(e, Error::Content(_)));
        assert!(
            e.to_string()
                .contains("/nonexistent/content/ssg-debian99-ds.xml"),
            "{e}"
        );
    }

    #[test]
    fn profiles_are_found_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let ds = dir.path().join("ds.xml");
        std::fs::write(&ds, r#"<ds><xccdf-1.2:Profile id="xccdf_org.ssgproject.content_profile_standard"/><Profile id="xccdf_org.ssgproject.content_profile_anssi_np_nt28_minimal"></Profile></ds>"#).unwrap();
        let c = choose(dir.path(), dir.path(), Some(&ds), None).unwrap();
        assert_eq!(c.profile, "xccdf_org.ssgproject.content_profile_standard");
        let e = choose(dir.path(), dir.path(), Some(&ds), Some("cis")).unwrap_err();
        assert!(
            e.to_string().contains("standard, anssi_np_nt28_minimal"),
            "{e}"
        );
    }

    /// Bounded by what is read, not by the file's size: `/dev/zero` has
    /// length 0 and never ends.
    #[test]
    fn datastream_reads_are_bounded() {
        let e = read_datastream(Path::new("/dev/zero"), 1 << 16).unwrap_err();
        assert!(matches!(e, Error::Content(_)), "{e:?}");
        assert!(e.to_string().contains("larger than 65536 bytes"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let ds = dir.path().join("ds.xml");
        std::fs::write(&ds, [b'x'; 16]).unwrap();
        assert_eq!(read_datastream(&ds, 16).unwrap().len(), 16);
        assert!(read_datastream(&ds, 15).is_err());
    }
}
