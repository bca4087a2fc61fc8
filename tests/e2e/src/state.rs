//! State directories for daemons under test (campaign key and store, review database),
//! so tests never share state with each other or with /var/lib/palisade.
//!
//! A daemon may outlive the test function that started it, so a directory is not removed
//! when the function returns. Instead every directory of one test process lives under
//! `$TMPDIR/palisade-state-PID/`, which the process holds locked (`flock`) while it runs.
//! The first test of a later process removes the directories whose process is gone and
//! whose lock is free: at most the last run's are left behind. Both are checked, so that
//! neither a reused pid nor a process in another pid namespace sharing `$TMPDIR` loses
//! a live directory.
//!
//! Used by the daemon crate's own tests too (through `#[path]`): std and tempfile only.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const PREFIX: &str = "palisade-state-";

/// A fresh, empty state directory.
pub fn state_dir() -> PathBuf {
    // The directory's open handle keeps its lock for the life of the process.
    static PARENT: OnceLock<(PathBuf, Option<File>)> = OnceLock::new();
    let (parent, _lock) = PARENT.get_or_init(|| {
        let tmp = std::env::temp_dir();
        sweep(&tmp);
        let p = tmp.join(format!("{PREFIX}{}", std::process::id()));
        let _ = std::fs::create_dir_all(&p);
        let lock = File::open(&p).ok().filter(|f| f.try_lock().is_ok());
        (p, lock)
    });
    match tempfile::Builder::new().prefix("d-").tempdir_in(parent) {
        Ok(d) => d.keep(),
        Err(e) => panic!(
            "cannot create a state directory in {}: {e}",
            parent.display()
        ),
    }
}

/// Removes `palisade-state-PID` directories whose process is gone and whose lock is
/// free.
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
        if pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        let Ok(dir) = File::open(entry.path()) else {
            continue;
        };
        if dir.try_lock().is_ok() {
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
        let held = tmp.path().join(format!("{PREFIX}4194306"));
        let live = tmp.path().join(format!("{PREFIX}1"));
        let other = tmp.path().join(format!("{PREFIX}abcdef"));
        for d in [&dead, &held, &live, &other] {
            std::fs::create_dir_all(d.join("d-x")).unwrap();
        }
        // Held by another process, as one in another pid namespace would hold it. Not
        // by this one: a child that another test forks meanwhile shares this process's
        // open files until it execs, and would keep a lock of ours alive after we drop it.
        let mut holder = std::process::Command::new("flock")
            .arg("-o")
            .arg(&held)
            .args(["-c", "echo locked; exec cat"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("flock(1) from util-linux");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "locked");
        sweep(tmp.path());
        assert!(!dead.exists());
        assert!(held.exists(), "its lock is held");
        assert!(live.exists(), "pid 1 is alive");
        assert!(other.exists(), "not a pid: not ours to remove");
        // cat ends at end of input, then flock, and with it the lock.
        drop(holder.stdin.take());
        assert!(holder.wait().unwrap().success());
        sweep(tmp.path());
        assert!(!held.exists(), "the lock was given back");
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
