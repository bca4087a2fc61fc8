//! Message files as the commands read them: directories expanded into the files below
//! them, and a leading mbox `From ` line dropped.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use palisade_milter::client::{self, ParsedMessage};

/// Expands directories into the files below them, sorted.
pub fn expand_paths(paths: &[PathBuf]) -> Vec<Result<PathBuf, (PathBuf, std::io::Error)>> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(Ok(p.clone()));
            continue;
        }
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(p, &mut out),
            Ok(_) => out.push(Ok(p.clone())),
            Err(e) => out.push(Err((p.clone(), e))),
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<Result<PathBuf, (PathBuf, std::io::Error)>>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            out.push(Err((dir.to_path_buf(), e)));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk(&p, out);
        } else if p.is_file() {
            out.push(Ok(p));
        }
    }
}

/// Drops a leading mbox `From ` line, as files from mail archives carry one.
pub fn strip_mbox_line(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") {
        match raw.iter().position(|&b| b == b'\n') {
            Some(i) => &raw[i + 1..],
            None => &[],
        }
    } else {
        raw
    }
}

/// Reads and splits the bench's input messages.
pub(crate) fn load_messages(paths: &[PathBuf]) -> anyhow::Result<Vec<ParsedMessage>> {
    let mut out = Vec::new();
    for p in expand_paths(paths) {
        let path = p.map_err(|(path, e)| anyhow!("{}: {e}", path.display()))?;
        let raw =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        out.push(client::parse_message(strip_mbox_line(&raw)));
    }
    Ok(out)
}
