//! `sample_full` sets every field the adapter can produce, so the gateway's vocabulary test
//! sees every path: no nulls, no empty lists or objects, and a superset of the golden report.

// Tests: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use serde_json::Value;

const SAMPLE: &[u8] = include_bytes!("fixtures/credit-report-standard.xml");
const RESPONSE: &[u8] = include_bytes!("fixtures/get-report-response.xml");

/// Dot paths of every leaf; arrays are transparent, as the gateway flattens them.
fn paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                paths(v, &p, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                paths(item, prefix, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}

fn holes(value: &Value, at: &str, found: &mut Vec<String>) {
    match value {
        Value::Null => found.push(format!("{at}: null")),
        Value::Array(items) if items.is_empty() => found.push(format!("{at}: []")),
        Value::Object(map) if map.is_empty() => found.push(format!("{at}: {{}}")),
        Value::Array(items) => {
            if items.len() != 1 {
                found.push(format!("{at}: {} elements, want 1", items.len()));
            }
            for item in items {
                holes(item, at, found);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                holes(v, &format!("{at}.{k}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn sample_full_has_every_field() {
    let json = serde_json::to_value(kuzet_fcb::sample_full()).unwrap();
    let mut found = Vec::new();
    holes(&json, "", &mut found);
    assert!(
        found.is_empty(),
        "fields left unset in sample_full: {found:#?}"
    );
}

#[test]
fn sample_full_covers_what_parsing_produces() {
    let mut full = BTreeSet::new();
    paths(
        &serde_json::to_value(kuzet_fcb::sample_full()).unwrap(),
        "",
        &mut full,
    );
    for fixture in [SAMPLE, RESPONSE] {
        let report = match kuzet_fcb::parse_report(fixture) {
            Ok(r) => r,
            Err(_) => kuzet_fcb::parse_get_report_response(fixture).unwrap().0,
        };
        let mut parsed = BTreeSet::new();
        paths(&serde_json::to_value(report).unwrap(), "", &mut parsed);
        let missing: Vec<_> = parsed.difference(&full).collect();
        assert!(missing.is_empty(), "paths not in sample_full: {missing:?}");
    }
    assert!(full.contains("credit_history.existing_contracts.total_amount.minor"));
    assert!(full.contains("credit_history.existing_contracts.payments_calendar.days_overdue"));
}

#[test]
fn sample_full_uses_a_valid_synthetic_iin() {
    let report = kuzet_fcb::sample_full();
    let iin = report.identity.unwrap().iin.unwrap();
    assert!(kuzet_ident::Iin::parse(&iin).is_ok());
}
