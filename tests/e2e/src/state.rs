//! State directories for daemons under test (campaign key and store, review database),
//! so tests never share state with each other or with /var/lib/palisade.
//!
//! A daemon may outlive the test function that started it, so a directory is not removed
//! when the function returns. Instead every directory of one test process lives under
//! `$TMPDIR/palisade-state-PID/`, and the first test of a later process removes the
//! directories of processes that have exited: at most the last run's are left behind.
//!
//! Used by the daemon crate's own tests too (through `#[path]`): std and tempfile only.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const PREFIX: &str = "palisade-state-";

/// A fresh, empty state directory.
pub fn state_dir() -> PathBuf {
    static PARENT: OnceLock<PathBuf> = OnceLock::new();
    let parent = PARENT.get_or_init(|| {
        sweep(&std::env::temp_dir());
        let p = std::env::temp_dir().join(format!("{PREFIX}{}", std::process::id()));
        let _ = std::fs::create_dir_all(&p);
        p
    });
    match tempfile::Builder::new().prefix("d-").tempdir_in(parent) {
        Ok(d) => d.keep(),
        Err(e) => panic!(
            "cannot create a state directory in {}: {e}",
            parent.display()
        ),
    }
}

/// Removes `palisade-state-PID` directories whose process is gone.
fn sweep(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn directories_of_exited_processes_are_swept_and_live_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        // A pid above the kernel's limit (4,194,304) never names a live process.
        let dead = tmp.path().join(format!("{PREFIX}4194305"));
        let live = tmp.path().join(format!("{PREFIX}1"));
        let other = tmp.path().join(format!("{PREFIX}abcdef"));
        for d in [&dead, &live, &other] {
            std::fs::create_dir_all(d.join("d-x")).unwrap();
        }
        sweep(tmp.path());
        assert!(!dead.exists());
        assert!(live.exists(), "pid 1 is alive");
        assert!(other.exists(), "not a pid: not ours to remove");
    }

    #[test]
    fn each_call_gives_a_new_empty_directory_under_this_process() {
        let a = state_dir();
        let b = state_dir();
        assert_ne!(a, b);
        for d in [&a, &b] {
            assert!(std::fs::read_dir(d).unwrap().next().is_none());
            let parent = d.parent().unwrap().file_name().unwrap().to_str().unwrap();
            assert_eq!(parent, format!("{PREFIX}{}", std::process::id()));
        }
    }
}
