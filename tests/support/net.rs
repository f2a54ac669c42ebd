//! Network peers for the hardening tests, all on 127.0.0.1: an HTTPS GitLab with its own CA, a
//! CONNECT proxy that records what it carried (or trickles its reply), and a server that accepts
//! and never answers.
#![allow(dead_code)]

use super::gitlab::{Job, OWN_JOB_ID, PIPELINE_ID, render};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A private CA and a server certificate it signed for `localhost` and `127.0.0.1`.
pub struct Pki {
    pub ca_pem: String,
    pub server_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    pub server_key: Vec<u8>,
}

pub fn make_pki() -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "gljob test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "gitlab.test");
    let server_cert = params
        .signed_by(&server_key, &issuer)
        .expect("server certificate");
    Pki {
        ca_pem: ca_cert.pem(),
        server_chain: vec![server_cert.der().clone()],
        server_key: server_key.serialize_der(),
    }
}

/// An HTTPS server that answers every request with this job's `GET /job` payload.
pub struct TlsGitLab {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl TlsGitLab {
    pub fn start(pki: &Pki) -> TlsGitLab {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(pki.server_key.clone().into());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(pki.server_chain.clone(), key)
            .expect("server certificate");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let config = Arc::clone(&config);
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || serve_tls(stream, config, seen));
            }
        });
        TlsGitLab { port, requests }
    }
}

fn serve_tls(stream: TcpStream, config: Arc<rustls::ServerConfig>, seen: Arc<Mutex<Vec<String>>>) {
    let Ok(connection) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(connection, stream);
    let Some(head) = read_head(&mut tls) else {
        return;
    };
    seen.lock().unwrap().push(head);
    let mut own = Job::new(OWN_JOB_ID, "deploy-gate", "deploy", "running");
    own.pipeline_id = PIPELINE_ID;
    let body = render(&own).to_string();
    let _ = write!(
        tls,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

/// Reads an HTTP request head (up to the blank line), or `None` if the peer went away.
fn read_head(stream: &mut impl Read) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
        if head.len() > 64 * 1024 {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// A CONNECT proxy that records each request head it received, then tunnels.
pub struct Proxy {
    pub port: u16,
    pub heads: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    pub fn start() -> Proxy {
        Proxy::serving(None)
    }

    /// A proxy whose `200 Connection established` reply goes out one byte every `per_byte`, each
    /// byte well within any per-read timeout: only a bound on the whole exchange stops it.
    pub fn trickling(per_byte: Duration) -> Proxy {
        Proxy::serving(Some(per_byte))
    }

    fn serving(trickle: Option<Duration>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&heads);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || tunnel(stream, seen, trickle));
            }
        });
        Proxy { port, heads }
    }

    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

fn tunnel(mut client: TcpStream, seen: Arc<Mutex<Vec<String>>>, trickle: Option<Duration>) {
    let Some(head) = read_head(&mut client) else {
        return;
    };
    seen.lock().unwrap().push(head.clone());
    let request_line = head.lines().next().unwrap_or_default().to_string();
    let mut parts = request_line.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let Ok(upstream) = TcpStream::connect(target) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let reply = b"HTTP/1.1 200 Connection established\r\n\r\n";
    match trickle {
        Some(per_byte) => {
            for byte in reply {
                std::thread::sleep(per_byte);
                if client.write_all(&[*byte]).is_err() {
                    return;
                }
            }
        }
        None => {
            let _ = client.write_all(reply);
        }
    }
    let (mut client_read, mut upstream_write) = (
        client.try_clone().expect("clone"),
        upstream.try_clone().expect("clone"),
    );
    let forward = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_read, &mut upstream_write);
        let _ = upstream_write.shutdown(Shutdown::Write);
    });
    let mut upstream_read = BufReader::new(upstream);
    let _ = std::io::copy(&mut upstream_read, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = forward.join();
    let _ = upstream_read.fill_buf();
}

/// Accepts connections and never answers: a hung GitLab or proxy.
pub struct Silent {
    pub port: u16,
}

impl Silent {
    pub fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        Silent { port }
    }
}
