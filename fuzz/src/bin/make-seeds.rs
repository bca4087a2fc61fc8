//! Writes the seed corpora under fuzz/seeds from the repository's own test messages:
//! `cargo run -p palisade-fuzz --bin make-seeds`. The seeds are committed; rerun this
//! when the fixtures or the session shape change.
use std::path::{Path, PathBuf};

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for dir in ["tests/fixtures/messages", "tests/fixtures/bench"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        {
            if let (Some(name), Ok(bytes)) = (p.file_stem(), std::fs::read(&p)) {
                // Large seeds slow AFL down without teaching it anything new.
                if bytes.len() <= 16 << 10 {
                    out.push((name.to_string_lossy().into_owned(), bytes));
                }
            }
        }
    }
    out
}

fn write(target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), bytes)
}

fn main() -> std::io::Result<()> {
    let messages = fixtures();
    for (name, bytes) in &messages {
        for target in ["mime", "scan"] {
            write(target, name, bytes)?;
        }
        let mut session = vec![0u8];
        session.extend(palisade_fuzz::session_bytes(&[bytes]));
        write("milter_session", name, &session)?;
        write("milter_frames", name, &session[1..])?;
        let body = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n" || w.starts_with(b"\n\n"))
            .map_or(&bytes[..], |i| &bytes[i..]);
        write("normalize", name, &body[..body.len().min(4096)])?;
    }
    let two: Vec<&[u8]> = messages.iter().take(2).map(|(_, b)| &b[..]).collect();
    let mut session = vec![1u8];
    session.extend(palisade_fuzz::session_bytes(&two));
    write("milter_session", "two-messages-small-limits", &session)?;
    for (i, ar) in [
        "mx.county.test; spf=pass smtp.mailfrom=county.test",
        "(forged) mx.county.test; dmarc=pass",
        "\"mx.county.test\" 1; none",
        "(a (nested) comment) mx.county.test; dkim=fail header.d=x.test",
    ]
    .iter()
    .enumerate()
    {
        write("auth_results", &format!("ar-{i}"), ar.as_bytes())?;
    }
    write(
        "auth_results",
        "from-two-fields",
        b"From: Clerk <clerk@county.test>\r\nFrom: x@evil.test\r\n\r\n",
    )?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    write(
        "config",
        "default",
        &std::fs::read(root.join("config/palisade.toml"))?,
    )?;
    write(
        "config",
        "threats-pack",
        &std::fs::read(root.join("config/rules/threats.toml"))?,
    )?;
    Ok(())
}
