//! Writing state files safely: whole or not at all, and never through a link someone
//! else planted (the queue helper runs as root in directories it may not own).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;

/// Replaces `path` with `bytes` atomically: written to a fresh file beside it (created
/// exclusively, so an existing file or link of that name is never followed), synced,
/// then renamed over `path` (rename replaces a link itself, not its target).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let tmp = path.with_extension(format!("tmp.{}", hex::encode(suffix)));
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|_| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// A file root creates in the daemon's state directory goes to the directory's owner
/// (the daemon's user), so the daemon can use what `palisade user add` or a first start
/// as root made. Does nothing when not root.
pub fn give_to_dir_owner(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(meta) = std::fs::metadata(dir) {
        std::os::unix::fs::chown(path, Some(meta.uid()), Some(meta.gid()))
            .with_context(|| format!("cannot give {} to its directory's owner", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_never_follows_a_planted_link() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("victim");
        std::fs::write(&target, b"untouched").expect("write");
        let path = dir.path().join("state.json");
        std::os::unix::fs::symlink(&target, &path).expect("symlink");
        write_atomic(&path, b"{}", 0o600).expect("written");
        assert_eq!(std::fs::read(&target).expect("read"), b"untouched");
        assert_eq!(std::fs::read(&path).expect("read"), b"{}");
        assert!(!std::fs::symlink_metadata(&path)
            .expect("meta")
            .file_type()
            .is_symlink());
        let leftovers = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter(|e| {
                e.as_ref()
                    .map(|e| e.file_name().to_string_lossy().contains(".tmp."))
                    .unwrap_or(false)
            })
            .count();
        assert_eq!(leftovers, 0);
    }
}
