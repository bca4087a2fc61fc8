//! Configuration loading, validation and the `config` and `check` commands.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use palisade_config::{Config, Mode, OnError, Sources};

fn shipped() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/palisade.toml")
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
}

#[test]
fn the_shipped_file_is_the_embedded_defaults() {
    let defaults = Config::load(&Sources::default()).unwrap();
    let from_file = Config::load(&Sources {
        file: Some(shipped()),
        env: Vec::new(),
    })
    .unwrap();
    assert_eq!(defaults.to_toml(), from_file.to_toml());
    assert_eq!(defaults.milter.listen, "inet:127.0.0.1:8895");
    assert_eq!(defaults.milter.on_error, OnError::Tempfail);
    assert_eq!(defaults.policy.reject, 0.0);
    assert_eq!(defaults.policy.mode, Mode::Enforce);
}

#[test]
fn an_empty_state_dir_is_chosen_for_whoever_runs_palisade() {
    use palisade_config::{default_state_dir, StateDirSource};
    use std::path::Path;
    let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let home = || Some(PathBuf::from("/home/from-passwd"));
    let writable = |_: &Path| true;
    let readonly = |_: &Path| false;
    let user = env(&[("HOME", "/home/ann")]);
    // systemd's StateDirectory= wins, the first of several.
    assert_eq!(
        default_state_dir(
            &env(&[
                ("STATE_DIRECTORY", "/var/lib/palisade:/var/lib/other"),
                ("HOME", "/home/ann")
            ]),
            readonly,
            home
        ),
        Some((PathBuf::from("/var/lib/palisade"), StateDirSource::Systemd))
    );
    // Not writable: the user's own directory, XDG_STATE_HOME first, then HOME, then the
    // password database; relative values are ignored.
    assert_eq!(
        default_state_dir(&user, readonly, home),
        Some((
            PathBuf::from("/home/ann/.local/state/palisade"),
            StateDirSource::User
        ))
    );
    assert_eq!(
        default_state_dir(
            &env(&[("XDG_STATE_HOME", "/srv/state"), ("HOME", "/home/ann")]),
            readonly,
            home
        ),
        Some((PathBuf::from("/srv/state/palisade"), StateDirSource::User))
    );
    assert_eq!(
        default_state_dir(
            &env(&[("XDG_STATE_HOME", "rel"), ("HOME", "rel")]),
            readonly,
            home
        ),
        Some((
            PathBuf::from("/home/from-passwd/.local/state/palisade"),
            StateDirSource::User
        ))
    );
    assert_eq!(default_state_dir(&[], readonly, || None), None);
    // Where this process may write /var/lib/palisade (or create it), the system's.
    let system = Path::new("/var/lib/palisade");
    if !system.exists() || system.is_dir() {
        assert_eq!(
            default_state_dir(&user, writable, home),
            Some((system.to_path_buf(), StateDirSource::System))
        );
    }
    // A configured directory stays as it is.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    std::fs::write(&file, "[state]\ndir = \"/srv/palisade\"\n").unwrap();
    let c = Config::load(&Sources {
        file: Some(file),
        env: Vec::new(),
    })
    .unwrap();
    assert_eq!(c.state.dir, PathBuf::from("/srv/palisade"));
    assert_eq!(c.state.dir_source, StateDirSource::Configured);
}

#[test]
fn environment_overrides_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    std::fs::write(&file, "[policy]\ntag = 4.0\nmode = \"shadow\"\n").unwrap();
    let c = Config::load(&Sources {
        file: Some(file),
        env: vec![
            ("PALISADE__POLICY__TAG".into(), "6.5".into()),
            (
                "PALISADE__POLICY__TRUSTED_NETWORKS".into(),
                "10.0.0.0/8,192.0.2.7".into(),
            ),
            ("PALISADE__MILTER__LISTEN".into(), "unix:/run/p.sock".into()),
            ("UNRELATED".into(), "x".into()),
        ],
    })
    .unwrap();
    assert_eq!(c.policy.tag, 6.5);
    assert_eq!(c.policy.mode, Mode::Shadow);
    assert_eq!(c.policy.trusted_networks, vec!["10.0.0.0/8", "192.0.2.7"]);
    assert_eq!(c.trusted_networks().len(), 2);
    assert_eq!(c.milter.listen, "unix:/run/p.sock");
    let c = Config::load(&Sources {
        file: None,
        env: vec![("PALISADE__POLICY__TRUSTED_NETWORKS".into(), "".into())],
    })
    .unwrap();
    assert!(c.policy.trusted_networks.is_empty());
}

#[test]
fn every_error_is_reported_at_once_with_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        r#"
[milter]
listen = "tcp:nowhere"
max_connections = "many"
colour = "blue"

[policy]
tag = 12.0
quarantine = 10.0
mode = "loud"
trusted_networks = ["300.1.2.3/8"]

[nonsense]
x = 1
"#,
    )
    .unwrap();
    let err = Config::load(&Sources {
        file: Some(file.clone()),
        env: vec![("PALISADE__DNS__TIMEOUT".into(), "soon".into())],
    })
    .unwrap_err();
    let keys: Vec<&str> = err.issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "dns.timeout",
            "milter.colour",
            "milter.max_connections",
            "nonsense",
            "policy.mode"
        ],
        "{err}"
    );
    let file_name = file.display().to_string();
    assert_eq!(err.issues[1].origin, file_name, "{err}");
    assert_eq!(err.issues[3].origin, file_name, "{err}");
    assert_eq!(err.issues[0].origin, "environment", "{err}");
    // Type errors fixed, the value errors show up, all together.
    std::fs::write(
        &file,
        "[milter]\nlisten = \"tcp:nowhere\"\n[policy]\ntag = 12.0\nquarantine = 10.0\ntrusted_networks = [\"300.1.2.3/8\"]\n",
    )
    .unwrap();
    let err = Config::load(&Sources {
        file: Some(file.clone()),
        env: Vec::new(),
    })
    .unwrap_err();
    let keys: Vec<&str> = err.issues.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "milter.listen",
            "policy.quarantine",
            "policy.trusted_networks"
        ],
        "{err}"
    );
    assert!(err.issues.iter().all(|i| i.origin == file_name), "{err}");
}

#[test]
fn config_commands_and_exit_codes() {
    let out = bin()
        .args(["config", "check", "--config"])
        .arg(shipped())
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = bin().args(["config", "show"]).output().unwrap();
    assert!(out.status.success());
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(
        shown.contains("listen = \"inet:127.0.0.1:8895\""),
        "{shown}"
    );
    // What `show` prints is itself a valid configuration.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shown.toml");
    std::fs::write(&file, &shown).unwrap();
    assert!(bin()
        .args(["config", "check", "--config"])
        .arg(&file)
        .status()
        .unwrap()
        .success());

    std::fs::write(&file, "[policy]\ntag = \"high\"\n[milter]\nfoo = 1\n").unwrap();
    let out = bin()
        .args(["config", "check", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("2 configuration errors"), "{err}");
    assert!(
        err.contains("policy.tag") && err.contains("milter.foo"),
        "{err}"
    );

    let out = bin()
        .args(["config", "check", "--config", "/nonexistent/palisade.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let out = bin().args(["serve", "--bogus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin()
        .env("PALISADE__POLICY__MODE", "loud")
        .args(["serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
}

#[test]
fn check_scores_files_directories_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.eml"),
        "From x@y Mon Jan 1 00:00:00 2024\nSubject: a\n\nhello\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/b.eml"), "Subject: b\n\nhello\n").unwrap();
    let out = bin()
        .args(["check", "--json", "--offline"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert_eq!(l["action"], "accept");
        assert_eq!(l["auth"]["dmarc"], "none");
        assert!(l["symbols"].is_array());
    }
    assert!(lines[1]["path"].as_str().unwrap().ends_with("sub/b.eml"));

    let mut child = bin()
        .args(["check", "--offline", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Subject: s\n\nx\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("-: accept"));

    let out = bin()
        .args(["check", "--offline", "/nonexistent/file.eml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn extra_rule_packs_load_and_broken_ones_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("local.toml");
    std::fs::write(
        &pack,
        "[[rule]]\nname = \"LOCAL_NAME\"\ncategory = \"threat\"\nscore = 11.0\ndescription = \"local\"\nphrases = [\"the bridge is out\"]\n",
    )
    .unwrap();
    let msg = dir.path().join("m.eml");
    std::fs::write(&msg, "Subject: x\n\nWarning: the bridge is out.\n").unwrap();
    let glob = format!("{}/*.toml", dir.path().display());
    let out = bin()
        .env("PALISADE__RULES__PATHS", &glob)
        .args(["check", "--json", "--offline"])
        .arg(&msg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["action"], "quarantine");
    assert_eq!(v["symbols"][0]["name"], "LOCAL_NAME");
    assert_eq!(v["symbols"][0]["detail"], "\"the bridge is out\"");

    std::fs::write(
        &pack,
        "[[rule]]\nname = \"LOCAL_NAME\"\ncategory = \"weather\"\nscore = 1.0\ndescription = \"d\"\nphrases = [\"x\"]\n",
    )
    .unwrap();
    let out = bin()
        .env("PALISADE__RULES__PATHS", &glob)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("local.toml: rule LOCAL_NAME: unknown category `weather`"),
        "{err}"
    );
    let out = bin()
        .env("PALISADE__RULES__PATHS", "/nonexistent/*.toml")
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("matches no file"));
}

#[test]
fn the_packs_copied_to_files_judge_as_the_built_in_ones() {
    // The Debian package compiles its copies in /etc/palisade/rules instead of the
    // built-in packs (`rules.builtin = false`): the same files give the same verdicts.
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let rules = format!("{}/config/rules/*.toml", repo.display());
    let mut messages: Vec<PathBuf> = std::fs::read_dir(repo.join("tests/fixtures/messages"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    messages.sort();
    assert!(messages.len() >= 20);
    let judge = |builtin: bool| {
        let mut cmd = bin();
        if !builtin {
            cmd.env("PALISADE__RULES__BUILTIN", "false")
                .env("PALISADE__RULES__PATHS", &rules);
        }
        let out = cmd
            .args(["check", "--json", "--offline"])
            .args(&messages)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Each verdict without its timing.
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("elapsed_us");
                v
            })
            .collect::<Vec<_>>()
    };
    let from_files = judge(false);
    assert_eq!(judge(true), from_files);
    assert_eq!(from_files.len(), messages.len());
    assert!(from_files.iter().any(|v| v["action"] == "quarantine"));

    // Neither built-in packs nor files: nothing to judge with, a configuration error.
    let out = bin()
        .env("PALISADE__RULES__BUILTIN", "false")
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no rule pack"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn recipient_domain_thresholds_and_sender_lists() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("p.toml");
    std::fs::write(
        &conf,
        r#"
[policy]
deny_senders = ["@spam.example"]
allow_senders = ["partner.example"]
deny_ips = ["198.51.100.0/24"]

[policy.recipient_domains."elections.example"]
tag = 3.0
quarantine = 4.0

# The message below must score exactly its one rule (4.0) for these thresholds.
[scores]
THREAT_MODEL = 0.0
"#,
    )
    .unwrap();
    let msg = dir.path().join("m.eml");
    std::fs::write(
        &msg,
        "From: Someone <a@else.example>\nSubject: hi\n\nYou will regret this.\n",
    )
    .unwrap();
    let check = |extra: &[&str]| -> serde_json::Value {
        let out = bin()
            .args(["check", "--json", "--offline", "--config"])
            .arg(&conf)
            .args(extra)
            .arg(&msg)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // THREAT_PASSIVE_WEAK (4.0): below the global tag threshold, quarantined for the office.
    assert_eq!(
        check(&["--rcpt", "clerk@other.example"])["action"],
        "accept"
    );
    assert_eq!(
        check(&["--rcpt", "clerk@elections.example"])["action"],
        "quarantine"
    );
    assert_eq!(
        check(&["--rcpt", "a@other.example", "--rcpt", "b@elections.example"])["action"],
        "quarantine"
    );
    let v = check(&["--mail-from", "bulk@spam.example"]);
    assert_eq!(v["action"], "quarantine");
    assert!(v.to_string().contains("POLICY_DENY_SENDER"));
    let v = check(&["--client-ip", "198.51.100.9"]);
    assert!(v.to_string().contains("POLICY_DENY_IP"));

    std::fs::write(
        &msg,
        "From: Partner <news@partner.example>\nSubject: hi\n\nYou will regret this.\n",
    )
    .unwrap();
    // Offline there is no DMARC to prove the sender: the allow entry is not honoured.
    let v = check(&[]);
    assert!(
        v.to_string().contains("POLICY_ALLOW_UNAUTHENTICATED"),
        "{v}"
    );
    assert_eq!(v["score"], 4.0);

    std::fs::write(
        &conf,
        "[policy.recipient_domains.\"x.example\"]\ntag = 9.0\nquarantine = 8.0\n[policy]\ndeny_ips = [\"nope\"]\nexternal_header = true\n",
    )
    .unwrap();
    let out = bin()
        .args(["config", "check", "--config"])
        .arg(&conf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("policy.recipient_domains.x.example"), "{err}");
    assert!(err.contains("policy.deny_ips"), "{err}");
    assert!(err.contains("needs [protect] domains"), "{err}");
}

#[test]
fn quarantine_without_postfix_says_so() {
    let out = bin()
        .env("PATH", "/nonexistent")
        .args(["quarantine", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("postqueue not found: is Postfix installed"),
        "{err}"
    );
    let out = bin()
        .env("PATH", "/nonexistent")
        .args(["quarantine", "release", "../etc"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a Postfix queue id"));
}

#[test]
fn version_names_the_git_commit() {
    let out = bin().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git (the tests run in a clone)");
    let head = String::from_utf8(head.stdout).unwrap();
    assert_eq!(head.trim().len(), 12, "not a git checkout?");
    assert!(
        text.starts_with(&format!(
            "palisade {} (commit {}",
            env!("CARGO_PKG_VERSION"),
            head.trim()
        )),
        "{text}"
    );
    // Every subcommand says the same.
    let sub = bin().args(["campaign", "--version"]).output().unwrap();
    assert!(String::from_utf8(sub.stdout).unwrap().contains(head.trim()));
}

#[test]
fn man_pages_and_completions_come_from_the_cli_itself() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("generate-assets")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let man = dir.path().join("man");
    // One page for the command and for every subcommand, at every level.
    for page in [
        "palisade",
        "palisade-serve",
        "palisade-check",
        "palisade-config-check",
        "palisade-quarantine-release",
        "palisade-quarantine-helper",
        "palisade-user-add",
        "palisade-audit-verify",
        "palisade-campaign-show",
        "palisade-bench",
    ] {
        let path = man.join(format!("{page}.1"));
        let rendered = std::process::Command::new("man")
            .arg("-l")
            .arg(&path)
            .env("MANWIDTH", "100")
            .output()
            .expect("man (tests/run installs man-db)");
        assert!(rendered.status.success(), "{page}");
        // Overstrike (bold as X, backspace, X) undone.
        let mut text = String::new();
        for c in String::from_utf8_lossy(&rendered.stdout).chars() {
            if c == '\u{8}' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        assert!(
            text.contains("NAME") && text.contains("SYNOPSIS"),
            "{page}: {text}"
        );
        assert!(
            !String::from_utf8_lossy(&rendered.stderr).contains("warning"),
            "{page}"
        );
    }
    // The hidden packaging command has no page of its own.
    assert!(!man.join("palisade-generate-assets.1").exists());
    let page = std::fs::read_to_string(man.join("palisade-campaign-show.1")).unwrap();
    assert!(page.contains("\\-\\-json"), "{page}");
    // Completions for bash, zsh and fish; bash's loads and registers.
    let completions = dir.path().join("completions");
    for f in ["palisade.bash", "_palisade", "palisade.fish"] {
        let text = std::fs::read_to_string(completions.join(f)).unwrap();
        assert!(text.contains("campaign"), "{f}");
    }
    let bash = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p palisade",
            completions.join("palisade.bash").display()
        ))
        .output()
        .unwrap();
    assert!(
        bash.status.success(),
        "{}",
        String::from_utf8_lossy(&bash.stderr)
    );
    assert!(String::from_utf8_lossy(&bash.stdout).contains("palisade"));

    // The package ships the copies committed in deploy/debian (so that `cargo deb`
    // needs no step of its own): they are exactly what this binary generates.
    let committed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/debian");
    let listing = |root: &std::path::Path| {
        let mut files = Vec::new();
        for sub in ["man", "completions"] {
            for entry in std::fs::read_dir(root.join(sub)).unwrap() {
                let path = entry.unwrap().path();
                files.push((
                    format!("{sub}/{}", path.file_name().unwrap().to_string_lossy()),
                    std::fs::read(&path).unwrap(),
                ));
            }
        }
        files.sort();
        files
    };
    let (generated, shipped) = (listing(dir.path()), listing(&committed));
    let names = |l: &[(String, Vec<u8>)]| l.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&generated),
        names(&shipped),
        "deploy/debian is stale: run `cargo run -p palisade -- generate-assets deploy/debian`"
    );
    for ((name, new), (_, old)) in generated.iter().zip(&shipped) {
        assert!(
            new == old,
            "deploy/debian/{name} is stale: run `cargo run -p palisade -- generate-assets deploy/debian`"
        );
    }
}
