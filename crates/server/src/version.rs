//! What the build recorded (build.rs): the git commit, for `palisade --version`, the
//! startup log line and `palisade_build_info`.

/// The git commit the binary was built from ("unknown" when built without git).
pub const COMMIT: &str = env!("PALISADE_GIT_COMMIT");
