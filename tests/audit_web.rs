//! The auditors' web page at `/audit`: sign-in and its cookie, refusals, errors in the page,
//! and a real headless Chromium driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`) that signs in, searches by IIN and opens a transfer.
//!
//! Without Chromium the browser test says it is skipped and why, and passes; with
//! `KUZET_REQUIRE_CHROMIUM=1` (CI) it fails instead.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{TestApp, person};
use fantoccini::{ClientBuilder, Locator};
use kuzet::contract::Role;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A client that shows each answer as it is (no redirects followed, no cookie store).
fn plain_http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

struct Html {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

async fn send(req: reqwest::RequestBuilder) -> Html {
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    Html {
        status,
        headers,
        text,
    }
}

async fn sign_in(app: &TestApp, http: &reqwest::Client, token: &str) -> Html {
    send(
        http.post(app.url("/audit/sign-in"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}")),
    )
    .await
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_cookie_and_signing_out_clears_it() {
    let app = TestApp::spawn().await;
    let http = plain_http();

    let page = send(http.get(app.url("/audit"))).await;
    assert_eq!(page.status, 401);
    assert!(page.text.contains("id=\"sign-in\""), "{}", page.text);

    let signed = sign_in(&app, &http, app.token(Role::Auditor)).await;
    assert_eq!(signed.status, 303);
    assert_eq!(signed.headers["location"], "/audit");
    let cookie = signed.headers["set-cookie"].to_str().expect("ascii");
    assert!(cookie.starts_with(&format!("kuzet_audit={}", app.token(Role::Auditor))));
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/audit"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    // Plain HTTP (a loopback or a TLS-terminating proxy in front): a Secure cookie would never
    // come back. Over the gateway's own TLS it is Secure (listener_tls.rs).
    assert!(!cookie.contains("Secure"), "{cookie}");
    let session = format!("kuzet_audit={}", app.token(Role::Auditor));

    let page = send(http.get(app.url("/audit")).header("cookie", &session)).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("id=\"search\""));
    assert!(page.text.contains("Signed in as"));
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .expect("ascii")
            .contains("default-src 'none'")
    );
    let css = send(http.get(app.url("/audit/style.css"))).await;
    assert_eq!(css.status, 200);
    assert!(
        css.headers["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/css")
    );

    let out = send(
        http.post(app.url("/audit/sign-out"))
            .header("cookie", &session),
    )
    .await;
    assert_eq!(out.status, 303);
    let cleared = out.headers["set-cookie"].to_str().expect("ascii");
    assert!(cleared.starts_with("kuzet_audit=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    // A revoked token ends the session on its next page.
    app.app
        .gateway
        .registry()
        .revoke_client("test-auditor")
        .expect("revoke");
    let page = send(http.get(app.url("/audit")).header("cookie", &session)).await;
    assert_eq!(page.status, 401);
    assert!(page.text.contains("session has ended"), "{}", page.text);
    assert!(page.headers.contains_key("set-cookie"));
}

#[tokio::test]
async fn other_roles_and_unknown_tokens_are_refused_with_a_reason() {
    let app = TestApp::spawn().await;
    let http = plain_http();
    for &role in Role::ALL.iter().filter(|r| **r != Role::Auditor) {
        let page = sign_in(&app, &http, app.token(role)).await;
        assert_eq!(page.status, 403, "{role:?}");
        assert!(!page.headers.contains_key("set-cookie"));
        assert!(
            page.text
                .contains(&format!("the role {}; only auditors", role.as_str())),
            "{}",
            page.text
        );
        // Nor does a cookie holding such a token open the pages.
        let cookie = format!("kuzet_audit={}", app.token(role));
        let page = send(http.get(app.url("/audit/verify")).header("cookie", cookie)).await;
        assert_eq!(page.status, 401, "{role:?}");
    }
    let page = sign_in(&app, &http, "kz_not-a-token").await;
    assert_eq!(page.status, 401);
    assert!(page.text.contains("unknown or revoked"));
    let page = sign_in(&app, &http, "").await;
    assert_eq!(page.status, 422);
}

#[tokio::test]
async fn bad_filters_are_shown_in_the_page_without_the_value() {
    let app = TestApp::spawn().await;
    let http = plain_http();
    let session = format!("kuzet_audit={}", app.token(Role::Auditor));
    let mut wrong = person(1).into_bytes();
    wrong[11] = b'0' + (wrong[11] - b'0' + 1) % 10;
    let wrong = String::from_utf8(wrong).expect("ascii");

    let page = send(
        http.get(app.url(&format!("/audit?subject_iin={wrong}&recipient=&since=")))
            .header("cookie", &session),
    )
    .await;
    assert_eq!(page.status, 422);
    let error = page
        .text
        .split("id=\"search-error\"")
        .nth(1)
        .expect("an error in the page");
    let error = &error[..error.find("</p>").expect("end")];
    assert!(error.contains("subject_iin is not a valid IIN"), "{error}");
    assert!(!error.contains(&wrong));
    // The form keeps what was typed (and only there).
    assert_eq!(page.text.matches(&wrong).count(), 1, "{}", page.text);

    let page = send(
        http.get(app.url("/audit?since=soon&kind=in"))
            .header("cookie", &session),
    )
    .await;
    assert_eq!(page.status, 422);
    assert!(page.text.contains("since: expected an RFC 3339 time"));
    assert!(page.text.contains("<option value=\"in\" selected>"));
}

#[tokio::test]
async fn the_verification_page_and_a_missing_transfer() {
    let app = TestApp::spawn().await;
    let iin = person(1);
    app.consent(&iin).await;
    assert_eq!(app.credit_report(&iin, None).await.status, 200);
    let http = plain_http();
    let session = format!("kuzet_audit={}", app.token(Role::Auditor));
    let page = send(
        http.get(app.url("/audit/verify"))
            .header("cookie", &session),
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("The chain holds: 2 entries"),
        "{}",
        page.text
    );
    assert!(page.text.contains("tip_hash"));

    let page = send(
        http.get(app.url("/audit/transfers/0190f5a4-0000-7000-8000-000000000000"))
            .header("cookie", &session),
    )
    .await;
    assert_eq!(page.status, 404);
    assert!(page.text.contains("transfer_not_found"));
}

// ---------------------------------------------------------------------------------------------
// The browser

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Chromium and its WebDriver, or why the test cannot run.
fn browser() -> Result<(PathBuf, PathBuf), String> {
    let chromium = ["chromium", "chromium-browser"]
        .iter()
        .find_map(|n| on_path(n))
        .ok_or("no chromium on PATH (apt-get install chromium)")?;
    let driver = on_path("chromedriver")
        .ok_or("no chromedriver on PATH (apt-get install chromium-driver)")?;
    Ok((chromium, driver))
}

/// A running chromedriver on a port it chose itself; killed when dropped.
struct Driver {
    _child: tokio::process::Child,
    url: String,
}

async fn start_driver(path: &Path) -> Driver {
    let mut child = tokio::process::Command::new(path)
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromedriver");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let port = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("chromedriver output") {
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                return rest.trim_end_matches('.').trim().parse::<u16>().ok();
            }
        }
        None
    })
    .await
    .expect("chromedriver starts within 30 s")
    .expect("chromedriver names its port");
    // Keep reading what it prints so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Driver {
        _child: child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

fn require_chromium() -> bool {
    std::env::var("KUZET_REQUIRE_CHROMIUM").is_ok_and(|v| v == "1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_signs_in_searches_by_iin_and_opens_a_transfer_in_chromium() {
    let (chromium, driver_path) = match browser() {
        Ok(found) => found,
        Err(why) if !require_chromium() => {
            eprintln!("audit_web browser test skipped: {why}");
            return;
        }
        Err(why) => panic!("KUZET_REQUIRE_CHROMIUM=1 but {why}"),
    };
    let app = TestApp::spawn().await;
    let (a, b) = (person(1), person(2));
    app.consent_to(&a, &["fcb", "gcvp"]).await;
    app.consent(&b).await;
    assert_eq!(app.credit_report(&a, None).await.status, 200);
    assert_eq!(app.credit_report(&b, None).await.status, 200);
    let income = app.income(&a).await;
    assert_eq!(income.status, 200, "{}", income.body);
    let income_transfer = income.body["transfer_id"].as_str().expect("id").to_owned();

    let driver = start_driver(&driver_path).await;
    let profile = tempfile::tempdir().expect("profile dir");
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new",
                // Root in CI and containers: Chromium's sandbox needs namespaces it may lack.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1440,900",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        },
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!("an object literal")
    };
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session");

    let result = async {
        c.goto(&app.url("/audit")).await?;
        c.wait()
            .for_element(Locator::Id("token"))
            .await?
            .send_keys(app.token(Role::Auditor))
            .await?;
        c.find(Locator::Css("form#sign-in button[type=submit]"))
            .await?
            .click()
            .await?;
        c.wait()
            .for_element(Locator::Id("subject_iin"))
            .await?
            .send_keys(&a)
            .await?;
        c.find(Locator::Id("search-button")).await?.click().await?;
        c.wait()
            .for_element(Locator::Css("#summary[data-filters~=\"subject_iin\"]"))
            .await?;

        // Newest first: the income transfer, then the credit report; B's is not there.
        let rows = c.find_all(Locator::Css("#results tbody tr")).await?;
        let mut seen = Vec::new();
        for row in &rows {
            let recipient = row.find(Locator::Css("td.recipient")).await?.text().await?;
            let operation = row.find(Locator::Css("td.operation")).await?.text().await?;
            seen.push(format!("{recipient}/{operation}"));
        }
        assert_eq!(
            seen,
            [
                "gcvp/income",
                "gcvp/income",
                "fcb/credit-report",
                "fcb/credit-report"
            ]
        );
        let shot = c.screenshot().await?;
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/audit-screenshot.png");
        std::fs::create_dir_all(path.parent().expect("target")).expect("target dir");
        std::fs::write(&path, shot).expect("write the screenshot");

        rows[0]
            .find(Locator::Css("a.transfer-link"))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Css("section.entry")).await?;
        let title = c.find(Locator::Css("h1")).await?.text().await?;
        assert!(title.contains(&income_transfer), "{title}");
        let entries = c.find_all(Locator::Css("section.entry")).await?;
        let mut kinds = Vec::new();
        for e in &entries {
            kinds.push(e.attr("data-kind").await?.unwrap_or_default());
        }
        assert_eq!(kinds, ["out", "in"]);
        let sent = entries[0]
            .find(Locator::Css("td.fields"))
            .await?
            .text()
            .await?;
        assert!(sent.contains("subject.iin"), "{sent}");
        let source = c.source().await?;
        assert!(!source.contains(&a), "the IIN on the transfer page");
        let shot = c.screenshot().await?;
        std::fs::write(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/audit-transfer-screenshot.png"),
            shot,
        )
        .expect("write the screenshot");
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.close().await;
    result.expect("the browser session");
}
