//! The accept loop (`api::server`) over real sockets on 127.0.0.1: slow-header clients and idle
//! keep-alive connections are closed, the connection cap holds clients back until a slot frees,
//! shutdown lets an in-flight request finish, and writes see the socket's peer address.

use std::net::SocketAddr;
use std::time::Duration;

use api::server::{ConnectionLimits, Drain};
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::helpers::{Serving, TestApp};

/// Bounds every wait on the server: a failure, never a hang.
const HANG_GUARD: Duration = Duration::from_secs(15);
const HEALTH: &[u8] = b"GET /api/health-check HTTP/1.1\r\nHost: localhost\r\n\r\n";

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<Drain, api::server::LimitsError>>,
}

impl Running {
    async fn start(router: axum::Router, limits: ConnectionLimits) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(api::server::serve(
            listener,
            router,
            limits,
            async move {
                let _ = stopped.await;
            },
            Duration::from_secs(5),
        ));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn connect(&self) -> TcpStream {
        tokio::time::timeout(HANG_GUARD, TcpStream::connect(self.addr))
            .await
            .unwrap()
            .unwrap()
    }

    async fn shut_down(mut self) -> Drain {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(HANG_GUARD, self.task)
            .await
            .unwrap()
            .unwrap()
            .unwrap()
    }
}

/// Connection limits: header-read and idle timeouts in seconds, and the connection cap.
fn limits(header_read_secs: u64, idle_secs: u64, max_connections: usize) -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_secs(header_read_secs),
        idle_timeout: Duration::from_secs(idle_secs),
        max_connections,
        ..ConnectionLimits::default()
    }
}

/// Reads one response whose body is `Content-Length` long; `None` if the server closed first.
async fn read_response(stream: &mut TcpStream) -> Option<String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&buffer).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                return Some(text);
            }
        }
        let n = tokio::time::timeout(HANG_GUARD, stream.read(&mut chunk))
            .await
            .expect("the server neither answered nor closed")
            .unwrap_or(0);
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// Waits for the server to close `stream`: end of stream, or a reset when it closed with bytes
/// unread — both mean closed; a hang (the guard) means open.
async fn closed_by_server(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout(HANG_GUARD, stream.read(&mut chunk)).await {
            Err(_) => panic!("the server kept the connection open"),
            Ok(Ok(0)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Ok(Err(e)) => panic!("unexpected read error: {e}"),
        }
    }
}

#[tokio::test]
async fn slow_header_clients_are_closed_after_the_header_timeout_while_others_are_served() {
    let app = TestApp::seeded().await;
    let server = Running::start(app.router.clone(), limits(1, 1, 100)).await;
    let mut slow = Vec::new();
    for _ in 0..40 {
        let mut stream = server.connect().await;
        stream
            .write_all(b"GET /api/health-check HTTP/1.1\r\nHost: loc")
            .await
            .unwrap();
        slow.push(stream);
    }
    let mut other = server.connect().await;
    other.write_all(HEALTH).await.unwrap();
    let answer = read_response(&mut other).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    for stream in &mut slow {
        let sent = closed_by_server(stream).await;
        assert_eq!(sent, b"", "closed without an answer");
    }
    assert_eq!(server.shut_down().await, Drain::Complete);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = TestApp::seeded().await;
    // The header clock (60 s) is far beyond the guard: only the idle timeout can close it.
    let server = Running::start(app.router.clone(), limits(60, 1, 100)).await;
    // A client still sending its first request's headers is the header timeout's, not idle.
    let mut slow = server.connect().await;
    slow.write_all(b"GET /api/health-check HTTP/1.1\r\n")
        .await
        .unwrap();
    let mut stream = server.connect().await;
    stream.write_all(HEALTH).await.unwrap();
    let answer = read_response(&mut stream).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("connection: close"),
        "kept alive at first: {answer}"
    );
    assert_eq!(closed_by_server(&mut stream).await, b"");
    let mut byte = [0u8; 1];
    assert_eq!(
        slow.try_read(&mut byte).map_err(|e| e.kind()),
        Err(std::io::ErrorKind::WouldBlock),
        "the slow client is still open"
    );
    slow.write_all(b"Host: localhost\r\n\r\n").await.unwrap();
    let late = read_response(&mut slow).await.unwrap();
    assert!(late.starts_with("HTTP/1.1 200"), "{late}");
    assert_eq!(server.shut_down().await, Drain::Complete);
}

/// A route `/hold` whose every request is answered only once `open` turns true.
fn hold_all_route() -> (axum::Router, tokio::sync::watch::Sender<bool>) {
    let (open, opened) = tokio::sync::watch::channel(false);
    let routes = axum::Router::new().route(
        "/hold",
        get(move || {
            let mut opened = opened.clone();
            async move {
                let _ = opened.wait_for(|open| *open).await;
                "done"
            }
        }),
    );
    (
        api::serve_layers(routes, &api::RouterOptions::default()),
        open,
    )
}

#[tokio::test]
async fn at_the_connection_cap_the_longest_idle_connection_makes_room_for_a_new_client() {
    let app = TestApp::seeded().await;
    let server = Running::start(app.router.clone(), limits(60, 60, 2)).await;
    // Two connections, each answered once (so both are surely accepted), then kept open idle.
    let mut first = server.connect().await;
    let mut second = server.connect().await;
    for stream in [&mut first, &mut second] {
        stream.write_all(HEALTH).await.unwrap();
        assert!(read_response(stream)
            .await
            .unwrap()
            .starts_with("HTTP/1.1 200"));
    }
    let mut third = server.connect().await;
    third.write_all(HEALTH).await.unwrap();
    let answer = tokio::time::timeout(HANG_GUARD, read_response(&mut third))
        .await
        .expect("served at once")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        closed_by_server(&mut first).await,
        b"",
        "the longest idle one gave way"
    );
    // The other is still served.
    second.write_all(HEALTH).await.unwrap();
    assert!(read_response(&mut second)
        .await
        .unwrap()
        .starts_with("HTTP/1.1 200"));
    drop((second, third));
    assert_eq!(server.shut_down().await, Drain::Complete);
}

#[tokio::test]
async fn at_the_connection_cap_with_every_connection_busy_a_new_client_waits_for_one() {
    let (app, open) = hold_all_route();
    let server = Running::start(app, limits(60, 60, 2)).await;
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut stream = server.connect().await;
        stream
            .write_all(b"GET /hold HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        busy.push(stream);
    }
    // Both requests are in flight before the third arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = server.connect().await;
    third
        .write_all(b"GET /hold HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await;
    assert!(
        early.is_err(),
        "a busy connection was closed, or the cap passed"
    );
    open.send(true).unwrap();
    for (i, stream) in busy.iter_mut().chain([&mut third]).enumerate() {
        let answer = read_response(stream)
            .await
            .unwrap_or_else(|| panic!("connection {i} closed without its answer"));
        assert!(answer.ends_with("done"), "{answer}");
    }
    drop((busy, third));
    assert_eq!(server.shut_down().await, Drain::Complete);
}

/// A client connection from `source` (another loopback address: a client of its own).
async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    tokio::time::timeout(HANG_GUARD, socket.connect(to))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn one_address_holds_at_most_its_cap_while_others_are_served() {
    let app = TestApp::seeded().await;
    let server = Running::start(
        app.router.clone(),
        ConnectionLimits {
            max_connections_per_address: 3,
            ..ConnectionLimits::default()
        },
    )
    .await;
    // Silent connections from one address: three are kept, the rest closed at once.
    let mut silent = Vec::new();
    for _ in 0..6 {
        silent.push(connect_from("127.0.0.3", server.addr).await);
    }
    let mut closed = 0;
    for stream in &mut silent {
        let mut byte = [0u8; 1];
        if let Ok(read) =
            tokio::time::timeout(Duration::from_millis(300), stream.read(&mut byte)).await
        {
            assert_eq!(read.unwrap_or(0), 0, "closed without an answer");
            closed += 1;
        }
    }
    assert_eq!(closed, 3, "three over the cap");
    // Another address is served meanwhile.
    let mut other = connect_from("127.0.0.4", server.addr).await;
    other.write_all(HEALTH).await.unwrap();
    assert!(read_response(&mut other)
        .await
        .unwrap()
        .starts_with("HTTP/1.1 200"));
    drop((silent, other));
    assert_eq!(server.shut_down().await, Drain::Complete);
}

/// A route `/held` whose handler says when it has started, then answers "done" only once
/// `release` fires (never, if it is dropped).
fn held_route() -> (axum::Router, oneshot::Receiver<()>, oneshot::Sender<()>) {
    let (entered, handler_entered) = oneshot::channel::<()>();
    let (release, released) = oneshot::channel::<()>();
    let once = std::sync::Arc::new(std::sync::Mutex::new(Some((entered, released))));
    let routes = axum::Router::new().route(
        "/held",
        get(move || {
            let taken = once.lock().unwrap().take();
            async move {
                if let Some((entered, released)) = taken {
                    let _ = entered.send(());
                    if released.await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
                "done"
            }
        }),
    );
    let app = api::serve_layers(routes, &api::RouterOptions::default());
    (app, handler_entered, release)
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish_then_refuses_new_connections() {
    let (app, handler_entered, release) = held_route();
    let server = Running::start(app, ConnectionLimits::default()).await;
    let mut idle = server.connect().await;
    let mut busy = server.connect().await;
    busy.write_all(b"GET /held HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    tokio::time::timeout(HANG_GUARD, handler_entered)
        .await
        .unwrap()
        .unwrap();
    let addr = server.addr;
    let drain = tokio::spawn(server.shut_down());
    // While the request is still held: idle connections close, new ones are refused.
    assert_eq!(closed_by_server(&mut idle).await, b"", "idle ones close");
    assert_eq!(
        TcpStream::connect(addr)
            .await
            .map(|_| ())
            .map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionRefused),
        "no longer accepting"
    );
    release.send(()).unwrap();
    let answer = read_response(&mut busy).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("done"), "{answer}");
    assert_eq!(
        tokio::time::timeout(HANG_GUARD, drain)
            .await
            .unwrap()
            .unwrap(),
        Drain::Complete
    );
}

#[tokio::test]
async fn shutdown_gives_up_on_a_request_that_outlasts_the_grace_period() {
    let (app, handler_entered, release) = held_route();
    drop(release); // the handler never answers
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(api::server::serve(
        listener,
        app,
        ConnectionLimits::default(),
        async move {
            let _ = stopped.await;
        },
        Duration::from_millis(200),
    ));
    let mut busy = TcpStream::connect(addr).await.unwrap();
    busy.write_all(b"GET /held HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    tokio::time::timeout(HANG_GUARD, handler_entered)
        .await
        .unwrap()
        .unwrap();
    stop.send(()).unwrap();
    let drain = tokio::time::timeout(HANG_GUARD, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(drain, Drain::TimedOut { open: 1 });
}

#[tokio::test]
async fn writes_over_a_real_socket_are_limited_by_the_peer_address() {
    let TestApp {
        db: _db, service, ..
    } = TestApp::seeded_with(|config| {
        config.write_limits = api::rate_limit::WriteLimits {
            per_address: Some("1/1h".parse().unwrap()),
            per_author: None,
            trust_proxy_hops: 0,
        };
    })
    .await;
    // The service on its own socket: the peer address must come from the accept loop itself.
    let server = Serving::start(service);
    let body = r#"{"message":"over a socket","ttl":"1-day","user_handle":"bayko"}"#;
    let request = format!(
        "POST /api/activities HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::time::timeout(HANG_GUARD, TcpStream::connect(server.addr))
        .await
        .unwrap()
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let first = read_response(&mut stream).await.unwrap();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(first.contains("x-ratelimit-remaining: 0"), "{first}");
    stream.write_all(request.as_bytes()).await.unwrap();
    let second = read_response(&mut stream).await.unwrap();
    assert!(second.starts_with("HTTP/1.1 429"), "{second}");
    assert!(second.ends_with(r#"["rate_limited"]"#), "{second}");
    // Another client, from 127.0.0.2, has an allowance of its own: the peer address counts.
    let other = tokio::net::TcpSocket::new_v4().unwrap();
    other.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = tokio::time::timeout(HANG_GUARD, other.connect(server.addr))
        .await
        .unwrap()
        .unwrap();
    other.write_all(request.as_bytes()).await.unwrap();
    let third = read_response(&mut other).await.unwrap();
    assert!(third.starts_with("HTTP/1.1 200"), "{third}");
    assert_eq!(server.stop().await, Drain::Complete);
}

#[tokio::test]
async fn a_connection_accepted_just_before_shutdown_gets_its_first_request_answered() {
    let app = TestApp::seeded().await;
    let mut server = Running::start(app.router.clone(), limits(5, 2, 100)).await;
    let mut early = server.connect().await;
    let mut silent = server.connect().await;
    // Both accepted by now, neither has sent a byte.
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop.take().unwrap().send(()).unwrap();
    // The stop has reached the connections: hyper alone would have closed both unread.
    tokio::time::sleep(Duration::from_millis(100)).await;
    early.write_all(HEALTH).await.unwrap();
    let answer = read_response(&mut early)
        .await
        .expect("answered, not dropped unread");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // One that never sends anything is closed after the short grace, not kept to the end.
    assert_eq!(closed_by_server(&mut silent).await, b"");
    let drain = tokio::time::timeout(HANG_GUARD, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(drain, Drain::Complete);
}

#[tokio::test]
async fn a_client_that_does_not_read_its_answer_is_cut_off_after_the_write_timeout() {
    const BIG: usize = 64 * 1024 * 1024;
    let routes = axum::Router::new().route("/big", get(|| async { vec![b'x'; BIG] }));
    let app = api::serve_layers(routes, &api::RouterOptions::default());
    let server = Running::start(
        app,
        ConnectionLimits {
            write_timeout: Duration::from_secs(1),
            ..ConnectionLimits::default()
        },
    )
    .await;
    let mut stream = server.connect().await;
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    // Take nothing for well past the write timeout: the socket buffers fill, the server stalls.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut received = 0usize;
    let mut head = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match tokio::time::timeout(HANG_GUARD, stream.read(&mut chunk)).await {
            Err(_) => panic!("the server kept the stalled connection open"),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                if head.len() < 12 {
                    head.extend_from_slice(&chunk[..n.min(12)]);
                }
                received += n;
            }
        }
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "the answer began: {:?}",
        String::from_utf8_lossy(&head)
    );
    assert!(
        received < BIG,
        "the whole answer came ({received} bytes): the server waited for the reader"
    );
    assert_eq!(server.shut_down().await, Drain::Complete);
}

#[tokio::test]
async fn a_request_head_past_16_kib_is_refused_and_one_within_is_served() {
    let app = TestApp::seeded().await;
    let server = Running::start(app.router.clone(), ConnectionLimits::default()).await;
    for (filler, status) in [(15 * 1024, "HTTP/1.1 200"), (17 * 1024, "HTTP/1.1 431")] {
        let mut stream = server.connect().await;
        let request = format!(
            "GET /api/health-check HTTP/1.1\r\nHost: localhost\r\nX-Filler: {}\r\nConnection: close\r\n\r\n",
            "f".repeat(filler)
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(HANG_GUARD, stream.read_to_end(&mut answer))
            .await
            .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with(status), "{filler}: {answer}");
    }
    assert_eq!(server.shut_down().await, Drain::Complete);
}

#[tokio::test]
async fn at_the_cap_a_connection_that_sent_part_of_a_head_is_dropped_at_once_to_make_room() {
    let app = TestApp::seeded().await;
    // A header timeout far beyond the wait below: only eviction can free a slot in time.
    let server = Running::start(app.router.clone(), limits(60, 60, 2)).await;
    let mut partial = Vec::new();
    for _ in 0..2 {
        let mut stream = server.connect().await;
        stream
            .write_all(b"GET /api/health-check HTTP/1.1\r\nHo")
            .await
            .unwrap();
        partial.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = server.connect().await;
    third.write_all(HEALTH).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), read_response(&mut third))
        .await
        .expect("served within 5 s, not after the 60 s header timeout")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        closed_by_server(&mut partial[0]).await,
        b"",
        "the oldest gave way"
    );
    drop((partial, third));
    assert_eq!(server.shut_down().await, Drain::Complete);
}
