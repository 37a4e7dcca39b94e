//! The reporting schedule of `kuzet serve`: a cron expression evaluated in Asia/Almaty time
//! (the lender's wall clock, whatever the server's zone), one run per occurrence. A run never
//! overlaps another: an occurrence that comes while a run (scheduled or from the command line)
//! is still going is skipped, and said so.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Almaty;
use croner::Cron;

use super::{ReportError, Reporter, RunOptions, Trigger};

/// Parses a cron expression: five fields (minute hour day-of-month month day-of-week), or six
/// with seconds first.
pub fn parse(expr: &str) -> Result<Cron, String> {
    Cron::from_str(expr.trim()).map_err(|e| format!("not a cron expression ({e})"))
}

/// The first occurrence strictly after `now`, in Asia/Almaty time.
pub fn next_after(cron: &Cron, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    cron.find_next_occurrence(&now.with_timezone(&Almaty), false)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The lender's date now (Asia/Almaty), against which a source's dates are checked.
pub fn lender_today() -> time::Date {
    use chrono::Datelike;
    let d = Utc::now().with_timezone(&Almaty).date_naive();
    // The ordinal of a chrono date always exists in `time`'s calendar (years ±9999).
    time::Date::from_ordinal_date(d.year(), d.ordinal() as u16).unwrap_or(time::Date::MAX)
}

/// Runs the job at every occurrence of `cron` until the returned task is aborted.
pub fn spawn(reporter: Arc<Reporter>, cron: Cron, source: PathBuf) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = Utc::now();
            let Some(next) = next_after(&cron, now) else {
                tracing::warn!("The reporting schedule has no next occurrence; it stops.");
                return;
            };
            let wait = (next - now).to_std().unwrap_or_default();
            tracing::info!(next = %next.with_timezone(&Almaty), "Next bureau reporting run.");
            tokio::time::sleep(wait).await;
            let options = RunOptions {
                source: source.clone(),
                dry_run: false,
                trigger: Trigger::Schedule,
                crash_at: None,
            };
            match reporter.run(&options, &|_| {}).await {
                Ok(r) => tracing::info!(
                    status = r.status.as_str(),
                    read = r.counts.read,
                    invalid = r.counts.invalid,
                    unchanged = r.counts.unchanged,
                    sent = r.counts.sent,
                    accepted = r.counts.accepted,
                    rejected = r.counts.rejected,
                    failure = r.failure.as_deref().unwrap_or(""),
                    "Scheduled bureau reporting run finished."
                ),
                Err(ReportError::AlreadyRunning) => tracing::warn!(
                    "A bureau reporting run is still going; this occurrence is skipped."
                ),
                Err(e) => tracing::error!(error = %e, "Scheduled bureau reporting run failed."),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurrences_are_almaty_wall_clock() {
        let cron = parse("0 2 * * *").expect("cron");
        // 2026-12-01 12:00 UTC is 17:00 in Almaty (UTC+5): the next 02:00 there is
        // 2026-12-02 02:00+05:00, 2026-12-01 21:00 UTC.
        let now = DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let next = next_after(&cron, now).expect("next");
        assert_eq!(next.to_rfc3339(), "2026-12-01T21:00:00+00:00");
        // Strictly after: from the occurrence itself, the day after.
        let after = next_after(&cron, next).expect("next");
        assert_eq!(after.to_rfc3339(), "2026-12-02T21:00:00+00:00");
    }

    #[test]
    fn six_fields_have_seconds_and_bad_ones_are_refused() {
        assert!(parse("30 0 2 * * *").is_ok());
        assert!(parse("every day").is_err());
        assert!(parse("61 * * * *").is_err());
    }
}
