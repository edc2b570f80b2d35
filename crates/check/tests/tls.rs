//! TLS for SSL_GET against real `openssl s_server`s (needs root and openssl).
//!
//! Each test creates a network namespace `kctls-<pid>-<n>` with 192.0.2.1/24 and
//! 2001:db8::1/64 on its loopback, starts `openssl s_server` in it (`ip netns exec`) with a
//! certificate the test makes (`openssl req -x509`), and runs the client in a thread that
//! has entered the namespace (setns). Guards kill the server and delete the namespace and
//! the files, also when the test fails.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap (HELPERS brief)

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use keepalived_check::conv::{Conversation, Step};
use keepalived_check::spec::{HttpProbe, Outcome, Probe, RegexSpec, UrlSpec};
use keepalived_check::tls::{
    TlsMaterial, client_config, failure_reason, key_is_encrypted, server_name,
};
use keepalived_config::lvs::checker::{HttpProtocol, compile_regex};
use nix::sched::{CloneFlags, setns};
use rustls::{ClientConfig, ClientConnection, ProtocolVersion};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

const SERVER: &str = "192.0.2.1";
const PORT: u16 = 4433;

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A network namespace with addresses on its loopback; deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        let name = unique("kctls");
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("run ip netns add");
        assert!(
            out.status.success(),
            "ip netns add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns.ip(&["addr", "add", "192.0.2.1/24", "dev", "lo"]);
        ns.ip(&["addr", "add", "2001:db8::1/64", "dev", "lo", "nodad"]);
        ns
    }

    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .output()
            .expect("run ip");
        assert!(
            out.status.success(),
            "ip -n {} {}: {}",
            self.name,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs `f` in a thread inside the namespace.
    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        thread::scope(|s| {
            let h = s.spawn(move || {
                let ns = File::open(&path).expect("open the namespace");
                setns(&ns, CloneFlags::CLONE_NEWNET).expect("setns");
                f()
            });
            match h.join() {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            }
        })
    }

    /// Starts `openssl s_server -www` on 192.0.2.1:4433 with `args`, and waits until it
    /// accepts connections.
    fn s_server(&self, dir: &Dir, args: &[&str]) -> Server {
        let log = File::create(dir.path("s_server.log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name, "openssl", "s_server", "-www"])
            .args(["-accept", &format!("{SERVER}:{PORT}")])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start openssl s_server");
        let server = Server {
            child,
            log: dir.path("s_server.log"),
        };
        let ready = self.run(|| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if TcpStream::connect_timeout(&addr(), Duration::from_millis(200)).is_ok() {
                    return true;
                }
                thread::sleep(Duration::from_millis(50));
            }
            false
        });
        assert!(ready, "s_server did not start: {}", server.log_text());
        server
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// An `openssl s_server`, killed on drop.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        let p = std::env::temp_dir().join(unique("kctls"));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA `<name>-ca.pem` (self-signed, P-256) and a certificate `<name>.pem` with key
/// `<name>.key` it issued for rs.test and 192.0.2.1; the certificate's and key's paths.
fn make_cert(dir: &Dir, name: &str) -> (PathBuf, PathBuf) {
    let p = |s: &str| {
        dir.path(&format!("{name}{s}"))
            .to_str()
            .unwrap()
            .to_string()
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &format!("/CN={name} CA"),
        "-keyout",
        &p("-ca.key"),
        "-out",
        &p("-ca.pem"),
    ]);
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        &format!("/CN={name}"),
        "-keyout",
        &p(".key"),
        "-out",
        &p(".csr"),
    ]);
    std::fs::write(
        p(".ext"),
        "subjectAltName=DNS:rs.test,IP:192.0.2.1\nbasicConstraints=CA:FALSE\n\
         extendedKeyUsage=serverAuth,clientAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p(".csr"),
        "-CA",
        &p("-ca.pem"),
        "-CAkey",
        &p("-ca.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &p(".ext"),
        "-out",
        &p(".pem"),
    ]);
    (PathBuf::from(p(".pem")), PathBuf::from(p(".key")))
}

fn addr() -> SocketAddr {
    SocketAddr::new(SERVER.parse().unwrap(), PORT)
}

/// Why a connection failed.
#[derive(Debug)]
enum Failure {
    Tls(rustls::Error),
    Io(std::io::Error),
}

/// Connects and completes the handshake; the connection and its socket.
fn handshake(
    config: Arc<ClientConfig>,
    sni: Option<&str>,
) -> Result<(ClientConnection, TcpStream), Failure> {
    let mut sock =
        TcpStream::connect_timeout(&addr(), Duration::from_secs(5)).map_err(Failure::Io)?;
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let name = server_name(sni, SERVER.parse::<IpAddr>().unwrap()).unwrap();
    let mut conn = ClientConnection::new(config, name).map_err(Failure::Tls)?;
    while conn.is_handshaking() {
        while conn.wants_write() {
            conn.write_tls(&mut sock).map_err(Failure::Io)?;
        }
        if conn.is_handshaking() && conn.wants_read() {
            let n = conn.read_tls(&mut sock).map_err(Failure::Io)?;
            let state = conn.process_new_packets().map_err(Failure::Tls);
            // Send the alert rustls queued for a failure.
            while conn.wants_write() {
                if conn.write_tls(&mut sock).is_err() {
                    break;
                }
            }
            state?;
            if n == 0 {
                return Err(Failure::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }
    while conn.wants_write() {
        conn.write_tls(&mut sock).map_err(Failure::Io)?;
    }
    Ok((conn, sock))
}

/// The reason a handshake failed, as the checker logs it.
fn reason(config: Arc<ClientConfig>, sni: Option<&str>) -> String {
    match handshake(config, sni) {
        Ok((c, _)) => panic!("the handshake succeeded ({:?})", c.protocol_version()),
        Err(Failure::Tls(e)) => {
            eprintln!("rustls error: {e:?}");
            failure_reason(&e)
        }
        Err(Failure::Io(e)) => panic!("I/O error: {e}"),
    }
}

/// Runs an SSL_GET conversation for `/` over an established connection.
fn ssl_get(conn: &mut ClientConnection, sock: &mut TcpStream, regex: Option<&str>) -> Outcome {
    let probe = Probe::Http(Box::new(HttpProbe {
        tls: true,
        protocol: HttpProtocol::Http10,
        sni: None,
        tls_compliant: false,
        fast_recovery: false,
        urls: vec![UrlSpec {
            path: "/".into(),
            host: format!("{SERVER}:{PORT}"),
            digest: None,
            status: vec![(200, 299)],
            regex: regex.map(|r| RegexSpec {
                regex: compile_regex(r, &[]).unwrap(),
                no_match: false,
                min_offset: 0,
                max_offset: None,
            }),
        }],
    }));
    let mut c = Conversation::new(&probe, 0).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "the conversation took too long");
        if let Some(out) = c.output() {
            conn.writer().write_all(&out).unwrap();
        }
        while conn.wants_write() {
            conn.write_tls(sock).unwrap();
        }
        let n = conn.read_tls(sock).unwrap();
        if let Err(e) = conn.process_new_packets() {
            return Outcome::Down(failure_reason(&e));
        }
        let mut buf = [0u8; 4096];
        loop {
            match conn.reader().read(&mut buf) {
                Ok(0) => {
                    if let Step::Done(o) = c.end_of_stream() {
                        return o;
                    }
                    panic!("no outcome at close_notify");
                }
                Ok(k) => {
                    if let Step::Done(o) = c.input(&buf[..k]) {
                        return o;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    // The server closed without close_notify: the end of the stream.
                    let _ = e;
                    if let Step::Done(o) = c.end_of_stream() {
                        return o;
                    }
                    panic!("no outcome at the end of the stream");
                }
            }
        }
        if n == 0 {
            if let Step::Done(o) = c.end_of_stream() {
                return o;
            }
            panic!("no outcome at the end of the stream");
        }
    }
}

fn no_verify() -> Arc<ClientConfig> {
    client_config(&TlsMaterial::default()).unwrap()
}

#[test]
fn tls13_and_tls12_without_verification() {
    let dir = Dir::new();
    let (cert, key) = make_cert(&dir, "server");
    let ns = Netns::new();
    let cert = cert.to_str().unwrap();
    let key = key.to_str().unwrap();
    {
        let _s = ns.s_server(&dir, &["-cert", cert, "-key", key]);
        ns.run(|| {
            let (mut conn, mut sock) = handshake(no_verify(), None).unwrap();
            assert_eq!(conn.protocol_version(), Some(ProtocolVersion::TLSv1_3));
            // s_server -www answers a GET with a status page.
            let o = ssl_get(&mut conn, &mut sock, Some("Ciphers? supported in s_server"));
            assert_eq!(o, Outcome::Up);
        });
    }
    let _s = ns.s_server(&dir, &["-cert", cert, "-key", key, "-tls1_2"]);
    ns.run(|| {
        let (mut conn, mut sock) = handshake(no_verify(), Some("rs.test")).unwrap();
        assert_eq!(conn.protocol_version(), Some(ProtocolVersion::TLSv1_2));
        let suite = format!("{:?}", conn.negotiated_cipher_suite().unwrap().suite());
        assert!(suite.contains("GCM") || suite.contains("CHACHA"), "{suite}");
        assert_eq!(ssl_get(&mut conn, &mut sock, None), Outcome::Up);
    });
}

#[test]
fn a_server_with_only_tls_1_0_or_1_1_fails_with_that_reason() {
    let dir = Dir::new();
    let (cert, key) = make_cert(&dir, "server");
    let ns = Netns::new();
    for version in ["-tls1_1", "-tls1"] {
        let s = ns.s_server(
            &dir,
            &[
                "-cert",
                cert.to_str().unwrap(),
                "-key",
                key.to_str().unwrap(),
                version,
                "-cipher",
                "DEFAULT@SECLEVEL=0",
            ],
        );
        let r = ns.run(|| reason(no_verify(), None));
        assert_eq!(
            r,
            "the server offers only TLS 1.0/1.1; keepalived-rs speaks TLS 1.2 and 1.3",
            "{version}; server log: {}",
            s.log_text()
        );
    }
}

#[test]
fn a_server_with_only_cbc_suites_fails_with_that_reason() {
    let dir = Dir::new();
    let (cert, key) = make_cert(&dir, "server");
    let ns = Netns::new();
    let s = ns.s_server(
        &dir,
        &[
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
            "-tls1_2",
            "-cipher",
            "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256",
        ],
    );
    let r = ns.run(|| reason(no_verify(), None));
    assert!(
        r.starts_with("no cipher suite in common: the server offers only CBC suites"),
        "{r}; server log: {}",
        s.log_text()
    );
}

#[test]
fn verification_when_asked() {
    let dir = Dir::new();
    let (cert, key) = make_cert(&dir, "server");
    make_cert(&dir, "other");
    let ns = Netns::new();
    let _s = ns.s_server(
        &dir,
        &[
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
        ],
    );
    let verify = |ca: &str| {
        client_config(&TlsMaterial {
            ca_pem: Some(dir.read(ca)),
            verify: true,
            ..TlsMaterial::default()
        })
        .unwrap()
    };
    ns.run(|| {
        // Against its own CA, by name and by address.
        handshake(verify("server-ca.pem"), Some("rs.test")).unwrap();
        handshake(verify("server-ca.pem"), None).unwrap();
        assert_eq!(
            reason(verify("other-ca.pem"), Some("rs.test")),
            "certificate verification failed: the server's certificate is not issued by the \
             configured ca"
        );
        let r = reason(verify("server-ca.pem"), Some("elsewhere.test"));
        assert!(r.starts_with("certificate verification failed:"), "{r}");
        // Off (the default): any certificate.
        handshake(no_verify(), Some("elsewhere.test")).unwrap();
    });
}

#[test]
fn client_certificate() {
    let dir = Dir::new();
    let (cert, key) = make_cert(&dir, "server");
    let (ccert, ckey) = make_cert(&dir, "client");
    let ns = Netns::new();
    let s = ns.s_server(
        &dir,
        &[
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
            "-Verify",
            "1",
            "-CAfile",
            dir.path("client-ca.pem").to_str().unwrap(),
        ],
    );
    let with = client_config(&TlsMaterial {
        cert_pem: Some(std::fs::read(&ccert).unwrap()),
        key_pem: Some(std::fs::read(&ckey).unwrap()),
        ..TlsMaterial::default()
    })
    .unwrap();
    ns.run(|| {
        let (mut conn, mut sock) =
            handshake(with, None).unwrap_or_else(|e| panic!("{e:?}; server log: {}", s.log_text()));
        assert_eq!(ssl_get(&mut conn, &mut sock, None), Outcome::Up);
        // s_server serves one connection at a time.
        drop((conn, sock));
        // Without: TLS 1.3 tells after the client's Finished, at the first read.
        let (mut conn, mut sock) = handshake(no_verify(), None).unwrap();
        match ssl_get(&mut conn, &mut sock, None) {
            Outcome::Down(r) => assert!(r.contains("client certificate"), "{r}"),
            o => panic!("{o:?}"),
        }
    });
}

#[test]
fn a_server_that_does_not_speak_tls() {
    let ns = Netns::new();
    ns.run(|| {
        let l = TcpListener::bind(addr()).unwrap();
        let t = thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            thread::sleep(Duration::from_millis(200));
        });
        let r = reason(no_verify(), None);
        assert!(r.starts_with("the server does not speak TLS"), "{r}");
        t.join().unwrap();
    });
}

#[test]
fn material_errors_and_encrypted_keys() {
    let dir = Dir::new();
    let (cert, key) = make_cert(&dir, "server");
    let e = client_config(&TlsMaterial {
        verify: true,
        ..TlsMaterial::default()
    })
    .unwrap_err();
    assert_eq!(
        e,
        "certificate verification is on but the SSL block names no ca"
    );
    assert!(
        client_config(&TlsMaterial {
            cert_pem: Some(std::fs::read(&cert).unwrap()),
            ..TlsMaterial::default()
        })
        .is_err()
    );
    assert!(
        client_config(&TlsMaterial {
            ca_pem: Some(b"not a pem".to_vec()),
            verify: true,
            ..TlsMaterial::default()
        })
        .is_err()
    );
    let plain = std::fs::read(&key).unwrap();
    assert!(!key_is_encrypted(&plain));
    // PKCS#8 encrypted.
    let enc8 = dir.path("enc8.key");
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        key.to_str().unwrap(),
        "-out",
        enc8.to_str().unwrap(),
        "-passout",
        "pass:secret",
    ]);
    let enc8 = std::fs::read(enc8).unwrap();
    assert!(key_is_encrypted(&enc8));
    // Traditional (OpenSSL "Proc-Type: 4,ENCRYPTED").
    let trad = dir.path("trad.key");
    openssl(&[
        "ec",
        "-in",
        key.to_str().unwrap(),
        "-out",
        trad.to_str().unwrap(),
        "-aes128",
        "-passout",
        "pass:secret",
    ]);
    let trad = std::fs::read(trad).unwrap();
    assert!(
        key_is_encrypted(&trad),
        "{}",
        String::from_utf8_lossy(&trad)
    );
    let e = client_config(&TlsMaterial {
        cert_pem: Some(std::fs::read(&cert).unwrap()),
        key_pem: Some(enc8),
        ..TlsMaterial::default()
    })
    .unwrap_err();
    assert_eq!(e, "key: the private key is encrypted");
    // Debug never shows the key.
    let m = TlsMaterial {
        key_pem: Some(plain),
        ..TlsMaterial::default()
    };
    assert!(!format!("{m:?}").contains("PRIVATE"));
}
