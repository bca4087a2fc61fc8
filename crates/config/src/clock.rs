//! The wall clock, read in one place, and the one way Palisade writes a time for machines
//! (audit entries, campaign records, JSON).

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A time as the log writes it (RFC 3339 UTC, seconds): such strings sort as times do.
pub fn format_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

/// Seconds since the epoch, unsigned (0 for a clock before 1970).
pub fn now_unsigned() -> u64 {
    now().max(0) as u64
}
