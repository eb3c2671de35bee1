//! A TCP proxy on 127.0.0.1 in front of the harness's PostgreSQL that can lose an answer on
//! purpose: once armed with a marker, the first connection whose client sends those bytes has
//! the server's reply swallowed up to and including ReadyForQuery — sent only after the
//! transaction committed — and is then closed. The client sees a broken connection for a
//! statement that did commit: the unknown outcome of a crash right after COMMIT.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// ReadyForQuery with transaction status idle: the server's last message after a commit.
const READY_IDLE: [u8; 6] = [b'Z', 0, 0, 0, 5, b'I'];

#[derive(Default)]
struct Shared {
    marker: Mutex<Option<Vec<u8>>>,
    cuts: AtomicUsize,
    /// After the cut, new connections are refused (the database "stays out of reach").
    refuse_after_cut: AtomicBool,
}

pub(crate) struct CutProxy {
    port: u16,
    shared: Arc<Shared>,
}

impl CutProxy {
    pub(crate) async fn start(upstream_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let accept_shared = Arc::clone(&shared);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let shared = Arc::clone(&accept_shared);
                if shared.refuse_after_cut.load(Ordering::SeqCst)
                    && shared.cuts.load(Ordering::SeqCst) > 0
                {
                    drop(client);
                    continue;
                }
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)).await {
                        relay(client, server, shared).await;
                    }
                });
            }
        });
        Self { port, shared }
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Loses the answer to the next statement whose bytes contain `marker` (once).
    pub(crate) fn cut_after_commit(&self, marker: &str) {
        *self.shared.marker.lock().unwrap() = Some(marker.as_bytes().to_vec());
    }

    /// Like [`Self::cut_after_commit`], and then refuses every new connection.
    pub(crate) fn cut_after_commit_then_refuse(&self, marker: &str) {
        self.shared.refuse_after_cut.store(true, Ordering::SeqCst);
        self.cut_after_commit(marker);
    }

    /// Answers lost so far.
    pub(crate) fn cuts(&self) -> usize {
        self.shared.cuts.load(Ordering::SeqCst)
    }
}

async fn relay(client: TcpStream, server: TcpStream, shared: Arc<Shared>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let cut = Arc::new(AtomicBool::new(false));
    let upward_cut = Arc::clone(&cut);
    let upward_shared = Arc::clone(&shared);
    let upward = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            {
                let mut marker = upward_shared.marker.lock().unwrap();
                if marker
                    .as_ref()
                    .is_some_and(|m| chunk.windows(m.len()).any(|w| w == m.as_slice()))
                {
                    *marker = None;
                    upward_cut.store(true, Ordering::SeqCst);
                }
            }
            if server_write.write_all(chunk).await.is_err() {
                return;
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut swallowed: Vec<u8> = Vec::new();
    loop {
        let n = match server_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if cut.load(Ordering::SeqCst) {
            swallowed.extend_from_slice(&buf[..n]);
            if swallowed.ends_with(&READY_IDLE) {
                shared.cuts.fetch_add(1, Ordering::SeqCst);
                break;
            }
            continue;
        }
        if client_write.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    upward.abort();
    // Dropping both halves closes the client's socket without the answer.
}
