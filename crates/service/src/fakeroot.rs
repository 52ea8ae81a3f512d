//! Showing oscap the image's file owners when the scanner is not root.
//!
//! Why: a scan Job runs as non-root with every capability dropped, so it
//! cannot `chown` what it unpacks: every file of the scratch root is owned by
//! the scanner's uid, and rules such as "`/etc/shadow` is owned by root,
//! group `shadow`" (eight of the 44 rules of SSG's Debian 11 standard
//! profile) fail whatever the image says. The unpacker records the owners it
//! could not apply ([`imprimatur_registry::unpack::OwnerLedger`]); they are
//! written here as a `fakeroot` database, and oscap runs under `fakeroot -i
//! DB`, whose preloaded library answers `stat` with the recorded owner,
//! group and mode. No privilege is needed, and oscap's results are those of
//! a scan run as root on a root unpacked as root (checked rule by rule in the
//! integration tests).
//!
//! Without `fakeroot` installed the scan still runs, and says in its
//! limitations that owner rules judged the scanner's own uid.
//!
//! `fakeroot` is a shell script that starts a daemon (`faked`) beside the
//! command: oscap runs in its own process group, and a timeout or a dropped
//! scan kills the whole group, not only the script
//! ([`crate::process_group`]).

use std::path::{Path, PathBuf};

use imprimatur_registry::unpack::OwnerLedger;

use crate::error::{Error, Result};

/// Whether a scan of a root unpacked by this process needs the owners
/// recorded: it cannot apply them unless it runs as root.
pub(crate) fn owners_need_recording() -> bool {
    !rustix::process::geteuid().is_root()
}

/// Writes `ledger` as a fakeroot database in `dir` (the scan's results
/// directory, outside the scanned root); returns its path.
pub(crate) fn write_db(ledger: &OwnerLedger, dir: &Path) -> Result<PathBuf> {
    let path = dir.join("owners.fakeroot");
    let file = std::fs::File::create(&path).map_err(|e| Error::io("create", &path, e))?;
    ledger
        .write_fakeroot_db(std::io::BufWriter::new(file))
        .map_err(|e| Error::io("write", &path, e))?;
    Ok(path)
}

/// The scan limitation reported when owners were recorded but `fakeroot`
/// could not be found.
pub(crate) fn limitation_without_fakeroot(fakeroot: &Path) -> String {
    let uid = rustix::process::geteuid().as_raw();
    format!(
        "file owners: the scanner runs as uid {uid} and {} was not found, so every file of \
         the unpacked image is owned by uid {uid}; rules on file owners and groups judged \
         that, not the image (install fakeroot, or scan as root)",
        fakeroot.display()
    )
}

/// `program` as `Command::new` would find it: a path with a `/` as it is,
/// a bare name searched in `PATH`. `None` when there is no such file.
pub(crate) fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_in_path_or_as_given() {
        assert_eq!(
            find_program(Path::new("sh")).map(|p| p.is_file()),
            Some(true)
        );
        assert_eq!(find_program(Path::new("no-such-program-here")), None);
        assert_eq!(find_program(Path::new("/nonexistent/fakeroot")), None);
        assert_eq!(
            find_program(Path::new("/bin/sh")),
            Some(PathBuf::from("/bin/sh"))
        );
    }

    #[test]
    fn the_limitation_names_the_uid_and_the_missing_program() {
        let l = limitation_without_fakeroot(Path::new("/opt/fakeroot"));
        assert!(l.starts_with("file owners: "), "{l}");
        assert!(l.contains("/opt/fakeroot was not found"), "{l}");
        let uid = rustix::process::geteuid().as_raw().to_string();
        assert!(l.contains(&format!("uid {uid}")), "{l}");
    }
}
