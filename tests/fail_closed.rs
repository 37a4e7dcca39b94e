//! If the transfer log cannot be written, nothing is sent: `503 log_unavailable` and no call
//! to the bureau. When the log recovers, the chain continues without a gap.

mod common;

use std::sync::atomic::Ordering;

use common::{TestApp, demo_iin, test_config};

#[tokio::test]
async fn an_unwritable_log_stops_the_transfer_before_the_bureau_is_called() {
    let (app, fail) = TestApp::spawn_with_switchable_log(test_config()).await;
    let iin = demo_iin();
    let consent = app.consent(&iin).await;

    fail.store(true, Ordering::SeqCst);
    let a = app.credit_report(&iin, Some(&consent)).await;
    assert_eq!((a.status, a.code()), (503, "log_unavailable"), "{}", a.body);
    assert_eq!(
        app.mock().calls(),
        0,
        "nothing may leave without a durable OUT entry"
    );

    fail.store(false, Ordering::SeqCst);
    let a = app.credit_report(&iin, Some(&consent)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(app.mock().calls(), 1);
    let entries = app.all_entries().await;
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2], "no gap after the failed batch");
}
