//! A real HTTP receiver for webhooks on a loopback port: plain HTTP/1.1 over std TCP, one thread
//! per connection, keep-alive. It records every request (raw body, headers) and answers as
//! told: a status with a body, or silence (a receiver that hangs).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16, String),
    /// Reads the request, says nothing for this long, then closes the connection.
    Hang(Duration),
    /// Answers this status after this long.
    Slow(Duration, u16),
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: String,
    /// The status answered, or `None` when the receiver hung.
    pub answered: Option<u16>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("a webhook body that is not JSON ({e}): {}", self.body))
    }
}

pub struct Receiver {
    pub port: u16,
    answer: Arc<Mutex<Answer>>,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl Receiver {
    /// Listens on `port` (0: any free port), answering 200 until told otherwise.
    pub fn start(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let answer = Arc::new(Mutex::new(Answer::Status(200, "ok".into())));
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let live = Arc::new(Mutex::new(Vec::new()));
        let (a, r, s, l) = (answer.clone(), received.clone(), stop.clone(), live.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                l.lock().unwrap().push(stream.try_clone().unwrap());
                let (a, r) = (a.clone(), r.clone());
                std::thread::spawn(move || serve(stream, &a, &r));
            }
        });
        Receiver { port, answer, received, stop, live }
    }

    /// A loopback port nothing listens on (yet): connections to it are refused.
    pub fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/relay", self.port)
    }

    pub fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Requests carrying this `webhook-id`.
    pub fn with_id(&self, id: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.header("webhook-id") == id).collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for s in self.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn serve(stream: TcpStream, answer: &Mutex<Answer>, received: &Mutex<Vec<Received>>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        let how = answer.lock().unwrap().clone();
        match how {
            Answer::Status(status, text) => {
                received.lock().unwrap().push(Received { headers, body, answered: Some(status) });
                let head = format!(
                    "HTTP/1.1 {status} Answer\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n",
                    text.len()
                );
                if writer.write_all(head.as_bytes()).and_then(|()| writer.write_all(text.as_bytes())).is_err() {
                    return;
                }
            }
            Answer::Slow(d, status) => {
                received.lock().unwrap().push(Received { headers, body, answered: Some(status) });
                std::thread::sleep(d);
                let head = format!("HTTP/1.1 {status} Answer\r\ncontent-length: 0\r\n\r\n");
                if writer.write_all(head.as_bytes()).is_err() {
                    return;
                }
            }
            Answer::Hang(d) => {
                received.lock().unwrap().push(Received { headers, body, answered: None });
                std::thread::sleep(d);
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }
}
