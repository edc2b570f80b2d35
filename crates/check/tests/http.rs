//! HTTP_GET conversations: keepalived's request, its digest and regex semantics, bounded
//! memory.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap (HELPERS brief)

use keepalived_check::conv::{Conversation, Step};
use keepalived_check::http::{HttpConversation, MAX_HEADER, REGEX_WINDOW, hex};
use keepalived_check::spec::{HttpProbe, Outcome, Probe, RegexSpec, UrlSpec};
use keepalived_config::lvs::checker::{HttpProtocol, compile_regex};
use proptest::prelude::*;

fn url() -> UrlSpec {
    UrlSpec {
        path: "/index.html".into(),
        host: "192.0.2.10:80".into(),
        digest: None,
        status: vec![(200, 299)],
        regex: None,
    }
}

fn regex(re: &str, no_match: bool, min: u64, max: Option<u64>) -> Option<RegexSpec> {
    Some(RegexSpec {
        regex: compile_regex(re, &[]).unwrap(),
        no_match,
        min_offset: min,
        max_offset: max,
    })
}

fn digest_of(hexs: &str) -> [u8; 16] {
    let mut d = [0u8; 16];
    for (i, b) in d.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hexs[2 * i..2 * i + 2], 16).unwrap();
    }
    d
}

/// Runs a conversation over `response` cut in `chunk`-byte reads, then end of stream.
fn run(u: &UrlSpec, protocol: HttpProtocol, response: &[u8], chunk: usize) -> (Outcome, usize) {
    let mut c = HttpConversation::new(u, protocol);
    assert!(c.output().is_some());
    let mut read = 0;
    for piece in response.chunks(chunk.max(1)) {
        read += piece.len();
        if let Step::Done(o) = c.input(piece) {
            return (o, read);
        }
    }
    match c.end_of_stream() {
        Step::Done(o) => (o, read),
        Step::Continue => panic!("no outcome at the end of the stream"),
    }
}

#[test]
fn request_is_keepalived_s() {
    let u = url();
    let mut c = HttpConversation::new(&u, HttpProtocol::Http10);
    assert_eq!(
        String::from_utf8(c.output().unwrap()).unwrap(),
        "GET /index.html HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 192.0.2.10:80\r\n\r\n"
    );
    assert!(c.output().is_none());
    let mut c = HttpConversation::new(&u, HttpProtocol::Http10Close);
    assert_eq!(
        String::from_utf8(c.output().unwrap()).unwrap(),
        "GET /index.html HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\n\
         Host: 192.0.2.10:80\r\n\r\n"
    );
    let mut v6 = url();
    v6.host = "[2001:db8::1]:8080".into();
    v6.path = "/a?b=c".into();
    let mut c = HttpConversation::new(&v6, HttpProtocol::Http11);
    assert_eq!(
        String::from_utf8(c.output().unwrap()).unwrap(),
        "GET /a?b=c HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\n\
         Host: [2001:db8::1]:8080\r\n\r\n"
    );
}

#[test]
fn a_request_that_cannot_be_made_fails_with_the_reason() {
    let mut u = url();
    u.path = "/a b".into();
    let mut c = HttpConversation::new(&u, HttpProtocol::Http10);
    assert!(c.output().is_none());
    match c.input(b"HTTP/1.0 200 OK\r\n\r\n") {
        Step::Done(Outcome::Down(r)) => assert!(r.contains("cannot make the request"), "{r}"),
        s => panic!("{s:?}"),
    }
}

#[test]
fn status_ranges() {
    let u = url();
    let (o, read) = run(
        &u,
        HttpProtocol::Http10,
        b"HTTP/1.0 200 OK\r\n\r\nbody",
        1000,
    );
    assert_eq!(o, Outcome::Up);
    // No digest, no regex: decided on the header, the body is not needed.
    assert_eq!(read, 23);
    let (o, _) = run(&u, HttpProtocol::Http10, b"HTTP/1.1 503 Busy\r\n\r\n", 1000);
    assert_eq!(o, Outcome::Down("status 503 not in 200-299".into()));
    let mut u2 = url();
    u2.status = vec![(200, 200), (301, 302)];
    let (o, _) = run(
        &u2,
        HttpProtocol::Http10,
        b"HTTP/1.1 302 Found\r\n\r\n",
        1000,
    );
    assert_eq!(o, Outcome::Up);
    let (o, _) = run(&u2, HttpProtocol::Http10, b"HTTP/1.1 204 No\r\n\r\n", 1000);
    assert_eq!(o, Outcome::Down("status 204 not in 200, 301-302".into()));
    // A status line without a reason phrase, bare LF line ends.
    let (o, _) = run(&u, HttpProtocol::Http10, b"HTTP/1.1 200\nServer: x\n\n", 3);
    assert_eq!(o, Outcome::Up);
}

#[test]
fn interim_responses_are_skipped() {
    let u = url();
    let (o, _) = run(
        &u,
        HttpProtocol::Http11,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\n\r\n",
        7,
    );
    assert_eq!(o, Outcome::Down("status 404 not in 200-299".into()));
}

#[test]
fn header_failures() {
    let u = url();
    let (o, _) = run(&u, HttpProtocol::Http10, b"", 10);
    assert_eq!(
        o,
        Outcome::Down("connection closed before the headers (no data received)".into())
    );
    let (o, _) = run(&u, HttpProtocol::Http10, b"HTTP/1.0 200 OK\r\nServer", 10);
    match o {
        Outcome::Down(r) => assert!(r.starts_with("connection closed before the headers"), "{r}"),
        o => panic!("{o:?}"),
    }
    let (o, _) = run(&u, HttpProtocol::Http10, b"SSH-2.0-OpenSSH\r\n\r\n", 10);
    match o {
        Outcome::Down(r) => assert!(r.starts_with("malformed response header"), "{r}"),
        o => panic!("{o:?}"),
    }
    let mut long = b"HTTP/1.0 200 OK\r\n".to_vec();
    while long.len() <= MAX_HEADER {
        long.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    long.extend_from_slice(b"\r\n");
    let (o, _) = run(&u, HttpProtocol::Http10, &long, 4096);
    assert_eq!(
        o,
        Outcome::Down(format!("response header longer than {MAX_HEADER} bytes"))
    );
}

#[test]
fn digest_is_of_the_raw_bytes_after_the_header() {
    // md5("hello world")
    let hw = "5eb63bbbe01eeed093cb22bb8f5acdc3";
    let mut u = url();
    u.digest = Some(digest_of(hw));
    // Up to Content-Length; what follows is not digested (and not waited for).
    let resp = b"HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\nhello worldGARBAGE";
    for chunk in [1, 2, 5, 64] {
        assert_eq!(run(&u, HttpProtocol::Http10, resp, chunk).0, Outcome::Up);
    }
    let resp = b"HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\nhello world";
    let mut c = HttpConversation::new(&u, HttpProtocol::Http10);
    assert_eq!(c.input(resp), Step::Done(Outcome::Up));
    // Without Content-Length: to the end of the stream.
    let resp = b"HTTP/1.0 200 OK\r\n\r\nhello world";
    let mut c = HttpConversation::new(&u, HttpProtocol::Http10);
    assert_eq!(c.input(resp), Step::Continue);
    assert_eq!(c.end_of_stream(), Step::Done(Outcome::Up));
    assert_eq!(c.digest(), Some(digest_of(hw)));
    // A chunked body is digested with its framing, as keepalived does.
    let resp =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n0\r\n\r\n";
    let (o, _) = run(&u, HttpProtocol::Http11, resp, 9);
    // md5("b\r\nhello world\r\n0\r\n\r\n")
    assert_eq!(
        o,
        Outcome::Down("digest mismatch: got db124d76e8657ebd0cc33504f58a5de7".into())
    );
    let mut c = HttpConversation::genhash("/", "h", HttpProtocol::Http11);
    c.input(resp);
    c.end_of_stream();
    assert_eq!(
        hex(&c.digest().unwrap()),
        "db124d76e8657ebd0cc33504f58a5de7"
    );
    // A body shorter than Content-Length is judged on what came, as keepalived does (it
    // only logs the difference); a mismatch says the body was short.
    let resp = b"HTTP/1.0 200 OK\r\nContent-Length: 20\r\n\r\nhello world";
    assert_eq!(run(&u, HttpProtocol::Http10, resp, 4).0, Outcome::Up);
    u.digest = Some([0; 16]);
    let (o, _) = run(&u, HttpProtocol::Http10, resp, 4);
    u.digest = Some(digest_of(hw));
    assert_eq!(
        o,
        Outcome::Down(
            "digest mismatch: got 5eb63bbbe01eeed093cb22bb8f5acdc3 (the body ended after 11 of \
             20 bytes)"
                .into()
        )
    );
    // The status is judged first.
    let resp = b"HTTP/1.0 500 Oops\r\n\r\nhello world";
    let (o, _) = run(&u, HttpProtocol::Http10, resp, 4);
    assert_eq!(o, Outcome::Down("status 500 not in 200-299".into()));
}

#[test]
fn genhash_digest_of_an_empty_body() {
    let mut c = HttpConversation::genhash("/", "h", HttpProtocol::Http10);
    c.output();
    assert_eq!(
        c.input(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
        Step::Done(Outcome::Up)
    );
    assert_eq!(c.status(), Some(404));
    assert_eq!(
        hex(&c.digest().unwrap()),
        "d41d8cd98f00b204e9800998ecf8427e"
    );
}

#[test]
fn regex_subject_is_the_whole_response() {
    let resp = b"HTTP/1.0 200 OK\r\nServer: nginx\r\n\r\n<html>all good</html>";
    let mut u = url();
    u.regex = regex("all good", false, 0, None);
    assert_eq!(run(&u, HttpProtocol::Http10, resp, 3).0, Outcome::Up);
    // The header is part of the subject, as in keepalived.
    u.regex = regex("Server: ng", false, 0, None);
    assert_eq!(run(&u, HttpProtocol::Http10, resp, 3).0, Outcome::Up);
    u.regex = regex("missing", false, 0, None);
    assert_eq!(
        run(&u, HttpProtocol::Http10, resp, 3).0,
        Outcome::Down("regex did not match".into())
    );
    u.regex = regex("all good", true, 0, None);
    assert_eq!(
        run(&u, HttpProtocol::Http10, resp, 3).0,
        Outcome::Down("regex matched (regex_no_match)".into())
    );
    u.regex = regex("missing", true, 0, None);
    assert_eq!(run(&u, HttpProtocol::Http10, resp, 3).0, Outcome::Up);
    // Offsets count from the first byte of the status line; "all good" starts at 40.
    let at = resp.windows(8).position(|w| w == b"all good").unwrap() as u64;
    assert_eq!(at, 40);
    for (min, max, up) in [
        (40, None, true),
        (41, None, false),
        (0, Some(40), true),
        (0, Some(39), false),
        (40, Some(40), true),
    ] {
        u.regex = regex("all good", false, min, max);
        let (o, _) = run(&u, HttpProtocol::Http10, resp, 5);
        assert_eq!(o == Outcome::Up, up, "min {min} max {max:?}: {o:?}");
    }
    // \b before min_offset sees the byte before.
    u.regex = regex(r"\bgood", false, 44, None);
    assert_eq!(run(&u, HttpProtocol::Http10, resp, 1).0, Outcome::Up);
    u.regex = regex(r"\bood", false, 45, None);
    assert_eq!(
        run(&u, HttpProtocol::Http10, resp, 1).0,
        Outcome::Down("regex did not match".into())
    );
}

#[test]
fn regex_decides_early_without_digest() {
    let mut u = url();
    u.regex = regex("marker", false, 0, None);
    let mut resp = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
    resp.extend(std::iter::repeat_n(b'a', 200_000));
    resp.extend_from_slice(b"marker");
    let total = resp.len();
    resp.extend(std::iter::repeat_n(b'b', 10 * REGEX_WINDOW));
    let (o, read) = run(&u, HttpProtocol::Http10, &resp, 4096);
    assert_eq!(o, Outcome::Up);
    // Decided at the latest when the window holding the marker fills.
    assert!(read < total + REGEX_WINDOW + 4096, "read {read}");
    // Past regex_max_offset, the absence of a match is decided too.
    u.regex = regex("never", false, 0, Some(100));
    let (o, read) = run(&u, HttpProtocol::Http10, &resp, 4096);
    assert_eq!(o, Outcome::Down("regex did not match".into()));
    assert!(read < 3 * REGEX_WINDOW, "read {read}");
}

#[test]
fn a_match_across_reads_and_windows_is_found() {
    let mut u = url();
    u.regex = regex("begin[a-z]*end", false, 0, None);
    for pad in [
        REGEX_WINDOW - 30,
        REGEX_WINDOW - 3,
        REGEX_WINDOW / 2 - 5,
        3 * REGEX_WINDOW / 2,
    ] {
        let mut resp = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
        resp.extend(std::iter::repeat_n(b'.', pad));
        resp.extend_from_slice(b"beginxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxend");
        for chunk in [1000, 4096, 7] {
            assert_eq!(
                run(&u, HttpProtocol::Http10, &resp, chunk).0,
                Outcome::Up,
                "pad {pad} chunk {chunk}"
            );
        }
    }
}

#[test]
fn memory_is_bounded_whatever_the_server_sends() {
    // 64 MiB of body with a digest and a regex that never matches: the digest is streamed
    // and the window bounded.
    let mut u = url();
    u.digest = Some([0; 16]);
    u.regex = regex("never-there", false, 0, None);
    let mut c = HttpConversation::new(&u, HttpProtocol::Http10);
    c.output();
    assert_eq!(c.input(b"HTTP/1.0 200 OK\r\n\r\n"), Step::Continue);
    let block = vec![b'z'; 64 * 1024];
    let mut max = 0;
    for _ in 0..1024 {
        assert_eq!(c.input(&block), Step::Continue);
        max = max.max(c.buffered());
    }
    assert!(max <= REGEX_WINDOW, "held {max}");
    match c.end_of_stream() {
        Step::Done(Outcome::Down(r)) => assert!(r.starts_with("digest mismatch"), "{r}"),
        s => panic!("{s:?}"),
    }
    // A header that never ends: refused at MAX_HEADER.
    let mut c = HttpConversation::new(&url(), HttpProtocol::Http10);
    c.output();
    let mut step = c.input(b"HTTP/1.0 200 OK\r\n");
    let mut fed = 0;
    while step == Step::Continue {
        step = c.input(b"X: yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\r\n");
        fed += 1;
        assert!(c.buffered() <= MAX_HEADER);
    }
    assert!(fed * 49 <= MAX_HEADER + 49);
}

#[test]
fn conversation_for_probe() {
    let probe = Probe::Http(Box::new(HttpProbe {
        tls: false,
        protocol: HttpProtocol::Http11,
        sni: None,
        tls_compliant: false,
        fast_recovery: false,
        urls: vec![url(), {
            let mut u = url();
            u.path = "/second".into();
            u
        }],
    }));
    let mut c = Conversation::new(&probe, 1).unwrap();
    let req = String::from_utf8(c.output().unwrap()).unwrap();
    assert!(req.starts_with("GET /second HTTP/1.1\r\n"), "{req}");
    assert!(Conversation::new(&probe, 2).is_none());
    assert!(Conversation::new(&Probe::Tcp, 0).is_none());
    assert_eq!(c.input(b"HTTP/1.1 200 OK\r\n\r\n"), Step::Done(Outcome::Up));
    // Once done, it stays done.
    assert_eq!(c.input(b"more"), Step::Done(Outcome::Up));
    assert_eq!(c.end_of_stream(), Step::Done(Outcome::Up));
}

fn full_url() -> UrlSpec {
    let mut u = url();
    u.digest = Some(digest_of("5eb63bbbe01eeed093cb22bb8f5acdc3"));
    u.regex = regex("wor+ld", false, 0, None);
    u
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// How the response is cut into reads does not change the outcome or the digest.
    #[test]
    fn chunking_does_not_matter(
        cuts in proptest::collection::vec(1usize..40, 1..30),
        cl in any::<bool>(),
        extra in proptest::collection::vec(any::<u8>(), 0..50),
    ) {
        let mut resp = b"HTTP/1.0 200 OK\r\n".to_vec();
        if cl {
            resp.extend_from_slice(b"Content-Length: 11\r\n");
        }
        resp.extend_from_slice(b"\r\nhello world");
        if cl {
            resp.extend_from_slice(&extra);
        }
        let u = full_url();
        let whole = run(&u, HttpProtocol::Http10, &resp, resp.len()).0;
        prop_assert_eq!(&whole, &Outcome::Up);
        let mut c = HttpConversation::new(&u, HttpProtocol::Http10);
        c.output();
        let mut rest = &resp[..];
        let mut out = None;
        for n in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (a, b) = rest.split_at((*n).min(rest.len()));
            rest = b;
            if let Step::Done(o) = c.input(a) {
                out = Some(o);
                break;
            }
        }
        let out = match out {
            Some(o) => o,
            None => match c.end_of_stream() {
                Step::Done(o) => o,
                Step::Continue => panic!("no outcome"),
            },
        };
        prop_assert_eq!(out, whole);
    }

    /// Garbage never panics and memory stays bounded.
    #[test]
    fn garbage_is_survived(
        reads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
        prefix in any::<bool>(),
    ) {
        let u = full_url();
        let mut c = HttpConversation::new(&u, HttpProtocol::Http11);
        c.output();
        if prefix {
            c.input(b"HTTP/1.1 200 OK\r\n");
        }
        for r in &reads {
            c.input(r);
            prop_assert!(c.buffered() <= MAX_HEADER + REGEX_WINDOW);
        }
        prop_assert!(matches!(c.end_of_stream(), Step::Done(_)));
    }
}

/// Responses near the interesting shapes: interim responses, bare LF, Content-Length
/// right or wrong, bodies with pieces of the regex, garbage.
fn response() -> impl Strategy<Value = Vec<u8>> {
    let head = prop_oneof![
        Just(b"HTTP/1.0 200 OK\r\n".to_vec()),
        Just(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n".to_vec()),
        Just(b"HTTP/1.1 204 x\n".to_vec()),
        Just(b"HTTP/1.1 200 OK\r\nwor: ld\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..30),
    ];
    let piece = prop_oneof![
        Just(b"wor".to_vec()),
        Just(b"ld".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..10),
    ];
    (
        head,
        proptest::option::of(0u64..40),
        any::<bool>(),
        proptest::collection::vec(piece, 0..20),
    )
        .prop_map(|(head, cl, blank, pieces)| {
            let mut r = head;
            if let Some(n) = cl {
                r.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
            }
            if blank {
                r.extend_from_slice(b"\r\n");
            }
            for p in pieces {
                r.extend_from_slice(&p);
            }
            r
        })
}

/// The outcome (and digest) of feeding `resp` cut at `cuts`, then end of stream.
fn outcome_with_cuts(u: &UrlSpec, resp: &[u8], cuts: &[usize]) -> (Outcome, Option<[u8; 16]>) {
    let mut c = HttpConversation::new(u, HttpProtocol::Http11);
    c.output();
    let mut rest = resp;
    for n in cuts.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at((*n).min(rest.len()));
        rest = b;
        if let Step::Done(o) = c.input(a) {
            return (o, c.digest());
        }
    }
    match c.end_of_stream() {
        Step::Done(o) => (o, c.digest()),
        Step::Continue => panic!("no outcome"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Whatever the server sends, the outcome does not depend on how it is cut in reads.
    #[test]
    fn outcome_does_not_depend_on_reads(
        resp in response(),
        cuts in proptest::collection::vec(1usize..16, 1..10),
        digest in any::<bool>(),
    ) {
        let mut u = full_url();
        if !digest {
            u.digest = None;
        }
        let whole = outcome_with_cuts(&u, &resp, &[resp.len().max(1)]);
        let cut = outcome_with_cuts(&u, &resp, &cuts);
        prop_assert_eq!(whole, cut);
    }
}
