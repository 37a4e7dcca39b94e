//! `kuzet mocks`: the standalone mock server, driven from outside through its control endpoint.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

struct Mocks(Child);

impl Drop for Mocks {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `kuzet mocks` on a free port and returns it with its base URL (read from its output).
fn start() -> (Mocks, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kuzet"))
        .args(["mocks", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kuzet mocks starts");
    let stdout = child.stdout.take().expect("stdout");
    let mocks = Mocks(child);
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let url = first
        .strip_prefix("mock First Credit Bureau: ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"));
    let base = url
        .strip_suffix("/FCBServices/Service")
        .expect("the bureau's path")
        .to_owned();
    (mocks, base)
}

#[tokio::test]
async fn the_standalone_mocks_take_faults_and_keep_a_journal() {
    kuzet_transport::install_crypto_provider();
    let (_mocks, base) = start();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/__mock/faults"))
        .json(&json!({"party": "fcb", "fault": "http_503", "count": 1}))
        .send()
        .await
        .expect("control");
    assert_eq!(r.status().as_u16(), 204);
    let r = http
        .post(format!("{base}/FCBServices/Service"))
        .header("SOAPAction", "\"http://ws.creditinfo.com/GetReport\"")
        .body("<not-even-soap/>")
        .send()
        .await
        .expect("call");
    assert_eq!(r.status().as_u16(), 503, "the fault comes first");
    let journal: Value = http
        .get(format!("{base}/__mock/journal"))
        .send()
        .await
        .expect("journal")
        .json()
        .await
        .expect("json");
    let entries = journal["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{journal}");
    assert_eq!(entries[0]["party"], "fcb");
    assert_eq!(entries[0]["operation"], "GetReport");
    let r = http
        .delete(format!("{base}/__mock/faults"))
        .send()
        .await
        .expect("clear");
    assert_eq!(r.status().as_u16(), 204);
}
