//! SMTP_CHECK conversations: keepalived's dialogue, multi-line replies, bad servers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap (HELPERS brief)

use keepalived_check::conv::{Conversation, Step};
use keepalived_check::smtp::{MAX_LINE, SmtpConversation};
use keepalived_check::spec::{Outcome, Probe};
use proptest::prelude::*;

fn down(s: Step) -> String {
    match s {
        Step::Done(Outcome::Down(r)) => r,
        s => panic!("not down: {s:?}"),
    }
}

#[test]
fn the_dialogue() {
    let probe = Probe::Smtp {
        helo: "checker.example".into(),
    };
    let mut c = Conversation::new(&probe, 0).unwrap();
    assert_eq!(c.output(), None);
    assert_eq!(c.input(b"220 mx.example ESMTP\r\n"), Step::Continue);
    assert_eq!(c.output().unwrap(), b"HELO checker.example\r\n");
    assert_eq!(c.output(), None);
    assert_eq!(c.input(b"250 mx.example\r\n"), Step::Continue);
    assert_eq!(c.output().unwrap(), b"QUIT\r\n");
    assert_eq!(c.input(b"221 bye\r\n"), Step::Done(Outcome::Up));
    assert_eq!(c.end_of_stream(), Step::Done(Outcome::Up));
}

#[test]
fn multi_line_replies_byte_by_byte() {
    let mut c = SmtpConversation::new("h");
    for b in b"220-mx.example ESMTP\r\n220-second line\r\n220 ready\n" {
        assert_eq!(c.input(&[*b]), Step::Continue);
    }
    assert_eq!(c.output().unwrap(), b"HELO h\r\n");
    for b in b"250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n" {
        assert_eq!(c.input(&[*b]), Step::Continue);
    }
    assert_eq!(c.output().unwrap(), b"QUIT\r\n");
    // Any reply to QUIT is fine, as in keepalived; a code alone too.
    assert_eq!(c.input(b"221\r\n"), Step::Done(Outcome::Up));
}

#[test]
fn wrong_codes_fail_with_the_reason() {
    let mut c = SmtpConversation::new("h");
    assert_eq!(
        down(c.input(b"554 go away\r\n")),
        "banner: expected 220, got \"554 go away\""
    );
    let mut c = SmtpConversation::new("h");
    c.input(b"220 hi\r\n");
    c.output();
    assert_eq!(
        down(c.input(b"501 syntax\r\n")),
        "HELO answered \"501 syntax\", expected 250"
    );
    // 2xx other than keepalived's codes fail too.
    let mut c = SmtpConversation::new("h");
    assert!(down(c.input(b"250 not a banner\r\n")).starts_with("banner: expected 220"));
}

#[test]
fn garbage_and_closes() {
    let mut c = SmtpConversation::new("h");
    assert_eq!(
        down(c.input(b"HTTP/1.1 400 Bad Request\r\n")),
        "the banner: not an SMTP reply: \"HTTP/1.1 400 Bad Request\""
    );
    let mut c = SmtpConversation::new("h");
    assert!(down(c.input(b"22O hi\r\n")).contains("not an SMTP reply"));
    let mut c = SmtpConversation::new("h");
    assert!(down(c.input(b"2200 hi\r\n")).contains("not an SMTP reply"));
    let mut c = SmtpConversation::new("h");
    assert_eq!(
        down(c.end_of_stream()),
        "connection closed before the banner"
    );
    let mut c = SmtpConversation::new("h");
    c.input(b"220 hi\r\n");
    c.output();
    c.input(b"250 o");
    assert_eq!(
        down(c.end_of_stream()),
        "connection closed before the HELO reply was complete (\"250 o\")"
    );
    let mut c = SmtpConversation::new("h");
    c.input(b"220 hi\r\n");
    c.output();
    c.input(b"250 ok\r\n");
    c.output();
    // keepalived wants a line after QUIT.
    assert_eq!(
        down(c.end_of_stream()),
        "connection closed before the QUIT reply"
    );
    let mut c = SmtpConversation::new("h");
    let long = vec![b'2'; MAX_LINE + 1];
    assert!(down(c.input(&long)).contains("longer than"));
    let mut c = SmtpConversation::new("h");
    let mut many = Vec::new();
    for _ in 0..200 {
        many.extend_from_slice(b"220-more\r\n");
    }
    assert!(down(c.input(&many)).contains("more than"));
}

#[test]
fn what_follows_a_reply_before_the_command_is_ignored() {
    // As keepalived: a server that answers ahead (here a spurious 250) is not taken as
    // the HELO reply.
    let mut c = SmtpConversation::new("h");
    assert_eq!(c.input(b"220 hi\r\n250 early\r\n"), Step::Continue);
    assert_eq!(c.output().unwrap(), b"HELO h\r\n");
    assert_eq!(
        c.input(b"550 no\r\n"),
        Step::Done(Outcome::Down(
            "HELO answered \"550 no\", expected 250".into()
        ))
    );
}

#[test]
fn helo_name_cannot_inject_commands() {
    let mut c = SmtpConversation::new("a\r\nMAIL FROM:<x>");
    c.input(b"220 hi\r\n");
    assert_eq!(c.output().unwrap(), b"HELO a  MAIL FROM:<x>\r\n");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn never_panics_and_stays_bounded(
        reads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..20),
        good_banner in any::<bool>(),
    ) {
        let mut c = SmtpConversation::new("h");
        if good_banner {
            c.input(b"220 hi\r\n");
        }
        for r in &reads {
            let _ = c.output();
            let _ = c.input(r);
            prop_assert!(c.buffered() <= MAX_LINE);
        }
        prop_assert!(matches!(c.end_of_stream(), Step::Done(_)));
    }

    /// How the replies are cut into reads does not change the outcome.
    #[test]
    fn chunking_does_not_matter(cut in 1usize..30) {
        let script: [&[u8]; 3] = [b"220-a\r\n220 b\r\n", b"250-x\r\n250 y\r\n", b"221 bye\r\n"];
        let mut c = SmtpConversation::new("h");
        let mut last = Step::Continue;
        for reply in script {
            let _ = c.output();
            for piece in reply.chunks(cut) {
                last = c.input(piece);
            }
        }
        prop_assert_eq!(last, Step::Done(Outcome::Up));
    }
}
