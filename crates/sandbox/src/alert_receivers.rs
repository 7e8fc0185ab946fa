//! Where tests send alerts: a webhook receiver (an HTTP server that keeps every JSON body it is
//! posted, as a Slack or Teams incoming webhook would take it) and a real SMTP server (Python's
//! `aiosmtpd` from PyPI, started as a process) that writes every message it accepts to a file.
//!
//! Not emulators of a vendor: real parts an operator's alerts go to. Used by tests only.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::RunningServer;

#[derive(Default)]
struct Inbox {
    received: Vec<Value>,
    /// Statuses to answer the next posts with (then 200).
    answers: VecDeque<u16>,
}

/// An HTTP server taking webhook posts at `/hook`.
pub struct WebhookReceiver {
    server: RunningServer,
    inbox: Arc<Mutex<Inbox>>,
}

async fn take(State(inbox): State<Arc<Mutex<Inbox>>>, body: axum::Json<Value>) -> StatusCode {
    let mut inbox = inbox.lock().unwrap_or_else(|p| p.into_inner());
    let status = inbox.answers.pop_front().unwrap_or(200);
    if status == 200 {
        inbox.received.push(body.0);
    }
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl WebhookReceiver {
    pub async fn start() -> std::io::Result<WebhookReceiver> {
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let router = Router::new()
            .route("/hook", post(take))
            .with_state(inbox.clone());
        let listen: SocketAddr = ([127, 0, 0, 1], 0).into();
        Ok(WebhookReceiver {
            server: RunningServer::start(listen, router).await?,
            inbox,
        })
    }

    /// The URL to configure.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.server.address())
    }

    /// Every body accepted so far, in order.
    pub fn received(&self) -> Vec<Value> {
        self.inbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .received
            .clone()
    }

    /// Answers the next `statuses.len()` posts with these statuses (not keeping them), then 200.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.inbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .answers
            .extend(statuses);
    }
}

/// One message the SMTP server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub message_id: String,
    /// The user that logged in (AUTH), if any.
    pub login: Option<String>,
}

/// The SMTP server: `aiosmtpd` on a port of its own, accepting AUTH as `user` / `password`
/// (without TLS: it is local), writing each message as a JSON file.
pub struct SmtpReceiver {
    _child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

const SERVER: &str = r#"
import email, email.policy, json, os, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

outdir, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def authenticate(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
            and auth_data.password.decode() == password:
        return AuthResult(success=True, auth_data=user)
    return AuthResult(success=False, handled=False)

class Handler:
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        record = {
            "from": envelope.mail_from, "to": list(envelope.rcpt_tos),
            "subject": str(message["subject"] or ""), "body": message.get_content(),
            "message_id": str(message["message-id"] or ""),
            "login": session.auth_data if session.authenticated else None,
        }
        name = os.path.join(outdir, "%d" % time.time_ns())
        with open(name + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(name + ".tmp", name + ".json")
        return "250 Message accepted"

controller = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=authenticate,
                        auth_require_tls=False, auth_required=False)
controller.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;

impl SmtpReceiver {
    /// Starts the server; `None` (saying `SKIPPED: …`) when Python's `aiosmtpd` is missing,
    /// except under `CI=true`, where that fails the test (`.ci/run` installs it).
    pub async fn start(test: &str, user: &str, password: &str) -> Option<SmtpReceiver> {
        let available = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .is_ok_and(|s| s.success());
        if !available {
            let why = "Python's aiosmtpd is missing (pip install aiosmtpd)";
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "{test}: the SMTP test is mandatory under CI=true: {why}"
            );
            println!("SKIPPED: {test}: {why}");
            return None;
        }
        let dir = tempfile::tempdir().expect("a directory for received mail");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SERVER)
            .arg(dir.path())
            .arg(port.to_string())
            .arg(user)
            .arg(password)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the SMTP server exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "the SMTP server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(SmtpReceiver {
            _child: child,
            port,
            dir,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message accepted so far, in order of arrival.
    pub fn received(&self) -> Vec<ReceivedMail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .filter_map(|text| serde_json::from_str::<Value>(&text).ok())
            .map(|v| {
                let text = |key: &str| v[key].as_str().unwrap_or_default().to_string();
                ReceivedMail {
                    from: text("from"),
                    to: v["to"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                    subject: text("subject"),
                    body: text("body"),
                    message_id: text("message_id"),
                    login: v["login"].as_str().map(str::to_string),
                }
            })
            .collect()
    }
}
