//! Transport overhead: one call through the transport and the guard (rate limiter, breaker,
//! retry wrapper, concurrency cap) against a bare reqwest call to the same local server.
//! Goal: the guarded call ≤ 1.1× the bare one at the median.

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use kuzet_transport::{
    AttemptError, Failure, Guard, GuardConfig, HttpConfig, Retry, Transport, TransportError,
};

struct Err(TransportError);

impl AttemptError for Err {
    fn failure(&self) -> Failure {
        if self.0.is_transient() {
            Failure::Transient
        } else {
            Failure::Broken
        }
    }
    fn code(&self) -> &'static str {
        "transport"
    }
}

fn calls(c: &mut Criterion) {
    kuzet_transport::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let addr = rt.block_on(async {
        let app = axum::Router::new().route(
            "/service",
            axum::routing::post(|body: Bytes| async move { body }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    });
    let url = format!("http://{addr}/service");
    let body = Bytes::from(vec![b'x'; 2_048]);
    let bare = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .expect("client");
    let transport = Transport::new(&HttpConfig::default()).expect("transport");
    let guard = Guard::new(
        "bench",
        &GuardConfig {
            // A limit that never bites, so that the limiter's check is on the path.
            rate_per_second: 1_000_000,
            rate_burst: 1_000_000,
            ..GuardConfig::default()
        },
    )
    .expect("guard");

    let mut group = c.benchmark_group("transport");
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(6));
    group.bench_function("bare_reqwest", |b| {
        b.to_async(&rt).iter(|| async {
            let r = bare
                .post(&url)
                .body(body.clone())
                .send()
                .await
                .expect("send");
            r.bytes().await.expect("body").len()
        })
    });
    group.bench_function("transport_and_guard", |b| {
        b.to_async(&rt).iter(|| async {
            let deadline = Some(Instant::now() + Duration::from_secs(5));
            let r = guard
                .run(Retry::Safe, deadline, |_| async {
                    transport
                        .post(&url, &[("SOAPAction", "x")], body.clone(), deadline)
                        .await
                        .map_err(Err)
                })
                .await;
            match r {
                Ok(r) => r.body.len(),
                Result::Err(_) => panic!("the local server failed"),
            }
        })
    });
    group.finish();
}

criterion_group!(benches, calls);
criterion_main!(benches);
