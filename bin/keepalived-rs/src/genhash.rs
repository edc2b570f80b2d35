//! `keepalived-rs genhash`: keepalived's genhash tool. It fetches one page over HTTP or
//! HTTPS and prints the MD5 digest that a `url { digest ... }` block of HTTP_GET or
//! SSL_GET needs.
//!
//! The digest is computed as keepalived's HTTP_GET computes it, so that what this prints is
//! what the checker compares: the raw bytes after the first blank line of the response
//! (`\r\n\r\n`), not decoded (a chunked body is hashed with its chunk framing), cut at the
//! `Content-Length:` header when there is one (matched with that exact spelling, as
//! keepalived does), read until the server closes the connection. The request is
//! keepalived's too: `GET <url> HTTP/1.x`, `User-Agent: KeepAliveClient`, `Connection:
//! close` for 1.0C and 1.1, and `Host:` the virtual host or else `address:port`.
//!
//! Differences from keepalived's genhash: an error goes to stderr with exit status 1
//! (keepalived prints it on stdout and exits 0); certificates are never verified (as in
//! keepalived); TLS is rustls's, so TLS 1.2 and 1.3 only.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use keepalived_config::lvs::checker::HttpProtocol;
use md5::{Digest, Md5};
use nix::sys::socket::{
    AddressFamily, SockFlag, SockType, SockaddrStorage, connect, setsockopt, socket, sockopt,
};
use nix::sys::time::TimeVal;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

/// The longest response header accepted (keepalived reads the header into a buffer of a
/// few kilobytes; a longer one is an error here rather than a wrong digest).
pub const MAX_HEADER: usize = 64 * 1024;

/// `keepalived-rs genhash` options, named as keepalived's genhash names them.
#[derive(Debug, Clone, Args)]
pub struct GenhashArgs {
    /// Use SSL (TLS) to connect to the server.
    #[arg(short = 'S', long = "use-ssl")]
    pub use_ssl: bool,

    /// Send SNI during the TLS handshake: the virtual host (-V); without one none is sent.
    #[arg(short = 'I', long = "use-sni")]
    pub use_sni: bool,

    /// The server's IP address.
    #[arg(short = 's', long = "server", value_name = "ADDRESS")]
    pub server: IpAddr,

    /// The server's port.
    #[arg(
        short = 'p',
        long = "port",
        value_name = "PORT",
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub port: u16,

    /// The path of the page (what a url block's `path` holds).
    #[arg(short = 'u', long = "url", value_name = "PATH")]
    pub url: String,

    /// The virtual host sent in the Host header (default: address:port).
    #[arg(short = 'V', long = "use-virtualhost", value_name = "HOST")]
    pub virtualhost: Option<String>,

    /// Print the response header, the body and the digest in detail, and the time taken.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// Firewall mark set on the socket (SO_MARK).
    #[arg(short = 'm', long = "fwmark", value_name = "MARK")]
    pub fwmark: Option<u32>,

    /// HTTP protocol: 1.0, 1.0C (1.0 with `Connection: close`; 1.0c is accepted) or 1.1.
    #[arg(short = 'P', long = "protocol", value_name = "VERSION", default_value = "1.0",
          value_parser = parse_protocol)]
    pub protocol: HttpProtocol,

    /// Timeout in seconds of the connection and of each read (default: none).
    #[arg(short = 't', long = "timeout", value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

fn parse_protocol(s: &str) -> Result<HttpProtocol, String> {
    match s {
        "1.0" => Ok(HttpProtocol::Http10),
        "1.0C" | "1.0c" => Ok(HttpProtocol::Http10Close),
        "1.1" => Ok(HttpProtocol::Http11),
        _ => Err(format!(
            "invalid HTTP protocol version '{s}' (1.0, 1.0C or 1.1)"
        )),
    }
}

/// Why a page could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum GenhashError {
    /// The TCP connection failed.
    #[error("Connection failed to {addr}: {source}")]
    Connect {
        /// The server.
        addr: SocketAddr,
        /// The system's error.
        source: io::Error,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    /// The request could not be sent.
    #[error("Cannot send the GET request: {0}")]
    Send(io::Error),
    /// Reading the response failed (timeout, reset, TLS error).
    #[error("Read error: {0}")]
    Read(io::Error),
    /// The response ended before its header did.
    #[error("no data received from remote webserver")]
    NoData,
    /// The response header is longer than [`MAX_HEADER`].
    #[error("the response header is longer than {MAX_HEADER} bytes")]
    HeaderTooLong,
    /// The socket could not be set up.
    #[error("socket: {0}")]
    Socket(nix::Error),
}

/// The request keepalived sends for `path`.
pub fn request(path: &str, protocol: HttpProtocol, host: &str) -> String {
    let (minor, close) = match protocol {
        HttpProtocol::Http10 => (0, ""),
        HttpProtocol::Http10Close => (0, "Connection: close\r\n"),
        HttpProtocol::Http11 => (1, "Connection: close\r\n"),
    };
    format!(
        "GET {path} HTTP/1.{minor}\r\nUser-Agent: KeepAliveClient\r\n{close}Host: {host}\r\n\r\n"
    )
}

/// The Host header keepalived sends: the virtual host as given, else `address:port`
/// (`[address]:port` for IPv6).
pub fn host_header(server: SocketAddr, virtualhost: Option<&str>) -> String {
    match virtualhost {
        Some(v) => v.to_string(),
        None => server.to_string(),
    }
}

/// What keepalived takes as the body length: the number after the first `Content-Length:`
/// of the header (exact spelling), or `None` (hash until the end) when there is none or
/// when something other than the end of the line follows the number. No digit at all
/// counts as 0, as C's strtoul reads it.
pub fn content_length(header: &[u8]) -> Option<u64> {
    keepalived_check::http::content_length(header)
}

/// The offset just after the first `\r\n\r\n`.
fn header_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// keepalived's digest of a response, fed as it arrives.
#[derive(Debug, Default)]
pub struct BodyDigest {
    header: Vec<u8>,
    header_done: bool,
    content_length: Option<u64>,
    received: u64,
    md5: Md5,
    keep_body: bool,
    body: Vec<u8>,
}

impl BodyDigest {
    /// A new digest; with `keep_body` the hashed bytes are kept for [`BodyDigest::body`].
    pub fn new(keep_body: bool) -> BodyDigest {
        BodyDigest {
            keep_body,
            ..BodyDigest::default()
        }
    }

    /// Feeds bytes of the response.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), GenhashError> {
        let body = if self.header_done {
            data
        } else {
            // Look for the end from a little before the new bytes (it may straddle reads).
            let from = self.header.len().saturating_sub(3);
            self.header.extend_from_slice(data);
            match header_end(&self.header[from..]) {
                Some(end) => {
                    let end = from + end;
                    self.header_done = true;
                    self.content_length = content_length(&self.header[..end]);
                    let rest = self.header.split_off(end);
                    self.hash(&rest);
                    return Ok(());
                }
                None if self.header.len() > MAX_HEADER => {
                    return Err(GenhashError::HeaderTooLong);
                }
                None => return Ok(()),
            }
        };
        self.hash(body);
        Ok(())
    }

    fn hash(&mut self, data: &[u8]) {
        let room = match self.content_length {
            Some(len) => usize::try_from(len.saturating_sub(self.received)).unwrap_or(usize::MAX),
            None => usize::MAX,
        };
        let take = &data[..data.len().min(room)];
        self.md5.update(take);
        if self.keep_body {
            self.body.extend_from_slice(take);
        }
        self.received = self.received.saturating_add(data.len() as u64);
    }

    /// True once the header has ended and `Content-Length` bytes of body have arrived.
    pub fn complete(&self) -> bool {
        self.header_done && self.content_length.is_some_and(|l| self.received >= l)
    }

    /// The response header (once it ended).
    pub fn header(&self) -> Option<&[u8]> {
        self.header_done.then_some(&self.header[..])
    }

    /// The hashed body bytes (with `keep_body`).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The digest; an error when the header never ended.
    pub fn finish(self) -> Result<[u8; 16], GenhashError> {
        if !self.header_done {
            return Err(GenhashError::NoData);
        }
        Ok(self.md5.finalize().into())
    }
}

/// The digest in lowercase hexadecimal, as a url block's `digest` takes it.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A hexadecimal dump in keepalived's layout: decimal offset, 16 bytes split by ` - `,
/// then the printable characters.
pub fn hexdump(data: &[u8]) -> String {
    let mut out = String::new();
    for (i, line) in data.chunks(16).enumerate() {
        out.push_str(&format!("{:04}  ", i * 16));
        for j in 0..16 {
            match line.get(j) {
                Some(b) => out.push_str(&format!("{b:02x} ")),
                None => out.push_str("   "),
            }
            if j == 7 {
                out.push_str(if line.len() > 8 { "- " } else { "  " });
            }
        }
        out.push_str("  ");
        for j in 0..16 {
            out.push(match line.get(j) {
                Some(b) if b.is_ascii_graphic() || *b == b' ' => char::from(*b),
                Some(_) => '.',
                None => ' ',
            });
        }
        out.push('\n');
    }
    out
}

/// Accepts any certificate (keepalived's genhash does not verify), still checking the
/// handshake signatures with the provider's algorithms.
#[derive(Debug)]
struct NoCertificateVerification(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoCertificateVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The TLS client configuration: ring, TLS 1.2 and 1.3, no certificate verification.
fn tls_config() -> Result<Arc<ClientConfig>, GenhashError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| GenhashError::Handshake(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoCertificateVerification(algorithms)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A TCP connection to `addr` with SO_MARK and the timeouts set before connecting.
fn connect_tcp(
    addr: SocketAddr,
    fwmark: Option<u32>,
    timeout: Option<Duration>,
) -> Result<TcpStream, GenhashError> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd: OwnedFd = socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)
        .map_err(GenhashError::Socket)?;
    if let Some(mark) = fwmark {
        setsockopt(&fd, sockopt::Mark, &mark).map_err(GenhashError::Socket)?;
    }
    if let Some(t) = timeout {
        // SO_SNDTIMEO bounds connect() too.
        let tv = TimeVal::new(
            i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
            i64::from(t.subsec_micros()),
        );
        setsockopt(&fd, sockopt::SendTimeout, &tv).map_err(GenhashError::Socket)?;
        setsockopt(&fd, sockopt::ReceiveTimeout, &tv).map_err(GenhashError::Socket)?;
    }
    connect(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrStorage::from(addr),
    )
    .map_err(|e| GenhashError::Connect {
        addr,
        source: io::Error::from(e),
    })?;
    Ok(TcpStream::from(fd))
}

/// The result of one fetch.
#[derive(Debug)]
pub struct Fetched {
    /// The MD5 digest of the body, as keepalived computes it.
    pub digest: [u8; 16],
    /// The response header.
    pub header: Vec<u8>,
    /// The hashed body (kept only when asked).
    pub body: Vec<u8>,
}

/// Reads the response into `digest` until the end of the stream (or of Content-Length).
fn read_response(r: &mut impl Read, digest: &mut BodyDigest) -> Result<(), GenhashError> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                digest.feed(&buf[..n])?;
                if digest.complete() {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A TLS peer that closes without close_notify: keepalived takes it as the end.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(GenhashError::Read(e)),
        }
    }
}

/// A TLS error as a sentence, in the words SSL_GET's failures use (the TLS limits named).
fn tls_reason(e: &io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(t) => keepalived_check::tls::failure_reason(t),
        None => e.to_string(),
    }
}

/// Fetches the page and computes its digest.
pub fn fetch(args: &GenhashArgs, keep_body: bool) -> Result<Fetched, GenhashError> {
    let addr = SocketAddr::new(args.server, args.port);
    let timeout = args.timeout.map(Duration::from_secs);
    let tcp = connect_tcp(addr, args.fwmark, timeout)?;
    let req = request(
        &args.url,
        args.protocol,
        &host_header(addr, args.virtualhost.as_deref()),
    );
    let mut digest = BodyDigest::new(keep_body);
    if args.use_ssl {
        let sni = args
            .virtualhost
            .as_deref()
            .filter(|_| args.use_sni)
            .and_then(|v| ServerName::try_from(v.to_string()).ok());
        let (name, send_sni) = match sni {
            Some(n) => (n, true),
            // An address as the name: rustls sends no SNI for it.
            None => (ServerName::IpAddress(args.server.into()), false),
        };
        let mut config = (*tls_config()?).clone();
        config.enable_sni = send_sni;
        let conn = ClientConnection::new(Arc::new(config), name)
            .map_err(|e| GenhashError::Handshake(keepalived_check::tls::failure_reason(&e)))?;
        let mut tls = StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|e| GenhashError::Handshake(tls_reason(&e)))?;
        }
        tls.write_all(req.as_bytes()).map_err(GenhashError::Send)?;
        tls.flush().map_err(GenhashError::Send)?;
        read_response(&mut tls, &mut digest)?;
    } else {
        let mut tcp = tcp;
        tcp.write_all(req.as_bytes()).map_err(GenhashError::Send)?;
        read_response(&mut tcp, &mut digest)?;
    }
    let header = digest.header().map(<[u8]>::to_vec).unwrap_or_default();
    let body = digest.body().to_vec();
    Ok(Fetched {
        digest: digest.finish()?,
        header,
        body,
    })
}

/// Delimiter lines of the verbose output (keepalived's).
fn delimiter(title: &str) -> String {
    format!("-----------------------[{title}]-----------------------\n")
}

/// Runs `keepalived-rs genhash`: prints the digest (and with -v the details) on stdout;
/// an error on stderr with exit status 1.
pub fn run(args: &GenhashArgs) -> ExitCode {
    let start = Instant::now();
    match fetch(args, args.verbose) {
        Ok(f) => {
            let mut out = String::new();
            if args.verbose {
                out.push_str(&delimiter("    HTTP Header Buffer    "));
                out.push_str(&hexdump(&f.header));
                out.push_str(&delimiter(" HTTP Header Ascii Buffer "));
                out.push_str(&String::from_utf8_lossy(&f.header));
                out.push('\n');
                out.push_str(&delimiter("        HTML Buffer        "));
                out.push_str(&hexdump(&f.body));
                out.push('\n');
                out.push_str(&delimiter("    HTML hash resulting    "));
                out.push_str(&hexdump(&f.digest));
                out.push_str(&delimiter(" HTML hash final resulting "));
            }
            out.push_str(&hex(&f.digest));
            out.push('\n');
            if args.verbose {
                out.push_str(&format!(
                    "\nGlobal response time for [{}] = {} usecs\n",
                    args.url,
                    start.elapsed().as_micros()
                ));
            }
            let mut stdout = io::stdout().lock();
            if stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(chunks: &[&[u8]]) -> Result<[u8; 16], GenhashError> {
        let mut d = BodyDigest::new(false);
        for c in chunks {
            d.feed(c)?;
        }
        d.finish()
    }

    fn md5(data: &[u8]) -> [u8; 16] {
        Md5::digest(data).into()
    }

    #[test]
    fn requests_as_keepalived_sends_them() {
        let a: SocketAddr = "192.0.2.1:8080".parse().unwrap();
        assert_eq!(
            request("/x", HttpProtocol::Http10, &host_header(a, None)),
            "GET /x HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 192.0.2.1:8080\r\n\r\n"
        );
        assert_eq!(
            request("/", HttpProtocol::Http10Close, "www.example.com"),
            "GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\n\
             Host: www.example.com\r\n\r\n"
        );
        let v6: SocketAddr = "[2001:db8::1]:443".parse().unwrap();
        assert_eq!(
            request("/", HttpProtocol::Http11, &host_header(v6, None)),
            "GET / HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\n\
             Host: [2001:db8::1]:443\r\n\r\n"
        );
    }

    #[test]
    fn content_length_as_strtoul_reads_it() {
        assert_eq!(
            content_length(b"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\n"),
            Some(12)
        );
        assert_eq!(content_length(b"Content-Length:7\r\n"), Some(7));
        assert_eq!(content_length(b"content-length: 12\r\n"), None);
        assert_eq!(content_length(b"Content-Length: 12 \r\n"), None);
        assert_eq!(content_length(b"Content-Length: 12x\r\n"), None);
        assert_eq!(content_length(b"Content-Length:\r\n"), Some(0));
        assert_eq!(content_length(b"Content-Length: \r\n"), None);
        assert_eq!(content_length(b"Content-Length: 5"), Some(5));
    }

    #[test]
    fn body_after_the_blank_line_cut_at_content_length() {
        let r = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more";
        assert_eq!(digest_of(&[r]).unwrap(), md5(b"hello"));
        // Split anywhere, the same digest.
        for i in 0..r.len() {
            assert_eq!(
                digest_of(&[&r[..i], &r[i..]]).unwrap(),
                md5(b"hello"),
                "split {i}"
            );
        }
        // No Content-Length: everything until the end.
        let r = b"HTTP/1.0 200 OK\r\n\r\nhello\r\n\r\nworld";
        assert_eq!(digest_of(&[r]).unwrap(), md5(b"hello\r\n\r\nworld"));
        // Chunked: hashed raw, framing included.
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        assert_eq!(digest_of(&[r]).unwrap(), md5(b"5\r\nhello\r\n0\r\n\r\n"));
        // An empty body.
        assert_eq!(digest_of(&[b"HTTP/1.0 204 No\r\n\r\n"]).unwrap(), md5(b""));
    }

    #[test]
    fn no_header_end_is_no_data() {
        assert!(matches!(
            digest_of(&[b"HTTP/1.0 200 OK\r\n"]),
            Err(GenhashError::NoData)
        ));
        assert!(matches!(digest_of(&[]), Err(GenhashError::NoData)));
        let long = vec![b'a'; MAX_HEADER + 10];
        assert!(matches!(
            digest_of(&[&long]),
            Err(GenhashError::HeaderTooLong)
        ));
    }

    #[test]
    fn complete_at_content_length() {
        let mut d = BodyDigest::new(true);
        d.feed(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nab")
            .unwrap();
        assert!(!d.complete());
        d.feed(b"cd").unwrap();
        assert!(d.complete());
        assert_eq!(d.body(), b"abc");
    }

    #[test]
    fn hexdump_layout() {
        assert_eq!(
            hexdump(b"HTTP/1.0 200 OK\r\n\x00"),
            "0000  48 54 54 50 2f 31 2e 30 - 20 32 30 30 20 4f 4b 0d   HTTP/1.0 200 OK.\n\
             0016  0a 00                                               ..              \n"
        );
    }

    #[test]
    fn protocols() {
        assert_eq!(parse_protocol("1.0C").unwrap(), HttpProtocol::Http10Close);
        assert_eq!(parse_protocol("1.0c").unwrap(), HttpProtocol::Http10Close);
        assert_eq!(parse_protocol("1.1").unwrap(), HttpProtocol::Http11);
        assert!(parse_protocol("2").is_err());
    }
}
