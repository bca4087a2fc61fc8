//! Socket addresses in Postfix's syntax: `inet:HOST:PORT`, `inet6:[ADDR]:PORT`, `unix:/path`.

use std::fmt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context};

/// Binds a unix socket at `path` with this mode and group. A socket file left by a
/// previous run is replaced; one that something still listens on, or a file that is not
/// a socket, is an error rather than something to clobber. `what` names the setting
/// for messages (`milter.socket_group`, `--group`).
pub fn bind_unix(
    path: &Path,
    mode: u32,
    group: Option<u32>,
    what: &str,
) -> anyhow::Result<UnixListener> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            bail!("{} exists and is not a socket", path.display());
        }
        if UnixStream::connect(path).is_ok() {
            bail!("{} is in use by another process", path.display());
        }
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove stale {}", path.display()))?;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            bail!(
                "cannot listen on {}: the directory {} does not exist (Debian's chrooted Postfix needs it under /var/spool/postfix; see docs/install.md)",
                path.display(),
                dir.display()
            );
        }
    }
    // The socket is made under a temporary name, given its group and mode, and only then
    // linked into place: nobody ever connects to it with the wrong permissions. A link,
    // unlike a rename, fails if something took the path meanwhile (another Palisade
    // starting at the same moment) instead of replacing it. A path too long for a
    // temporary name beside it is bound in place.
    let staged = staging_name(path);
    let at = match &staged {
        Some(tmp) => {
            if let Ok(meta) = std::fs::symlink_metadata(tmp) {
                if !meta.file_type().is_socket() || UnixStream::connect(tmp).is_ok() {
                    bail!(
                        "{} is in use or not a socket: another Palisade may be starting on {}",
                        tmp.display(),
                        path.display()
                    );
                }
                let _ = std::fs::remove_file(tmp);
            }
            tmp.as_path()
        }
        None => path,
    };
    let listener =
        UnixListener::bind(at).with_context(|| format!("cannot listen on {}", at.display()))?;
    let published = set_owner_and_mode(at, mode, group, what, path).and_then(|()| {
        if at != path {
            std::fs::hard_link(at, path).with_context(|| {
                format!(
                    "cannot put the socket in place at {} (in use by another process?)",
                    path.display()
                )
            })?;
        }
        Ok(())
    });
    if at != path || published.is_err() {
        let _ = std::fs::remove_file(at);
    }
    published?;
    Ok(listener)
}

/// `DIR/.NAME.new` beside `path`, when it fits in a socket address (108 bytes).
fn staging_name(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let tmp = path.with_file_name(format!(".{name}.new"));
    (tmp.as_os_str().len() < 108).then_some(tmp)
}

fn set_owner_and_mode(
    at: &Path,
    mode: u32,
    group: Option<u32>,
    what: &str,
    path: &Path,
) -> anyhow::Result<()> {
    if let Some(gid) = group {
        std::os::unix::fs::chown(at, None, Some(gid)).with_context(|| {
            format!(
                "cannot give {} to group {gid} ({what}): the user running Palisade must belong to it",
                path.display()
            )
        })?;
    }
    std::fs::set_permissions(at, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set mode {mode:o} on {}", path.display()))
}

/// Where a milter listens or a client connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketSpec {
    /// A TCP socket: host name or address, and port.
    Inet {
        /// Host name or IP address (without brackets).
        host: String,
        /// Port (0 lets the system choose, for tests).
        port: u16,
    },
    /// A unix-domain socket.
    Unix(PathBuf),
}

impl FromStr for SocketSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, rest) = s.split_once(':').ok_or_else(|| {
            format!("`{s}` is not inet:HOST:PORT, inet6:[ADDR]:PORT or unix:PATH")
        })?;
        match kind {
            "unix" | "local" => {
                if rest.is_empty() {
                    return Err(format!("`{s}`: empty socket path"));
                }
                Ok(SocketSpec::Unix(PathBuf::from(rest)))
            }
            "inet" | "inet6" => {
                let (host, port) = rest
                    .rsplit_once(':')
                    .ok_or_else(|| format!("`{s}`: missing :PORT"))?;
                let port = port
                    .parse::<u16>()
                    .map_err(|_| format!("`{s}`: `{port}` is not a port number"))?;
                let host = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host);
                if host.is_empty() {
                    return Err(format!("`{s}`: missing host"));
                }
                Ok(SocketSpec::Inet {
                    host: host.to_string(),
                    port,
                })
            }
            other => Err(format!(
                "`{s}`: unknown socket type `{other}` (use inet, inet6 or unix)"
            )),
        }
    }
}

impl fmt::Display for SocketSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketSpec::Inet { host, port } if host.contains(':') => {
                write!(f, "inet6:[{host}]:{port}")
            }
            SocketSpec::Inet { host, port } => write!(f, "inet:{host}:{port}"),
            SocketSpec::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_forms() {
        assert_eq!(
            "inet:127.0.0.1:8895".parse(),
            Ok(SocketSpec::Inet {
                host: "127.0.0.1".into(),
                port: 8895
            })
        );
        assert_eq!(
            "inet6:[::1]:8895".parse(),
            Ok(SocketSpec::Inet {
                host: "::1".into(),
                port: 8895
            })
        );
        assert_eq!(
            "unix:/run/palisade/milter.sock".parse(),
            Ok(SocketSpec::Unix("/run/palisade/milter.sock".into()))
        );
        for bad in [
            "",
            "127.0.0.1:8895",
            "inet:host",
            "inet::25",
            "tcp:x:1",
            "inet:h:99999",
            "unix:",
        ] {
            assert!(bad.parse::<SocketSpec>().is_err(), "{bad}");
        }
        let s: SocketSpec = "inet6:[::1]:25".parse().unwrap();
        assert_eq!(s.to_string(), "inet6:[::1]:25");
    }

    #[test]
    fn a_unix_socket_appears_with_its_mode_and_replaces_stale_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("milter.sock");
        // Stale sockets of a previous run, at the path and at the staging name.
        drop(UnixListener::bind(&path).unwrap());
        drop(UnixListener::bind(dir.path().join(".milter.sock.new")).unwrap());
        let listener = bind_unix(&path, 0o640, None, "test").unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["milter.sock"], "nothing but the socket is left");
        // The socket in place is the listening one.
        let _client = UnixStream::connect(&path).unwrap();
        listener.accept().unwrap();
        // In use: refused, and the listening socket stays.
        let err = bind_unix(&path, 0o640, None, "test").unwrap_err();
        assert!(err.to_string().contains("in use"), "{err:#}");
        assert!(UnixStream::connect(&path).is_ok());
    }

    #[test]
    fn a_live_or_foreign_staging_name_is_an_error_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("milter.sock");
        let staging = dir.path().join(".milter.sock.new");
        // Another start in progress holds the staging name.
        let other = UnixListener::bind(&staging).unwrap();
        let err = bind_unix(&path, 0o660, None, "test").unwrap_err();
        assert!(err.to_string().contains("another Palisade"), "{err:#}");
        assert!(UnixStream::connect(&staging).is_ok(), "left alone");
        assert!(!path.exists());
        drop(other);
        std::fs::remove_file(&staging).unwrap();
        std::fs::write(&staging, "not a socket").unwrap();
        let err = bind_unix(&path, 0o660, None, "test").unwrap_err();
        assert!(err.to_string().contains(".milter.sock.new"), "{err:#}");
        assert_eq!(std::fs::read_to_string(&staging).unwrap(), "not a socket");
    }

    #[test]
    fn a_path_with_no_room_for_a_staging_name_is_bound_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().as_os_str().len() + 1;
        // 107 bytes: the longest a socket address holds, with its terminating NUL.
        let path = dir.path().join("s".repeat(107 - base));
        assert!(staging_name(&path).is_none());
        let _listener = bind_unix(&path, 0o600, None, "test").unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
        let short = dir.path().join("m.sock");
        assert_eq!(
            staging_name(&short).unwrap(),
            dir.path().join(".m.sock.new")
        );
    }
}
