//! The HTTP load generator: keep-alive HTTP/1.1 over tokio TCP (no client library), run as a
//! closed loop (each connection sends its next request when the previous one is answered)
//! or an open loop (requests scheduled at a fixed rate, whatever the answers).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A parsed response head: status, where the body starts, its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Status code.
    pub status: u16,
    /// Offset of the body in the buffer.
    pub body_start: usize,
    /// `Content-Length` (0 when absent).
    pub body_len: usize,
    /// The server announced `Connection: close`.
    pub close: bool,
}

/// Parses the head of the HTTP/1.1 response at the start of `buf`: `Ok(None)` while the head
/// is incomplete. Chunked bodies are refused (the APIs send `Content-Length`).
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|e| e.to_string())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line `{status_line}`"))?;
    let (mut body_len, mut close) = (0, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "content-length" => body_len = value.parse().map_err(|_| "bad content-length")?,
            "connection" => close = value.eq_ignore_ascii_case("close"),
            "transfer-encoding" if value.eq_ignore_ascii_case("chunked") => {
                return Err("chunked responses are not supported".into());
            }
            _ => {}
        }
    }
    Ok(Some(Head {
        status,
        body_start: end + 4,
        body_len,
        close,
    }))
}

/// The bytes of a request with the given headers and body (`Content-Length` added).
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\n");
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// One keep-alive connection.
pub struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    /// A connection to `addr`, opened on first use (and again after the server closed it).
    pub fn new(addr: SocketAddr) -> Conn {
        Conn {
            addr,
            stream: None,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Sends `req` and reads the response: status and body.
    pub async fn send(&mut self, req: &[u8]) -> Result<(u16, Vec<u8>), String> {
        let stream = match &mut self.stream {
            Some(s) => s,
            None => {
                let s = TcpStream::connect(self.addr)
                    .await
                    .map_err(|e| format!("connect {}: {e}", self.addr))?;
                s.set_nodelay(true).ok();
                self.buf.clear();
                self.stream.insert(s)
            }
        };
        let result = async {
            stream.write_all(req).await.map_err(|e| e.to_string())?;
            loop {
                if let Some(head) = parse_head(&self.buf)? {
                    let end = head.body_start + head.body_len;
                    while self.buf.len() < end {
                        read_more(stream, &mut self.buf).await?;
                    }
                    let body = self.buf[head.body_start..end].to_vec();
                    self.buf.drain(..end);
                    return Ok((head, body));
                }
                read_more(stream, &mut self.buf).await?;
            }
        }
        .await;
        match result {
            Ok((head, body)) => {
                if head.close {
                    self.stream = None;
                }
                Ok((head.status, body))
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(), String> {
    let mut chunk = [0u8; 8192];
    let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
        .await
        .map_err(|_| "no response within 30 s".to_owned())?
        .map_err(|e| e.to_string())?;
    if n == 0 {
        return Err("connection closed".into());
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// One answered request.
#[derive(Clone, Debug)]
pub struct Answer {
    /// Sequence number of the request.
    pub seq: u64,
    /// When the response was read.
    pub answered: Instant,
    /// Status code (0 when the request failed at the transport).
    pub status: u16,
}

/// How requests are paced.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// Each connection sends its next request as soon as the previous one is answered,
    /// until the duration is over.
    Closed(Duration),
    /// `count` requests, the `i`-th sent at `start + i / rate` (late when every connection
    /// is busy).
    Open {
        /// Requests per second.
        rate: f64,
        /// Total requests.
        count: u64,
    },
}

/// Runs the load on `connections` connections to `addr`; `make(seq)` builds each request.
/// Returns every answer and the time the load took.
pub async fn run<F>(
    addr: SocketAddr,
    connections: usize,
    pace: Pace,
    make: F,
) -> (Vec<Answer>, Duration)
where
    F: Fn(u64) -> Vec<u8> + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (make, next) = (make.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            let mut answers = Vec::new();
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                match pace {
                    Pace::Closed(d) if start.elapsed() >= d => break,
                    Pace::Open { count, .. } if seq >= count => break,
                    Pace::Open { rate, .. } => {
                        let at = start + Duration::from_secs_f64(seq as f64 / rate);
                        tokio::time::sleep_until(at.into()).await;
                    }
                    Pace::Closed(_) => {}
                }
                let req = make(seq);
                let (status, _) = conn.send(&req).await.unwrap_or((0, Vec::new()));
                answers.push(Answer {
                    seq,
                    answered: Instant::now(),
                    status,
                });
            }
            answers
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    let took = start.elapsed();
    all.sort_by_key(|a| a.seq);
    (all, took)
}

/// How many answers had each status, as `"202: 1000, 503: 2"`.
pub fn status_counts(answers: &[Answer]) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for a in answers {
        *counts.entry(a.status).or_insert(0u64) += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_complete_head() {
        let raw = b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\nContent-Length: 2\r\n\r\n{}rest";
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.status, 202);
        assert_eq!(
            &raw[head.body_start..head.body_start + head.body_len],
            b"{}"
        );
        assert!(!head.close);
    }

    #[test]
    fn waits_for_an_incomplete_head_and_refuses_chunked() {
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap(), None);
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
        let close = parse_head(b"HTTP/1.1 503 X\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(close.close);
        assert_eq!(close.body_len, 0);
    }

    #[test]
    fn builds_requests_with_length() {
        let r = request("POST", "/p", &[("a", "b")], b"xyz");
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "POST /p HTTP/1.1\r\nHost: bench\r\na: b\r\nContent-Length: 3\r\n\r\nxyz"
        );
    }
}
