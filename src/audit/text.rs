//! The subject report as plain text, for a person who is not an engineer: headings, sentences,
//! dates in words with UTC and Almaty time; the codes auditors need stay at the end of each
//! transfer.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::subject_report::{
    ConsentSource, ConsentView, FieldView, Named, SubjectReport, Transfer, TransferKind,
};

/// Text that came from a caller or a party (a reference, consent evidence, a bureau's message
/// or ids), with each control character shown as its escape (`\u{1b}`): a stored value can
/// then neither start a line of its own in the report nor move the cursor in a terminal.
/// The gateway refuses such characters in what it records now; older entries and a party's
/// answers may still hold them.
fn shown(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn channel_words(channel: &str) -> &str {
    match channel {
        "web" => "on the website",
        "app" => "in the mobile app",
        "branch" => "at a branch",
        "call_centre" => "by telephone with the call centre",
        other => other,
    }
}

fn basis_words(basis: &str) -> &str {
    match basis {
        "consent" => "your consent",
        "contract" => "your loan contract with the lender",
        "legal_obligation" => "a duty the law places on the lender",
        "legitimate_interest" => "the lender's legitimate interest",
        other => other,
    }
}

fn named(n: &Named) -> String {
    match &n.description {
        Some(d) => d.clone(),
        None => n.key.clone(),
    }
}

fn field_line(out: &mut String, f: &FieldView) {
    match &f.description {
        Some(d) => {
            let _ = writeln!(out, "      - {d} [{}]", f.path);
        }
        None => {
            let _ = writeln!(out, "      - {}", f.path);
        }
    }
}

/// Lists longer than this are shown grouped by their first two path segments.
const LIST_IN_FULL: usize = 12;

/// `credit_history.existing_contracts` → `credit history › existing contracts`.
fn words(prefix: &str) -> String {
    prefix
        .split('.')
        .map(|s| s.replace('_', " "))
        .collect::<Vec<_>>()
        .join(" › ")
}

/// Groups a text shows at most; past that, paths are grouped by their first segment only.
const MAX_GROUPS: usize = 20;

/// Paths grouped by their first two segments (or only the first, when two give more than
/// [`MAX_GROUPS`] groups), in order, with counts.
fn grouped<'a>(paths: impl Iterator<Item = &'a str> + Clone) -> Vec<(String, usize)> {
    let by = |depth: usize| {
        let mut groups: Vec<(String, usize)> = Vec::new();
        for p in paths.clone() {
            let prefix = p
                .splitn(depth + 1, '.')
                .take(depth)
                .collect::<Vec<_>>()
                .join(".");
            match groups.last_mut() {
                Some((g, n)) if *g == prefix => *n += 1,
                _ => groups.push((prefix, 1)),
            }
        }
        groups
    };
    let mut groups = by(2);
    if groups.len() > MAX_GROUPS {
        groups = by(1);
    }
    groups.into_iter().map(|(g, n)| (words(&g), n)).collect()
}

fn items(n: usize) -> String {
    if n == 1 {
        "1 item".to_owned()
    } else {
        format!("{n} items")
    }
}

fn field_list(out: &mut String, title: &str, fields: &[FieldView]) {
    let _ = writeln!(out, "   {title}:");
    if fields.len() <= LIST_IN_FULL {
        for f in fields {
            field_line(out, f);
        }
        return;
    }
    for (group, n) in grouped(fields.iter().map(|f| f.path.as_str())) {
        let _ = writeln!(out, "      - {group}: {}", items(n));
    }
    let _ = writeln!(
        out,
        "      ({} items in all; the JSON form of this report names each one)",
        fields.len()
    );
}

fn consent_sentence(c: &ConsentView) -> String {
    let mut s = format!(
        "given {} {}; evidence on file: {}",
        c.given_at.human(),
        channel_words(&c.channel),
        shown(&c.evidence)
    );
    match &c.expires_at {
        Some(e) => {
            let _ = write!(s, "; valid until {}", e.human());
        }
        None => s.push_str("; no end date"),
    }
    match &c.revoked_at {
        Some(r) => {
            let _ = write!(s, "; withdrawn {}", r.human());
        }
        None => s.push_str("; not withdrawn"),
    }
    s
}

fn heading(t: &Transfer) -> String {
    let party = named(&t.recipient);
    match t.kind {
        TransferKind::Exchange => format!("{party}: {}", t.operation.key.replace('-', " ")),
        TransferKind::Refused => format!(
            "{party}: {} (refused, nothing sent)",
            t.operation.key.replace('-', " ")
        ),
        TransferKind::ReportingUpload => {
            format!("{party}: reporting of your loan contract to the credit bureau")
        }
        TransferKind::Erasure => "Erasure of your stored data".to_owned(),
    }
}

fn transfer(out: &mut String, n: usize, t: &Transfer) {
    let title = format!("{n}. {}", heading(t));
    let _ = writeln!(out, "{title}");
    let _ = writeln!(out, "{}", "-".repeat(title.chars().count()));
    let _ = writeln!(out, "   When: {}", t.at.human());
    if t.kind != TransferKind::Erasure {
        let _ = writeln!(
            out,
            "   To whom: {} ({})",
            named(&t.recipient),
            t.recipient.key
        );
        let clause = t
            .operation
            .clause
            .as_ref()
            .map(|c| format!(" (privacy policy, clause {c})"))
            .unwrap_or_default();
        let _ = writeln!(out, "   What: {}{clause}", named(&t.operation));
    }
    if let Some(p) = &t.purpose {
        let clause = p
            .clause
            .as_ref()
            .map(|c| format!(" (privacy policy, clause {c})"))
            .unwrap_or_default();
        let _ = writeln!(out, "   Why: {}{clause}", named(p));
    }
    if let Some(b) = &t.legal_basis {
        let _ = writeln!(out, "   Legal basis: {}", basis_words(b));
    }
    if let Some(c) = &t.consent {
        let how = match c.source {
            ConsentSource::NamedInLog => "the consent this transfer named",
            ConsentSource::OnRecordAtTheTime => "your consent on record at the time",
        };
        match &c.record {
            Some(r) => {
                let _ = writeln!(
                    out,
                    "   Consent used: {how}, no. {}: {}",
                    c.id,
                    consent_sentence(r)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "   Consent used: {how}, no. {} (not found in the consent ledger)",
                    c.id
                );
            }
        }
    }
    if let Some(r) = &t.reference {
        let _ = writeln!(out, "   The lender's reference: {}", shown(r));
    }
    for c in &t.contracts {
        let what = if c.operation == "update" {
            "an update"
        } else {
            "its first report"
        };
        let outcome = match c.outcome.as_str() {
            "accepted" => "accepted by the bureau".to_owned(),
            "rejected" => "rejected by the bureau".to_owned(),
            "pending" => "awaiting the bureau's answer".to_owned(),
            other => format!("not confirmed by the bureau ({other})"),
        };
        let message = c
            .message
            .as_ref()
            .map(|m| format!("; the bureau said: {}", shown(m)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "   Your contract {} ({what}): {outcome}{message}",
            shown(&c.contract_code)
        );
    }
    match t.kind {
        TransferKind::Refused => {
            let _ = writeln!(out, "   Sent: nothing.");
            if !t.refused_fields.is_empty() {
                let _ = writeln!(
                    out,
                    "   Refused because of: {}",
                    t.refused_fields.join(", ")
                );
            }
        }
        TransferKind::Erasure => {}
        TransferKind::Exchange | TransferKind::ReportingUpload => {
            if t.sent.is_empty() {
                let _ = writeln!(out, "   Sent: no field recorded.");
            } else {
                field_list(out, "Sent", &t.sent);
            }
            if !t.received.is_empty() {
                field_list(out, "Received and kept", &t.received);
            }
            if !t.dropped.is_empty() {
                let groups: Vec<String> = grouped(t.dropped.iter().map(String::as_str))
                    .into_iter()
                    .map(|(g, n)| format!("{g} ({})", items(n)))
                    .collect();
                let _ = writeln!(
                    out,
                    "   Received but discarded at once, nothing of it kept: {}",
                    groups.join("; ")
                );
            }
            if let Some(a) = &t.answered_at {
                let _ = writeln!(out, "   Answer received: {}", a.human());
            }
        }
    }
    let _ = writeln!(out, "   Outcome: {}", t.outcome_text);
    let seqs: Vec<String> = t.log_entries.iter().map(u64::to_string).collect();
    let _ = writeln!(
        out,
        "   For the record: transfer {}, outcome {}, transfer-log entries {}",
        t.transfer_id,
        t.outcome,
        seqs.join(", ")
    );
    if let Some(b) = &t.batch {
        let _ = writeln!(
            out,
            "   Reporting batch {} of run {}{}, state {}",
            b.batch,
            b.run,
            b.bureau_batch_id
                .as_ref()
                .map(|id| format!(", bureau batch {}", shown(id)))
                .unwrap_or_default(),
            b.state
        );
    }
    if !t.upstream_ids.is_empty() {
        let ids: Vec<String> = t
            .upstream_ids
            .iter()
            .map(|(k, v)| format!("{} {}", shown(k), shown(v)))
            .collect();
        let _ = writeln!(out, "   The party's references: {}", ids.join(", "));
    }
    out.push('\n');
}

impl SubjectReport {
    /// The report as plain text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let title = format!(
            "Personal data transfers about the client with IIN {}",
            self.subject
        );
        let _ = writeln!(out, "{title}");
        let _ = writeln!(out, "{}", "=".repeat(title.chars().count()));
        let _ = writeln!(
            out,
            "Prepared {} from the lender's transfer log (up to entry {}), its consent ledger \
             and its credit-bureau reporting records, in answer to a request under clause 9 of \
             the privacy policy (the right of access).",
            self.generated_at.human(),
            self.log_tip_seq
        );
        out.push('\n');
        let s = &self.summary;
        if s.transfers == 0 {
            let _ = writeln!(
                out,
                "No transfer about you is recorded: the lender has sent nothing about you to, \
                 and received nothing about you from, any outside party through its gateway."
            );
        } else {
            let _ = writeln!(
                out,
                "In short: {} recorded transfer{}: {} exchange{} with outside parties, {} \
                 reporting upload{} to the credit bureau, {} refused (nothing sent), {} \
                 erasure{}.",
                s.transfers,
                plural(s.transfers),
                s.exchanges,
                plural(s.exchanges),
                s.reporting_uploads,
                plural(s.reporting_uploads),
                s.refused,
                s.erasures,
                plural(s.erasures)
            );
        }
        out.push('\n');
        for (i, t) in self.transfers.iter().enumerate() {
            transfer(&mut out, i + 1, t);
        }
        let _ = writeln!(out, "Your consents");
        let _ = writeln!(out, "-------------");
        if self.consents.is_empty() {
            let _ = writeln!(out, "No consent of yours is recorded.");
        }
        for c in &self.consents {
            let recipients: Vec<String> = c.recipients.iter().map(named).collect();
            let purposes: Vec<String> =
                c.purposes.iter().map(|p| p.key.replace('_', " ")).collect();
            let _ = writeln!(
                out,
                "- Consent no. {} ({}): to {}, for {}; {}.",
                c.id,
                c.status,
                recipients.join(", "),
                purposes.join(", "),
                consent_sentence(c)
            );
        }
        for n in &self.notes {
            let _ = writeln!(out, "\nNote: {n}");
        }
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_are_grouped_for_a_person() {
        let paths = [
            "credit_history.summary.a",
            "credit_history.summary.b",
            "credit_history.inquiries.c",
        ];
        assert_eq!(
            grouped(paths.iter().copied()),
            [
                ("credit history › summary".to_owned(), 2),
                ("credit history › inquiries".to_owned(), 1)
            ]
        );
        let many: Vec<String> = (0..30).map(|i| format!("identity.f{i}")).collect();
        let mut all: Vec<&str> = many.iter().map(String::as_str).collect();
        all.push("addresses.city");
        assert_eq!(
            grouped(all.iter().copied()),
            [("identity".to_owned(), 30), ("addresses".to_owned(), 1)],
            "more than MAX_GROUPS groups at two levels: one level"
        );
        assert_eq!(
            words("loan.borrower.last_name"),
            "loan › borrower › last name"
        );
    }

    #[test]
    fn text_from_callers_and_parties_cannot_start_a_line_or_steer_a_terminal() {
        assert_eq!(shown("APP-1 Ал"), "APP-1 Ал");
        assert_eq!(shown("a\u{1b}[2J\nb\t"), "a\\u{1b}[2J\\u{a}b\\u{9}");
        let named = |key: &str| Named {
            key: key.to_owned(),
            description: None,
            clause: None,
        };
        let forged = "APP-1\n   Outcome: nothing was sent\u{1b}[2J";
        let t = Transfer {
            transfer_id: uuid::Uuid::nil(),
            kind: TransferKind::ReportingUpload,
            recipient: named("fcb"),
            operation: named("contract-upload"),
            at: super::super::when::When::of(time::macros::datetime!(2026-01-01 10:00 UTC)),
            answered_at: None,
            purpose: None,
            legal_basis: None,
            reference: Some(forged.to_owned()),
            consent: None,
            sent: vec![],
            received: vec![],
            dropped: vec![],
            refused_fields: vec![],
            outcome: "ok".to_owned(),
            outcome_text: "sent".to_owned(),
            contracts: vec![super::super::subject_report::UploadedContract {
                contract_code: "C-1\r".to_owned(),
                operation: "update",
                outcome: "rejected".to_owned(),
                message: Some("bad\nrecord\u{7}".to_owned()),
            }],
            batch: Some(super::super::subject_report::BatchRef {
                batch: 1,
                run: 1,
                bureau_batch_id: Some("B\u{1b}]0;x\u{7}".to_owned()),
                state: "final",
            }),
            upstream_ids: [("ref\n".to_owned(), "R\u{8}1".to_owned())].into(),
            log_entries: vec![1],
        };
        let mut out = String::new();
        transfer(&mut out, 1, &t);
        assert!(
            !out.chars().any(|c| c.is_control() && c != '\n'),
            "only the report's own line breaks: {out:?}"
        );
        assert_eq!(
            out.lines().filter(|l| l.starts_with("   Outcome:")).count(),
            1,
            "no forged line: {out}"
        );
        for escaped in [
            "APP-1\\u{a}   Outcome: nothing was sent\\u{1b}[2J",
            "C-1\\u{d}",
            "bad\\u{a}record\\u{7}",
            "B\\u{1b}]0;x\\u{7}",
            "ref\\u{a} R\\u{8}1",
        ] {
            assert!(out.contains(escaped), "{escaped} in {out}");
        }
    }
}
