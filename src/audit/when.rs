//! Instants as a person reads them: the exact UTC time, and the same moment in Kazakhstan
//! (Asia/Almaty), where the lender and its clients are.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Asia::Almaty;
use serde::Serialize;
use time::OffsetDateTime;

use crate::transfer_log::query::format_instant;

/// One instant, in UTC and in Almaty time (both RFC 3339).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct When {
    /// RFC 3339, UTC, as the log stores it (microseconds).
    pub utc: String,
    /// The same instant in Kazakhstan time (Asia/Almaty), RFC 3339 with its offset.
    pub almaty: String,
    #[serde(skip)]
    at: OffsetDateTime,
}

fn chrono_utc(t: OffsetDateTime) -> DateTime<Utc> {
    let micros = i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX);
    DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

impl When {
    pub fn of(at: OffsetDateTime) -> When {
        let local = chrono_utc(at).with_timezone(&Almaty);
        When {
            utc: format_instant(at),
            almaty: local.to_rfc3339_opts(SecondsFormat::Secs, false),
            at,
        }
    }

    /// The instant itself.
    pub fn instant(&self) -> OffsetDateTime {
        self.at
    }

    /// `1 December 2026, 18:35:12 UTC (23:35:12 Almaty time)`; the Almaty date is repeated
    /// when it is another day.
    pub fn human(&self) -> String {
        let utc = chrono_utc(self.at);
        let local = utc.with_timezone(&Almaty);
        let day = "%-d %B %Y";
        let clock = "%H:%M:%S";
        let local_part = if local.date_naive() == utc.date_naive() {
            local.format(clock).to_string()
        } else {
            local.format(&format!("{day}, {clock}")).to_string()
        };
        format!(
            "{} UTC ({local_part} Almaty time)",
            utc.format(&format!("{day}, {clock}"))
        )
    }

    /// `1 December 2026` (the UTC date).
    pub fn date(&self) -> String {
        chrono_utc(self.at).format("%-d %B %Y").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_and_almaty() {
        let w = When::of(time::macros::datetime!(2026-12-01 18:35:12.5 UTC));
        assert_eq!(w.utc, "2026-12-01T18:35:12.5Z");
        assert_eq!(w.almaty, "2026-12-01T23:35:12+05:00");
        assert_eq!(
            w.human(),
            "1 December 2026, 18:35:12 UTC (23:35:12 Almaty time)"
        );
        let late = When::of(time::macros::datetime!(2026-12-01 20:00:00 UTC));
        assert_eq!(
            late.human(),
            "1 December 2026, 20:00:00 UTC (2 December 2026, 01:00:00 Almaty time)"
        );
        assert_eq!(late.date(), "1 December 2026");
    }
}
