//! Authentication results as symbols, with rspamd's names so that admins recognise them.

use palisade_report::{AuthReport, AuthResult, DmarcPolicy};

use crate::verdict::Symbol;

/// Every symbol this module can produce with its default score.
pub const DEFAULTS: &[(&str, f64)] = &[
    ("R_SPF_ALLOW", -0.2),
    ("R_SPF_FAIL", 1.0),
    ("R_SPF_SOFTFAIL", 0.5),
    ("R_SPF_NEUTRAL", 0.0),
    ("R_SPF_NA", 0.0),
    ("R_SPF_DNSFAIL", 0.0),
    ("R_SPF_PERMFAIL", 0.0),
    ("R_DKIM_ALLOW", -0.2),
    ("R_DKIM_REJECT", 1.0),
    ("R_DKIM_TEMPFAIL", 0.0),
    ("R_DKIM_PERMFAIL", 0.0),
    ("R_DKIM_NA", 0.0),
    ("DMARC_POLICY_ALLOW", -0.5),
    ("DMARC_POLICY_REJECT", 4.0),
    ("DMARC_POLICY_QUARANTINE", 2.5),
    ("DMARC_POLICY_SOFTFAIL", 0.5),
    ("DMARC_NA", 0.0),
    ("DMARC_DNSFAIL", 0.0),
    ("DMARC_BAD_POLICY", 0.0),
    ("DMARC_ARC_OVERRIDE", 0.0),
    ("ARC_ALLOW", -0.1),
    ("ARC_REJECT", 1.0),
    ("ARC_INVALID", 0.5),
    ("ARC_DNSFAIL", 0.0),
    ("ARC_NA", 0.0),
];

fn sym(name: &str, detail: String) -> Symbol {
    Symbol::from_table(DEFAULTS, name, "auth", detail)
}

/// Symbols for a report; none when authentication did not run.
pub fn symbols(report: &AuthReport) -> Vec<Symbol> {
    if !report.checked {
        return Vec::new();
    }
    let mut out = Vec::new();
    let domain = |d: &str| {
        if d.is_empty() {
            String::new()
        } else {
            format!(" for {d}")
        }
    };
    let spf = match report.spf {
        AuthResult::Pass => "R_SPF_ALLOW",
        AuthResult::Fail => "R_SPF_FAIL",
        AuthResult::SoftFail => "R_SPF_SOFTFAIL",
        AuthResult::Neutral => "R_SPF_NEUTRAL",
        AuthResult::None => "R_SPF_NA",
        AuthResult::TempError => "R_SPF_DNSFAIL",
        AuthResult::PermError => "R_SPF_PERMFAIL",
    };
    out.push(sym(
        spf,
        format!("spf={}{}", report.spf.as_str(), domain(&report.spf_domain)),
    ));
    let dkim = match report.dkim {
        AuthResult::Pass => "R_DKIM_ALLOW",
        AuthResult::Fail => "R_DKIM_REJECT",
        AuthResult::TempError => "R_DKIM_TEMPFAIL",
        AuthResult::PermError | AuthResult::Neutral => "R_DKIM_PERMFAIL",
        AuthResult::None | AuthResult::SoftFail => "R_DKIM_NA",
    };
    let signers: Vec<&str> = report
        .dkim_signatures
        .iter()
        .map(|s| s.domain.as_str())
        .collect();
    out.push(sym(
        dkim,
        format!("dkim={} {}", report.dkim.as_str(), signers.join(","))
            .trim_end()
            .to_string(),
    ));
    let arc = match report.arc {
        AuthResult::Pass => "ARC_ALLOW",
        AuthResult::Fail => "ARC_REJECT",
        AuthResult::PermError | AuthResult::Neutral => "ARC_INVALID",
        AuthResult::TempError => "ARC_DNSFAIL",
        AuthResult::None | AuthResult::SoftFail => "ARC_NA",
    };
    out.push(sym(
        arc,
        format!(
            "arc={} {}",
            report.arc.as_str(),
            report.arc_sealers.join(",")
        )
        .trim_end()
        .to_string(),
    ));
    let from = domain(&report.from_domain);
    let dmarc = match (report.dmarc, report.dmarc_policy) {
        (AuthResult::Pass, _) => "DMARC_POLICY_ALLOW",
        (AuthResult::Fail, _) if report.arc_trusted => "DMARC_ARC_OVERRIDE",
        (AuthResult::Fail, Some(DmarcPolicy::Reject)) => "DMARC_POLICY_REJECT",
        (AuthResult::Fail, Some(DmarcPolicy::Quarantine)) => "DMARC_POLICY_QUARANTINE",
        (AuthResult::Fail, _) => "DMARC_POLICY_SOFTFAIL",
        (AuthResult::TempError, _) => "DMARC_DNSFAIL",
        (AuthResult::PermError, _) => "DMARC_BAD_POLICY",
        _ => "DMARC_NA",
    };
    let detail = match (dmarc, report.dmarc_policy) {
        ("DMARC_ARC_OVERRIDE", _) => format!(
            "dmarc=fail{from}, forwarded by trusted ARC sealer {}",
            report.arc_sealers.last().map_or("", String::as_str)
        ),
        (_, Some(p)) => format!("dmarc={} (p={}){from}", report.dmarc.as_str(), p.as_str()),
        _ => format!("dmarc={}{from}", report.dmarc.as_str()),
    };
    out.push(sym(dmarc, detail));
    out
}
