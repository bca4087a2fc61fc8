//! Man pages and shell completions, generated from the command-line definitions
//! themselves (clap_mangen, clap_complete), so they never drift from the binary.
//! `palisade generate-assets DIR` writes them for packaging: `DIR/man/palisade.1`,
//! one page per subcommand (`palisade-quarantine-release.1`, …), and
//! `DIR/completions/{palisade.bash,_palisade,palisade.fish}`. The Debian package ships
//! the copies in deploy/debian (`generate-assets deploy/debian` refreshes them; a test
//! fails when they are stale).

use std::path::Path;

use anyhow::Context;
use clap_complete::Shell;

/// Writes every man page and completion file under `dir`; returns the files written.
pub fn generate(dir: &Path, cli: clap::Command) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut written = Vec::new();
    let man = dir.join("man");
    std::fs::create_dir_all(&man).with_context(|| format!("cannot create {}", man.display()))?;
    // The pages name the release only, not the commit: the copies committed in
    // deploy/debian change when the command line does, not with every commit.
    let mut cmd = cli.clone().version(env!("CARGO_PKG_VERSION"));
    cmd.build();
    pages(&cmd, "", &man, &mut written)?;
    let completions = dir.join("completions");
    std::fs::create_dir_all(&completions)
        .with_context(|| format!("cannot create {}", completions.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut cli.clone(), "palisade", &completions)
            .with_context(|| format!("cannot write {shell} completions"))?;
        written.push(path);
    }
    Ok(written)
}

/// Runs `palisade generate-assets DIR` for the command line `cli`.
pub fn main(dir: &Path, cli: clap::Command) -> std::process::ExitCode {
    match generate(dir, cli) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("palisade: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// One page for `cmd` (named after its path), then one for each subcommand.
fn pages(
    cmd: &clap::Command,
    parent: &str,
    dir: &Path,
    written: &mut Vec<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let name = if parent.is_empty() {
        cmd.get_name().to_string()
    } else {
        format!("{parent}-{}", cmd.get_name())
    };
    let page = cmd
        .clone()
        .name(name.clone())
        .bin_name(name.replace('-', " "));
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .with_context(|| format!("cannot render the page of {name}"))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        pages(sub, &name, dir, written)?;
    }
    Ok(())
}
