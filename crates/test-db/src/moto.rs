//! One AWS API emulator (moto_server, installed into .venv by script/test) per test process, on
//! 127.0.0.1. Tests are isolated by region: moto keeps separate state per region. The server is
//! stopped when the test process ends, by a watcher waiting on a pipe.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const REGIONS: [&str; 32] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-south-1",
    "ca-central-1",
    "sa-east-1",
    "ap-northeast-3",
    "eu-south-1",
    "ap-east-1",
    "me-south-1",
    "af-south-1",
    "eu-central-2",
    "ap-southeast-3",
    "ap-south-2",
    "ca-west-1",
    "il-central-1",
    "me-central-1",
    "ap-southeast-4",
    "eu-south-2",
    "mx-central-1",
    "ap-southeast-5",
    "ap-southeast-7",
];
const READY_TIMEOUT: Duration = Duration::from_secs(60);
pub const FAKE_KEY: &str = "testing-access-key";
pub const FAKE_SECRET: &str = "testing-secret-key";

struct Moto {
    port: u16,
    _watcher: Child,
    _pipe: ChildStdin,
}

static MOTO: OnceLock<Moto> = OnceLock::new();
static NEXT_REGION: AtomicUsize = AtomicUsize::new(0);

fn moto_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
    if venv.is_file() {
        return venv;
    }
    panic!(
        "moto_server not found at {} (run script/test, which installs moto[server] into .venv, or set MOTO_SERVER)",
        venv.display()
    );
}

fn moto() -> &'static Moto {
    MOTO.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port on 127.0.0.1")
            .port();
        // The shell starts moto, then waits for our end of stdin to close (the test process
        // ending in any way) and stops it.
        let mut watcher = Command::new("/bin/sh")
            .args([
                "-c",
                r#""$0" -H 127.0.0.1 -p "$1" >/dev/null 2>&1 & pid=$!; read _ignored; kill "$pid" 2>/dev/null"#,
            ])
            .arg(moto_server_binary())
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("/bin/sh starts moto_server");
        let pipe = watcher.stdin.take().expect("the watcher's stdin is piped");
        let deadline = Instant::now() + READY_TIMEOUT;
        while !answers(port) {
            assert!(Instant::now() < deadline, "moto_server did not start on 127.0.0.1:{port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let moto = Moto {
            port,
            _watcher: watcher,
            _pipe: pipe,
        };
        reset(port);
        moto
    })
}

fn answers(port: u16) -> bool {
    http(
        port,
        "GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .is_some_and(|r| r.starts_with("HTTP/1.1 200") || r.starts_with("HTTP/1.0 200"))
}

fn reset(port: u16) {
    let response = http(
        port,
        "POST /moto-api/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .expect("moto reset");
    assert!(response.contains(" 200 "), "{response}");
}

fn http(port: u16, request: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

pub fn endpoint() -> String {
    format!("http://127.0.0.1:{}", moto().port)
}

/// A region of its own for one test.
pub fn fresh_region() -> &'static str {
    moto();
    let n = NEXT_REGION.fetch_add(1, Ordering::Relaxed);
    REGIONS
        .get(n)
        .copied()
        .expect("more AWS tests than isolated regions; add regions")
}

/// Creates secret `name` holding `value` in `region` (Secrets Manager's JSON protocol, by hand:
/// tests that need one secret need no SDK); its ARN.
pub fn create_secret(region: &str, name: &str, value: &str) -> String {
    let body = serde_json::json!({"Name": name, "SecretString": value}).to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: secretsmanager.{region}.amazonaws.com\r\nX-Amz-Target: secretsmanager.CreateSecret\r\nContent-Type: application/x-amz-json-1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential={FAKE_KEY}/20260101/{region}/secretsmanager/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = http(moto().port, &request).expect("moto answers");
    let json = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let parsed: serde_json::Value = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("CreateSecret answer {response}: {e}"));
    parsed["ARN"]
        .as_str()
        .unwrap_or_else(|| panic!("CreateSecret answer without ARN: {response}"))
        .to_owned()
}

/// The environment that aims the AWS SDK at the emulator in `region` with fake static
/// credentials and no instance metadata service (no traffic may leave loopback).
pub fn sdk_env(region: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint()),
        ("AWS_REGION", region.to_owned()),
        ("AWS_ACCESS_KEY_ID", FAKE_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", FAKE_SECRET.to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_CONFIG_FILE", "/nonexistent/aws-config".to_owned()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials".to_owned(),
        ),
    ]
}
