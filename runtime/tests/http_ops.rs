//! Health, readiness and `/metrics`, served over a real socket by `serve_on`.
#![cfg(feature = "http")]

use async_trait::async_trait;
use runtime::http::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

struct Switch(Arc<AtomicBool>);

#[async_trait]
impl ReadinessCheck for Switch {
    fn name(&self) -> &str {
        "broker"
    }
    async fn check(&self) -> Result<(), String> {
        if self.0.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err("not connected".into())
        }
    }
}

/// A minimal HTTP/1.1 GET over TCP (blocking std I/O on the blocking pool): (status, body).
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text.split(' ').nth(1).unwrap().parse().unwrap();
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_over_http() {
    let handle = install_metrics_recorder().unwrap();
    // Installing again (another router, another test of this binary) returns the same recorder.
    let again = install_metrics_recorder().unwrap();
    ::metrics::counter!("http_ops_test_total", "case" => "one").increment(3);
    assert!(again.render().contains("http_ops_test_total"));

    let ready = Arc::new(AtomicBool::new(false));
    let router = ops_router(vec![Arc::new(Switch(ready.clone()))], Some(handle));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_on(listener, router, async {
        stopped.await.ok();
    }));

    let (status, body) = get(addr, "/health/live").await;
    assert_eq!((status, body.contains("\"ok\"")), (200, true), "{body}");
    let (status, body) = get(addr, "/health/ready").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("not connected"), "{body}");
    ready.store(true, Ordering::SeqCst);
    let (status, body) = get(addr, "/health/ready").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"broker\":\"ok\""), "{body}");
    let (status, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("http_ops_test_total{case=\"one\"} 3"),
        "{body}"
    );

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
