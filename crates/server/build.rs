//! Records the git commit the binary is built from, for `palisade --version`, the
//! startup log line and `palisade_build_info`. `PALISADE_GIT_COMMIT` in the environment
//! wins (a build from a source tarball, a distribution's package); without git the
//! commit is "unknown".

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    println!("cargo:rerun-if-env-changed=PALISADE_GIT_COMMIT");
    let commit = std::env::var("PALISADE_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            let mut c = git(&["rev-parse", "--short=12", "HEAD"])?;
            // Tracked files changed since that commit.
            if git(&["status", "--porcelain", "--untracked-files=no"]).is_some() {
                c.push_str("-modified");
            }
            Some(c)
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=PALISADE_GIT_COMMIT={commit}");
    // Rebuild when HEAD moves (a commit, a checkout).
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        let dir = Path::new(&dir);
        for f in ["HEAD", "index", "packed-refs"] {
            println!("cargo:rerun-if-changed={}", dir.join(f).display());
        }
        if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={}", dir.join(head).display());
        }
    }
}
