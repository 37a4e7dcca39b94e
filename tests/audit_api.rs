//! The auditors' API: search filters, pagination under concurrent appends, one transfer, the
//! chain's verification, roles, and bad parameters, against entries made by real requests
//! through the mocks.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Answer, TestApp, person};
use kuzet::contract::Role;
use kuzet::transfer_log::{Entry, Kind, SQLITE_FILE};
use serde_json::{Value, json};

/// The requests every filter test searches, and who made them.
struct Scene {
    app: TestApp,
    /// Credit report and income, with a consent for both.
    a: String,
    /// A credit report by a second underwriting client, and a refused purpose.
    b: String,
    /// No consent: a denied credit report.
    c: String,
    /// The credit transfer of `a`.
    a_credit: String,
}

const SECOND_CALLER: &str = "second-underwriting";

async fn scene() -> Scene {
    let app = TestApp::spawn().await;
    let (a, b, c) = (person(1), person(2), person(3));
    app.consent_to(&a, &["fcb", "gcvp"]).await;
    app.consent_to(&b, &["fcb"]).await;

    let credit = app.credit_report(&a, None).await;
    assert_eq!(credit.status, 200, "{}", credit.body);
    let a_credit = credit.body["transfer_id"].as_str().expect("id").to_owned();
    let income = app.income(&a).await;
    assert_eq!(income.status, 200, "{}", income.body);

    let second = kuzet::registry::new_token().expect("token");
    app.app
        .gateway
        .registry()
        .add_client(SECOND_CALLER, Role::Underwriting, &second)
        .expect("add client");
    let by_second = app
        .post(
            "/v1/exchange/fcb/credit-report",
            Some(&second),
            &credit_body(&b, "contract_performance"),
        )
        .await;
    assert_eq!(by_second.status, 200, "{}", by_second.body);

    let no_consent = app.credit_report(&c, None).await;
    assert_eq!(no_consent.code(), "consent_missing", "{}", no_consent.body);
    let marketing = app
        .post(
            "/v1/exchange/fcb/credit-report",
            Some(app.token(Role::Underwriting)),
            &credit_body(&b, "marketing"),
        )
        .await;
    assert_eq!(
        marketing.code(),
        "purpose_not_allowed",
        "{}",
        marketing.body
    );

    // The bureau knows no such subject: an IN entry with an error outcome.
    let unknown = kuzet_mocks::fcb::IIN_NOT_FOUND;
    app.consent(unknown).await;
    let not_found = app.credit_report(unknown, None).await;
    assert_eq!(not_found.status, 404, "{}", not_found.body);

    Scene {
        app,
        a,
        b,
        c,
        a_credit,
    }
}

fn credit_body(iin: &str, purpose: &str) -> Value {
    json!({"purpose": purpose, "reference": "APP-2", "data": {"subject": {"iin": iin}}})
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn seqs(a: &Answer) -> Vec<u64> {
    a.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect()
}

/// The seqs of `all` that `keep` selects, newest first (what a search answers).
fn newest_first(all: &[Entry], keep: impl Fn(&Entry) -> bool) -> Vec<u64> {
    all.iter()
        .rev()
        .filter(|e| keep(e))
        .map(|e| e.seq)
        .collect()
}

#[tokio::test]
async fn every_filter_narrows_to_exactly_its_entries() {
    let s = scene().await;
    let app = &s.app;
    let all = app.all_entries().await;
    assert_eq!(all.len(), 10, "two entries per transfer, one per refusal");
    let log = app.app.gateway.log();
    let subject = |iin: &str| log.subject_index(&kuzet_ident::Iin::parse(iin).expect("iin"));
    let (sa, sc) = (subject(&s.a), subject(&s.c));
    let since = kuzet::transfer_log::query::format_instant(all[4].at);

    type Case<'a> = (Vec<(&'a str, &'a str)>, Box<dyn Fn(&Entry) -> bool + 'a>);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![("subject_iin", &s.a)],
            Box::new(|e| e.subject == Some(sa)),
        ),
        (
            vec![("subject_iin", &s.c)],
            Box::new(|e| e.subject == Some(sc)),
        ),
        (
            vec![("recipient", "gcvp")],
            Box::new(|e| e.recipient == "gcvp"),
        ),
        (
            vec![("operation", "income")],
            Box::new(|e| e.operation == "income"),
        ),
        (
            vec![("kind", "denied")],
            Box::new(|e| e.kind == Kind::Denied),
        ),
        (vec![("kind", "in")], Box::new(|e| e.kind == Kind::In)),
        (
            vec![("caller", SECOND_CALLER)],
            Box::new(|e| e.caller == SECOND_CALLER),
        ),
        (vec![("outcome", "ok")], Box::new(|e| e.outcome == "ok")),
        (
            vec![("outcome", "error")],
            Box::new(|e| e.outcome.starts_with("error:")),
        ),
        (
            vec![("purpose", "marketing")],
            Box::new(|e| e.purpose.as_deref() == Some("marketing")),
        ),
        (vec![("since", &since)], Box::new(|e| e.at >= all[4].at)),
        (vec![("until", &since)], Box::new(|e| e.at < all[4].at)),
        (
            vec![("subject_iin", &s.a), ("recipient", "fcb")],
            Box::new(|e| e.subject == Some(sa) && e.recipient == "fcb"),
        ),
        (
            vec![("recipient", "fcb"), ("kind", "out")],
            Box::new(|e| e.recipient == "fcb" && e.kind == Kind::Out),
        ),
    ];
    for (params, keep) in &cases {
        let expected = newest_first(&all, keep);
        assert!(
            !expected.is_empty() && expected.len() < all.len(),
            "the case {params:?} must narrow"
        );
        let a = app.audit(&format!("/v1/transfers?{}", query(params))).await;
        assert_eq!(a.status, 200, "{params:?}: {}", a.body);
        assert_eq!(seqs(&a), expected, "{params:?}");
        assert_eq!(a.body["next_cursor"], Value::Null, "{params:?}");
        let text = a.body.to_string();
        for iin in [&s.a, &s.b, &s.c] {
            assert!(!text.contains(iin.as_str()), "an IIN in the answer");
        }
    }
    // The known counts, so that the predicates above are not both wrong.
    let count = |p: &[(&str, &str)]| {
        let p = query(p);
        async move { seqs(&app.audit(&format!("/v1/transfers?{p}")).await).len() }
    };
    assert_eq!(count(&[("subject_iin", &s.a)]).await, 4);
    assert_eq!(count(&[("kind", "denied")]).await, 2);
    assert_eq!(count(&[("caller", SECOND_CALLER)]).await, 2);
    assert_eq!(count(&[("outcome", "ok")]).await, 3);
    // No filter: every entry, newest first, 50 to a page by default.
    let everything = app.audit("/v1/transfers").await;
    assert_eq!(seqs(&everything), newest_first(&all, |_| true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_walk_every_entry_once_while_entries_are_appended() {
    let s = scene().await;
    let app = Arc::new(s.app);
    for i in 10..16 {
        let iin = person(i);
        app.consent(&iin).await;
        assert_eq!(app.credit_report(&iin, None).await.status, 200);
    }

    // Appends run beside the walk, and one more is made between every two page fetches.
    let stop = Arc::new(AtomicBool::new(false));
    let appender = {
        let (app, stop, iin) = (app.clone(), stop.clone(), s.a.clone());
        tokio::spawn(async move {
            let mut made = 0;
            while !stop.load(Ordering::Relaxed) && made < 40 {
                assert_eq!(app.credit_report(&iin, None).await.status, 200);
                made += 1;
            }
            made
        })
    };
    let mut seen: Vec<u64> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = vec![("recipient", "fcb".to_owned()), ("limit", "3".to_owned())];
        if let Some(c) = &cursor {
            params.push(("cursor", c.clone()));
        }
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = app
            .audit(&format!("/v1/transfers?{}", query(&params)))
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let page = seqs(&a);
        assert!(page.len() <= 3);
        for e in a.body["entries"].as_array().expect("entries") {
            assert_eq!(e["recipient"], "fcb");
        }
        seen.extend(page);
        pages += 1;
        assert_eq!(app.credit_report(&s.b, None).await.status, 200);
        match a.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 100, "the walk does not end");
    }
    stop.store(true, Ordering::Relaxed);
    let made = appender.await.expect("appender");
    assert!(made > 0);

    // Exactly the fcb entries that existed when the first page was read: none twice, none
    // missing, newest first; the ones appended meanwhile are above them.
    let all = app.all_entries().await;
    let top = seen[0];
    assert_eq!(
        seen,
        newest_first(&all, |e| e.recipient == "fcb" && e.seq <= top)
    );
    assert!(pages >= 5, "{pages} pages");
    assert!(all.iter().any(|e| e.recipient == "fcb" && e.seq > top));
}

#[tokio::test]
async fn a_transfer_reads_back_in_seq_order() {
    let s = scene().await;
    let app = &s.app;
    let a = app.audit(&format!("/v1/transfers/{}", s.a_credit)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["transfer_id"], s.a_credit.as_str());
    let entries = a.body["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["kind"], "out");
    assert_eq!(entries[1]["kind"], "in");
    assert!(entries[0]["seq"].as_u64() < entries[1]["seq"].as_u64());
    assert_eq!(entries[0]["fields"], json!(["subject.iin"]));
    assert_eq!(entries[1]["outcome"], "ok");
    assert_eq!(entries[1]["body"], "encrypted");
    assert!(
        !entries[1]["dropped"]
            .as_array()
            .expect("dropped")
            .is_empty()
    );
    assert!(entries[0]["consent_id"].is_string());
    let index = app
        .app
        .gateway
        .log()
        .subject_index(&kuzet_ident::Iin::parse(&s.a).expect("iin"));
    assert_eq!(entries[0]["subject"], hex::encode(index));
    assert!(!a.body.to_string().contains(&s.a));

    let missing = app
        .audit("/v1/transfers/0190f5a4-0000-7000-8000-000000000000")
        .await;
    assert_eq!(
        (missing.status, missing.code()),
        (404, "transfer_not_found")
    );
    let bad = app.audit("/v1/transfers/not-a-uuid").await;
    assert_eq!((bad.status, bad.code()), (422, "invalid_value"));
    assert_eq!(bad.body["error"]["fields"], json!(["transfer_id"]));
}

#[tokio::test]
async fn verify_reports_the_chain_and_the_first_bad_seq() {
    let s = scene().await;
    let app = &s.app;
    let all = app.all_entries().await;
    let a = app.audit("/v1/log/verify").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["ok"], true);
    assert_eq!(a.body["entries"], all.len() as u64);
    assert_eq!(a.body["first_seq"], 1);
    assert_eq!(a.body["last_seq"], all.len() as u64);
    let tip = all.last().expect("entries").hash;
    assert_eq!(a.body["tip_hash"], hex::encode(tip));
    assert!(a.body["elapsed_ms"].is_u64());
    // The gateway is running: its checkpoints so far (none before the first 10 s or 1000
    // entries) are reported with the key they are checked against.
    assert!(a.body["checkpoints"].is_u64(), "{}", a.body);
    assert!(a.body["latest_checkpoint_seq"].is_u64(), "{}", a.body);
    // It takes no parameters: one given is refused, not silently ignored.
    let a = app.audit("/v1/log/verify?public_key=00").await;
    assert_eq!((a.status, a.code()), (422, "unknown_field"), "{}", a.body);
    assert_eq!(a.body["error"]["fields"], json!(["public_key"]));

    // Someone with file access rewrites an entry: the chain breaks there.
    let c = rusqlite::Connection::open(app.dir.path().join(SQLITE_FILE)).expect("open");
    c.execute_batch(
        "DROP TRIGGER IF EXISTS entries_no_update; \
         UPDATE entries SET outcome = 'ok' WHERE seq = 3;",
    )
    .expect("tamper");
    let a = app.audit("/v1/log/verify").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["ok"], false);
    assert_eq!(a.body["bad_seq"], 3);
    assert!(
        a.body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("altered"))
    );
}

#[tokio::test]
async fn verify_without_a_readable_log_is_503() {
    let app = TestApp::spawn().await;
    std::fs::remove_file(app.dir.path().join(SQLITE_FILE)).expect("remove the log file");
    let a = app.audit("/v1/log/verify").await;
    assert_eq!((a.status, a.code()), (503, "log_unavailable"), "{}", a.body);
}

#[tokio::test]
async fn only_auditors_read_the_log() {
    let app = TestApp::spawn().await;
    let paths = [
        "/v1/transfers",
        "/v1/transfers/0190f5a4-0000-7000-8000-000000000000",
        "/v1/log/verify",
    ];
    for path in paths {
        for &role in Role::ALL.iter().filter(|r| **r != Role::Auditor) {
            let a = app.get(path, Some(app.token(role))).await;
            assert_eq!(
                (a.status, a.code()),
                (403, "forbidden_role"),
                "{path} as {role:?}"
            );
        }
        let a = app.get(path, None).await;
        assert_eq!((a.status, a.code()), (401, "unauthenticated"), "{path}");
        let a = app.get(path, Some("kz_not-a-token")).await;
        assert_eq!((a.status, a.code()), (401, "unauthenticated"), "{path}");
    }
    // The role is checked before the parameters.
    let a = app
        .get("/v1/transfers?bogus=1", Some(app.token(Role::Admin)))
        .await;
    assert_eq!(a.code(), "forbidden_role");
}

#[tokio::test]
async fn bad_parameters_are_named_and_their_values_never_repeated() {
    let app = TestApp::spawn().await;
    let iin = person(1);
    let mut wrong_check = iin.clone().into_bytes();
    wrong_check[11] = b'0' + (wrong_check[11] - b'0' + 1) % 10;
    let wrong_check = String::from_utf8(wrong_check).expect("ascii");
    let cases: Vec<(String, &str, &str, Vec<&str>)> = vec![
        // An unknown name that looks like a name is named; one that looks like a value is not.
        (query(&[("bogus", "1")]), "unknown_field", "", vec!["bogus"]),
        (
            query(&[(iin.as_str(), "1")]),
            "unknown_field",
            &iin,
            vec!["<?>"],
        ),
        (
            query(&[("subject_iin", &wrong_check)]),
            "invalid_iin",
            &wrong_check,
            vec!["subject_iin"],
        ),
        (
            query(&[("subject_iin", "")]),
            "invalid_iin",
            "",
            vec!["subject_iin"],
        ),
        (
            query(&[("since", "yesterday-ish")]),
            "invalid_value",
            "yesterday-ish",
            vec!["since"],
        ),
        (
            query(&[("until", "2026-13-01")]),
            "invalid_value",
            "2026-13-01",
            vec!["until"],
        ),
        (
            query(&[("kind", "sideways")]),
            "invalid_value",
            "sideways",
            vec!["kind"],
        ),
        // A range that cannot hold anything (until is exclusive).
        (
            query(&[("since", "2026-02-01"), ("until", "2026-01-01")]),
            "invalid_value",
            "2026-01-01",
            vec!["until"],
        ),
        (
            query(&[("since", "2026-01-01"), ("until", "2026-01-01T00:00:00Z")]),
            "invalid_value",
            "2026-01-01T",
            vec!["until"],
        ),
        (
            query(&[("cursor", "abc")]),
            "invalid_value",
            "abc",
            vec!["cursor"],
        ),
        (
            query(&[("cursor", "0")]),
            "invalid_value",
            "",
            vec!["cursor"],
        ),
        (query(&[("limit", "0")]), "invalid_value", "", vec!["limit"]),
        (
            query(&[("limit", "1001")]),
            "invalid_value",
            "1001",
            vec!["limit"],
        ),
        (
            query(&[("limit", "many")]),
            "invalid_value",
            "many",
            vec!["limit"],
        ),
        (
            query(&[("recipient", "")]),
            "invalid_value",
            "",
            vec!["recipient"],
        ),
        (
            query(&[("recipient", "fcb"), ("recipient", "gcvp")]),
            "invalid_value",
            "gcvp",
            vec!["recipient"],
        ),
        // A key no contract could name would only answer an empty page.
        (
            query(&[("recipient", "FCB")]),
            "invalid_value",
            "FCB",
            vec!["recipient"],
        ),
        (
            query(&[("operation", "credit report")]),
            "invalid_value",
            "credit report",
            vec!["operation"],
        ),
        (
            query(&[("purpose", "Contract_Performance")]),
            "invalid_value",
            "Contract_Performance",
            vec!["purpose"],
        ),
    ];
    // The likely slip (`iin` for `subject_iin`) is told what is taken.
    let a = app.audit("/v1/transfers?iin=1").await;
    assert_eq!(a.code(), "unknown_field");
    let message = a.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("subject_iin"), "{message}");
    for (q, code, value, fields) in cases {
        let a = app.audit(&format!("/v1/transfers?{q}")).await;
        assert_eq!((a.status, a.code()), (422, code), "{q}: {}", a.body);
        assert_eq!(a.body["error"]["fields"], json!(fields), "{q}");
        if !value.is_empty() {
            assert!(
                !a.body.to_string().contains(value),
                "{q}: the value came back: {}",
                a.body
            );
        }
    }
    // The good forms of the same parameters pass.
    let ok = app
        .audit(&format!(
            "/v1/transfers?{}",
            query(&[
                ("subject_iin", &iin),
                ("since", "2026-01-01"),
                ("until", "2999-01-01T00:00:00+05:00"),
                ("kind", "out"),
                ("cursor", "5"),
                ("limit", "1000"),
            ])
        ))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body, json!({"entries": [], "next_cursor": null}));
}
