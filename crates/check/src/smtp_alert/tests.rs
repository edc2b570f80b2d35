//! Tests of the alert texts, the SMTP dialogue (every failure path), the message format and
//! the blocking driver, with property tests for hostile server input.

// Tests may unwrap (house rule: never on input from the network, the config or a process).
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

const DATE: &str = "Mon, 01 Mar 2021 09:44:08 +0000";

fn sender() -> AlertSender {
    AlertSender {
        router_id: "LVS_1".to_owned(),
        from: "Keepalived <keepalived@example.com>".to_owned(),
        to: vec![
            "ops@example.com".to_owned(),
            "Night Shift <night@example.org>".to_owned(),
        ],
        helo: "lb1.example.com".to_owned(),
    }
}

fn vs_tcp() -> VirtualServerRef {
    VirtualServerRef {
        kind: VirtualServerKind::Address(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            80,
        )),
        protocol: Some(ServiceType::Tcp),
    }
}

fn rs(last: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)), port)
}

fn session(alert: Alert) -> SmtpSession {
    SmtpSession::new(alert, DATE.to_owned()).unwrap()
}

fn master_alert() -> Alert {
    Alert::vrrp_instance(&sender(), "VI_1", InstanceState::Master)
}

/// The server's replies for a successful dialogue with two recipients, in order.
const SUCCESS: [&[u8]; 8] = [
    b"220-mail.example.com ESMTP\r\n220 ready\r\n",
    b"250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n",
    b"250 2.1.0 Ok\r\n",
    b"250 2.1.5 Ok\r\n",
    b"250 2.1.5 Ok\r\n",
    b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"250 2.0.0 Ok: queued as 4F3A1\r\n",
    b"221 2.0.0 Bye\r\n",
];

/// The message keepalived-rs sends for `master_alert()`.
const MASTER_MESSAGE: &str = "Date: Mon, 01 Mar 2021 09:44:08 +0000\r\n\
    From: Keepalived <keepalived@example.com>\r\n\
    Subject: [LVS_1] VRRP Instance VI_1 - Entering MASTER state\r\n\
    X-Mailer: Keepalived\r\n\
    To: ops@example.com,\r\n \
    Night Shift <night@example.org>\r\n\
    \r\n\
    => VRRP Instance is now owning VRRP VIPs <=\r\n\
    .\r\n";

/// Feeds `replies` one after the other, each in chunks of `chunk` bytes, collecting what
/// the session sends; stops at the first error.
fn converse(
    session: &mut SmtpSession,
    replies: &[&[u8]],
    chunk: usize,
) -> (Vec<Vec<u8>>, Result<Progress, SmtpError>) {
    let mut sent = Vec::new();
    let mut last = Ok(Progress::NeedInput);
    for reply in replies {
        for piece in reply.chunks(chunk) {
            last = session.input(piece);
            if last.is_err() {
                return (sent, last);
            }
        }
        if let Some(out) = session.output() {
            sent.push(out);
        }
    }
    (sent, last)
}

fn text(bytes: &[Vec<u8>]) -> Vec<String> {
    bytes
        .iter()
        .map(|b| String::from_utf8(b.clone()).unwrap())
        .collect()
}

// --- alert texts ---------------------------------------------------------------------------

#[test]
fn vrrp_instance_alerts_match_keepalived() {
    let s = sender();
    let cases = [
        (
            InstanceState::Master,
            "[LVS_1] VRRP Instance VI_1 - Entering MASTER state",
            "=> VRRP Instance is now owning VRRP VIPs <=",
        ),
        (
            InstanceState::Backup,
            "[LVS_1] VRRP Instance VI_1 - Entering BACKUP state",
            "=> VRRP Instance is no longer owning VRRP VIPs <=",
        ),
        (
            InstanceState::Fault,
            "[LVS_1] VRRP Instance VI_1 - Entering FAULT state",
            "=> VRRP Instance is no longer owning VRRP VIPs <=",
        ),
        (
            InstanceState::Stop,
            "[LVS_1] VRRP Instance VI_1 - Stopping",
            "=> VRRP Instance stopping <=",
        ),
        (
            InstanceState::Deleted,
            "[LVS_1] VRRP Instance VI_1 - Deleted",
            "=> VRRP Deleted at reload <=",
        ),
    ];
    for (state, subject, body) in cases {
        let alert = Alert::vrrp_instance(&s, "VI_1", state);
        assert_eq!(alert.subject, subject);
        assert_eq!(alert.body, body);
        assert_eq!(alert.from, s.from);
        assert_eq!(alert.to, s.to);
        assert_eq!(alert.helo, s.helo);
    }
}

#[test]
fn sync_group_alerts_match_keepalived() {
    let s = sender();
    let cases = [
        (
            GroupState::Master,
            "[LVS_1] VRRP Group G1 - Entering MASTER state",
            "=> All VRRP group instances are now in MASTER state <=",
        ),
        (
            GroupState::Backup,
            "[LVS_1] VRRP Group G1 - Entering BACKUP state",
            "=> All VRRP group instances are now in BACKUP state <=",
        ),
        (
            GroupState::Fault,
            "[LVS_1] VRRP Group G1 - Entering FAULT state",
            "=> All VRRP group instances are now in FAULT state <=",
        ),
        (
            GroupState::Stop,
            "[LVS_1] VRRP Group G1 - Stopping",
            "=> All VRRP group instances are now stopping <=",
        ),
    ];
    for (state, subject, body) in cases {
        let alert = Alert::sync_group(&s, "G1", state);
        assert_eq!(
            (alert.subject.as_str(), alert.body.as_str()),
            (subject, body)
        );
    }
}

#[test]
fn real_server_alerts_name_both_servers() {
    let s = sender();
    let up = Alert::real_server(
        &s,
        &vs_tcp(),
        rs(10, 8080),
        true,
        &CheckResult::Tcp { up: true }.body(),
    );
    assert_eq!(
        up.subject,
        "[LVS_1] Realserver [192.0.2.10]:tcp:8080 of virtual server [192.0.2.1]:tcp:80 - UP"
    );
    assert_eq!(up.body, "=> TCP CHECK succeed on service <=");

    let v6 = VirtualServerRef {
        kind: VirtualServerKind::Address(SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            53,
        )),
        protocol: Some(ServiceType::Udp),
    };
    let rs6 = SocketAddr::new(
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10)),
        53,
    );
    let down = Alert::real_server(&s, &v6, rs6, false, "=> UDP CHECK failed on service <=");
    assert_eq!(
        down.subject,
        "[LVS_1] Realserver [2001:db8::10]:udp:53 of virtual server [2001:db8::1]:udp:53 - DOWN"
    );

    let fwm = VirtualServerRef {
        kind: VirtualServerKind::Fwmark(7),
        protocol: None,
    };
    assert_eq!(
        Alert::real_server(&s, &fwm, rs(11, 0), false, "x").subject,
        "[LVS_1] Realserver [192.0.2.11]:none:0 of virtual server FWM 7 - DOWN"
    );
    let group = VirtualServerRef {
        kind: VirtualServerKind::Group {
            name: "web".to_owned(),
            port: 443,
        },
        protocol: Some(ServiceType::Sctp),
    };
    assert_eq!(
        Alert::real_server(&s, &group, rs(12, 443), true, "x").subject,
        "[LVS_1] Realserver [192.0.2.12]:sctp:443 of virtual server [web]:443 - UP"
    );

    let removed = Alert::real_server_removed(&s, &vs_tcp(), rs(10, 80), false);
    assert_eq!(
        (removed.subject.as_str(), removed.body.as_str()),
        (
            "[LVS_1] Realserver [192.0.2.10]:tcp:80 of virtual server [192.0.2.1]:tcp:80 - DOWN",
            "=> Removing <="
        )
    );
    let shut = Alert::real_server_removed(&s, &vs_tcp(), rs(10, 80), true);
    assert_eq!(shut.body, "=> Shutting down <=");
}

#[test]
fn check_result_bodies_match_keepalived() {
    let cases = [
        (
            CheckResult::Tcp { up: false },
            "=> TCP CHECK failed on service <=",
        ),
        (
            CheckResult::Udp { up: true },
            "=> UDP CHECK succeed on service <=",
        ),
        (
            CheckResult::Ping { up: true },
            "=> ICMP CHECK succeed on service <=",
        ),
        (
            CheckResult::Ping { up: false },
            "=> ICMP CHECK failed on service <=",
        ),
        (
            CheckResult::Dns { up: true },
            "=> DNS_CHECK: succeed on service <=",
        ),
        (
            CheckResult::Dns { up: false },
            "=> DNS_CHECK: failed on service <=",
        ),
        (
            CheckResult::Http { up: true },
            "=> CHECK succeed on service <=",
        ),
        (
            CheckResult::Http { up: false },
            "=> CHECK failed on service : HTTP/SSL request failed <=",
        ),
        (
            CheckResult::Smtp {
                up: true,
                detail: None,
            },
            "=> CHECK succeed on service <=",
        ),
        (
            CheckResult::Smtp {
                up: false,
                detail: Some("Bad HELO response from server [192.0.2.10]:tcp:25".to_owned()),
            },
            "=> CHECK failed on service : Bad HELO response from server [192.0.2.10]:tcp:25 <=",
        ),
        (
            CheckResult::Smtp {
                up: false,
                detail: None,
            },
            "=> CHECK failed on service <=",
        ),
        (
            CheckResult::Misc(MiscOutcome::Succeeded),
            "=> MISC CHECK succeeded on service <=",
        ),
        (
            CheckResult::Misc(MiscOutcome::Failed),
            "=> MISC CHECK failed on service <=",
        ),
        (
            CheckResult::Misc(MiscOutcome::TimedOut),
            "=> MISC CHECK timed out on service <=",
        ),
        (
            CheckResult::Bfd {
                instance: "bfd1".to_owned(),
                up: false,
            },
            "=> BFD CHECK bfd1 failed on service <=",
        ),
        (
            CheckResult::Bfd {
                instance: "bfd1".to_owned(),
                up: true,
            },
            "=> BFD CHECK bfd1 succeeded on service <=",
        ),
    ];
    for (result, body) in cases {
        assert_eq!(result.body(), body, "{result:?}");
    }
}

#[test]
fn quorum_alerts_state_the_comparison() {
    let s = sender();
    let change = QuorumChange {
        up: true,
        starting: false,
        quorum: 2,
        hysteresis: 1,
        weight_sum: 4,
    };
    let gained = Alert::quorum(&s, &vs_tcp(), &change);
    assert_eq!(
        gained.subject,
        "[LVS_1] Virtualserver [192.0.2.1]:tcp:80 - UP"
    );
    assert_eq!(gained.body, "=> Gained quorum 2+1=3 <= 4 <=");

    let start_up = Alert::quorum(
        &s,
        &vs_tcp(),
        &QuorumChange {
            starting: true,
            ..change
        },
    );
    assert_eq!(start_up.body, "=> Starting with quorum up 2+1=3 <= 4 <=");

    let lost = Alert::quorum(
        &s,
        &vs_tcp(),
        &QuorumChange {
            up: false,
            weight_sum: 0,
            ..change
        },
    );
    assert_eq!(
        lost.subject,
        "[LVS_1] Virtualserver [192.0.2.1]:tcp:80 - DOWN"
    );
    assert_eq!(lost.body, "=> Lost quorum 2-1=1 > 0 <=");

    let start_down = Alert::quorum(
        &s,
        &vs_tcp(),
        &QuorumChange {
            up: false,
            starting: true,
            quorum: 1,
            hysteresis: 3,
            weight_sum: -1,
        },
    );
    assert_eq!(
        start_down.body,
        "=> Starting with quorum down 1-3=-2 > -1 <="
    );

    let shut = Alert::virtual_server_shutdown(&s, &vs_tcp());
    assert_eq!(
        (shut.subject.as_str(), shut.body.as_str()),
        (
            "[LVS_1] Virtualserver [192.0.2.1]:tcp:80 - DOWN",
            "=> Shutting down <="
        )
    );
}

#[test]
fn custom_alert_and_empty_router_id() {
    let mut s = sender();
    assert_eq!(
        Alert::custom(&s, "Test alert", "hello").subject,
        "[LVS_1] Test alert"
    );
    s.router_id.clear();
    let alert = Alert::vrrp_instance(&s, "VI_1", InstanceState::Backup);
    assert_eq!(alert.subject, "VRRP Instance VI_1 - Entering BACKUP state");
}

// --- the dialogue --------------------------------------------------------------------------

#[test]
fn full_dialogue_sends_keepalived_commands_and_message() {
    let mut s = session(master_alert());
    assert_eq!(s.stage(), Stage::Greeting);
    assert_eq!(s.output(), None, "the client waits for the greeting");

    let (sent, last) = converse(&mut s, &SUCCESS, usize::MAX);
    assert_eq!(last, Ok(Progress::Done));
    assert_eq!(
        text(&sent),
        [
            "HELO lb1.example.com\r\n",
            "MAIL FROM:<keepalived@example.com>\r\n",
            "RCPT TO:<ops@example.com>\r\n",
            "RCPT TO:<night@example.org>\r\n",
            "DATA\r\n",
            MASTER_MESSAGE,
            "QUIT\r\n",
        ]
    );
    assert!(s.is_done());
    assert!(s.is_delivered());
    assert_eq!(s.stage(), Stage::Done);
    assert_eq!(s.failure(), None);
    assert!(s.refused_recipients().is_empty());
    assert_eq!(s.output(), None);
    // Anything after the end is ignored.
    assert_eq!(s.input(b"garbage\r\n"), Ok(Progress::Done));
}

#[test]
fn replies_split_at_every_byte_give_the_same_dialogue() {
    let mut whole = session(master_alert());
    let (expected, _) = converse(&mut whole, &SUCCESS, usize::MAX);
    for chunk in [1, 2, 3, 5, 7] {
        let mut s = session(master_alert());
        let (sent, last) = converse(&mut s, &SUCCESS, chunk);
        assert_eq!(last, Ok(Progress::Done), "chunk {chunk}");
        assert_eq!(sent, expected, "chunk {chunk}");
    }
}

#[test]
fn progress_tells_when_to_send_and_when_to_read() {
    let mut s = session(master_alert());
    assert_eq!(s.input(b"220-first\r\n"), Ok(Progress::NeedInput));
    assert_eq!(s.input(b"220 "), Ok(Progress::NeedInput));
    assert_eq!(s.buffered(), 4);
    assert_eq!(s.input(b"last\r\n"), Ok(Progress::Send));
    assert_eq!(s.buffered(), 0);
    assert_eq!(s.stage(), Stage::Helo);
    assert!(s.output().is_some());
    assert_eq!(s.output(), None);
}

#[test]
fn bare_lf_and_code_only_replies_are_accepted() {
    let mut s = session(Alert {
        to: vec!["ops@example.com".to_owned()],
        ..master_alert()
    });
    let replies: [&[u8]; 7] = [
        b"220\n",
        b"250\r\n",
        b"250 ok\n",
        b"250\n",
        b"354\n",
        b"250\n",
        b"221\n",
    ];
    let (sent, last) = converse(&mut s, &replies, usize::MAX);
    assert_eq!(last, Ok(Progress::Done));
    assert_eq!(sent.len(), 6);
    assert!(s.is_delivered());
}

#[test]
fn each_refusal_names_its_stage_and_code_and_sends_quit() {
    // Index of the reply in SUCCESS, and the stage it answers.
    let stages = [
        (0, Stage::Greeting),
        (1, Stage::Helo),
        (2, Stage::MailFrom),
        (5, Stage::Data),
        (6, Stage::Message),
    ];
    for (index, stage) in stages {
        for (code, reply, expected_text) in [
            (
                421,
                &b"421 4.3.2 Service not available\r\n"[..],
                "4.3.2 Service not available",
            ),
            (
                554,
                &b"554 5.7.1 Relay access denied\r\n"[..],
                "5.7.1 Relay access denied",
            ),
        ] {
            let mut replies = SUCCESS.to_vec();
            replies[index] = reply;
            let mut s = session(master_alert());
            let (_, last) = converse(&mut s, &replies[..=index], usize::MAX);
            match last {
                Err(SmtpError::Rejected {
                    stage: got,
                    code: got_code,
                    ref text,
                }) => {
                    assert_eq!((got, got_code), (stage, code));
                    assert_eq!(text, expected_text);
                }
                other => panic!("{stage}: {other:?}"),
            }
            assert!(s.is_done());
            assert!(!s.is_delivered());
            assert_eq!(s.stage(), stage);
            assert!(matches!(s.failure(), Some(SmtpError::Rejected { .. })));
            assert_eq!(s.output().as_deref(), Some(&b"QUIT\r\n"[..]));
            assert_eq!(s.output(), None);
            // The server's reply to the courtesy QUIT is ignored.
            assert_eq!(s.input(b"221 bye\r\n"), Ok(Progress::Done));
        }
    }
}

#[test]
fn refusal_text_is_kept_sanitised_and_short() {
    let mut s = session(master_alert());
    let mut reply = b"554-5.7.1 first\x01line\xff\r\n554 second ".to_vec();
    reply.extend(std::iter::repeat_n(b'x', 600));
    reply.extend_from_slice(b"\r\n");
    let error = s.input(&reply).unwrap_err();
    let SmtpError::Rejected { code, text, stage } = &error else {
        panic!("{error:?}");
    };
    assert_eq!((*code, *stage), (554, Stage::Greeting));
    assert!(text.starts_with("5.7.1 first?line? second xxx"), "{text}");
    assert!(text.len() <= MAX_ERROR_TEXT);
    assert_eq!(error.log_level(), log::Level::Warn);
    assert!(
        error
            .to_string()
            .starts_with("SMTP server refused greeting: 554 5.7.1")
    );
}

#[test]
fn quit_reply_other_than_221_still_means_delivered() {
    let mut replies = SUCCESS.to_vec();
    replies[7] = b"500 what\r\n";
    let mut s = session(master_alert());
    let (_, last) = converse(&mut s, &replies, usize::MAX);
    assert_eq!(last, Ok(Progress::Done));
    assert!(s.is_delivered());
    assert_eq!(s.failure(), None);
}

#[test]
fn garbage_after_delivery_changes_nothing() {
    let mut replies = SUCCESS.to_vec();
    replies[7] = b"hello there\r\n";
    let mut s = session(master_alert());
    let (_, last) = converse(&mut s, &replies, usize::MAX);
    assert_eq!(last, Ok(Progress::Done));
    assert!(s.is_delivered() && s.is_done());
    assert_eq!(s.failure(), None);
}

#[test]
fn one_refused_recipient_does_not_stop_the_alert() {
    let mut replies = SUCCESS.to_vec();
    replies[3] = b"550 5.1.1 <ops@example.com>: Recipient address rejected\r\n";
    let mut s = session(master_alert());
    let (sent, last) = converse(&mut s, &replies, usize::MAX);
    assert_eq!(last, Ok(Progress::Done));
    assert!(s.is_delivered());
    assert_eq!(sent.len(), 7);
    assert_eq!(
        s.refused_recipients(),
        [RefusedRecipient {
            address: "ops@example.com".to_owned(),
            code: 550,
            text: "5.1.1 <ops@example.com>: Recipient address rejected".to_owned(),
        }]
    );
}

#[test]
fn all_recipients_refused_is_a_refusal_at_rcpt() {
    let mut replies = SUCCESS.to_vec();
    replies[3] = b"550 no\r\n";
    replies[4] = b"450 later\r\n";
    let mut s = session(master_alert());
    let (_, last) = converse(&mut s, &replies[..5], usize::MAX);
    assert_eq!(
        last,
        Err(SmtpError::Rejected {
            stage: Stage::RcptTo,
            code: 450,
            text: "later".to_owned()
        })
    );
    assert_eq!(s.refused_recipients().len(), 2);
    assert_eq!(s.output().as_deref(), Some(&b"QUIT\r\n"[..]));
}

#[test]
fn recipient_251_counts_as_accepted() {
    let mut replies = SUCCESS.to_vec();
    replies[3] = b"251 User not local; will forward\r\n";
    let mut s = session(master_alert());
    let (_, last) = converse(&mut s, &replies, usize::MAX);
    assert_eq!(last, Ok(Progress::Done));
    assert!(s.refused_recipients().is_empty());
}

#[test]
fn malformed_replies_end_the_session_without_quit() {
    let cases: [(&[u8], &str); 8] = [
        (b"hello\r\n", "code"),
        (b"\r\n", "code"),
        (b"2x0 ok\r\n", "code"),
        (b"600 too big\r\n", "code"),
        (b"099 too small\r\n", "code"),
        (b"220x ok\r\n", "space"),
        (b"220-a\r\n221 b\r\n", "differ"),
        (b"22\r\n", "code"),
    ];
    for (reply, reason_word) in cases {
        let mut s = session(master_alert());
        match s.input(reply) {
            Err(SmtpError::Malformed { stage, reason }) => {
                assert_eq!(stage, Stage::Greeting);
                assert!(reason.contains(reason_word), "{reason}");
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(reply)),
        }
        assert!(s.is_done());
        assert_eq!(s.output(), None);
        assert_eq!(s.buffered(), 0);
    }
}

#[test]
fn garbage_mid_dialogue_names_the_stage() {
    let mut s = session(master_alert());
    let (_, last) = converse(&mut s, &[SUCCESS[0], SUCCESS[1], b"OK\r\n"], usize::MAX);
    assert_eq!(
        last,
        Err(SmtpError::Malformed {
            stage: Stage::MailFrom,
            reason: "a reply line must start with a code 100-599"
        })
    );
}

#[test]
fn over_long_line_is_refused_before_it_is_buffered() {
    let mut s = session(master_alert());
    let long = vec![b'2'; MAX_REPLY_LINE];
    assert_eq!(s.input(&long), Ok(Progress::NeedInput));
    assert_eq!(s.buffered(), MAX_REPLY_LINE);
    assert_eq!(
        s.input(b"0"),
        Err(SmtpError::LineTooLong {
            stage: Stage::Greeting
        })
    );
    assert_eq!(s.buffered(), 0);
    assert!(s.is_done());

    // The limit counts every byte before the LF, a CR included.
    let mut s = session(master_alert());
    let mut line = b"220 ".to_vec();
    line.resize(MAX_REPLY_LINE, b'a');
    line.extend_from_slice(b"\r\n");
    assert!(matches!(s.input(&line), Err(SmtpError::LineTooLong { .. })));
    let mut s = session(master_alert());
    line.truncate(MAX_REPLY_LINE);
    line.push(b'\n');
    assert_eq!(s.input(&line), Ok(Progress::Send));
}

#[test]
fn endless_multi_line_reply_is_cut_off() {
    let mut s = session(master_alert());
    let mut fed = 0usize;
    let error = loop {
        match s.input(b"220-still talking\r\n") {
            Ok(Progress::NeedInput) => fed += 19,
            Ok(other) => panic!("{other:?}"),
            Err(error) => break error,
        }
        assert!(fed <= MAX_REPLY, "the reply bound was not enforced");
    };
    assert_eq!(
        error,
        SmtpError::ReplyTooLong {
            stage: Stage::Greeting
        }
    );
}

#[test]
fn early_close_before_delivery_is_an_error() {
    for (replies, stage) in [
        (0, Stage::Greeting),
        (1, Stage::Helo),
        (3, Stage::RcptTo),
        (6, Stage::Message),
    ] {
        let mut s = session(master_alert());
        let (_, last) = converse(&mut s, &SUCCESS[..replies], usize::MAX);
        assert!(last.is_ok());
        assert_eq!(s.end_of_stream(), Err(SmtpError::Closed { stage }));
        assert!(s.is_done() && !s.is_delivered());
        assert_eq!(s.output(), None);
    }
    // A close in the middle of a reply line too.
    let mut s = session(master_alert());
    s.input(b"220 hal").unwrap();
    assert_eq!(
        s.end_of_stream(),
        Err(SmtpError::Closed {
            stage: Stage::Greeting
        })
    );
}

#[test]
fn close_after_delivery_is_fine() {
    let mut s = session(master_alert());
    let (_, last) = converse(&mut s, &SUCCESS[..7], usize::MAX);
    assert_eq!(last, Ok(Progress::Send));
    assert!(s.is_delivered());
    // The server hangs up before QUIT is even sent.
    assert_eq!(s.end_of_stream(), Ok(Progress::Done));
    assert!(s.is_done());
    assert_eq!(s.output(), None);
}

#[test]
fn unsolicited_bytes_are_a_protocol_error() {
    let mut s = session(master_alert());
    assert_eq!(
        s.input(b"220 hi\r\n250 too early\r\n"),
        Err(SmtpError::Unsolicited { stage: Stage::Helo })
    );
    assert_eq!(s.output(), None);

    // Bytes arriving before the queued command was taken.
    let mut s = session(master_alert());
    assert_eq!(s.input(b"220 hi\r\n"), Ok(Progress::Send));
    assert_eq!(
        s.input(b"2"),
        Err(SmtpError::Unsolicited { stage: Stage::Helo })
    );
}

// --- the message ---------------------------------------------------------------------------

/// The reply a well-behaved server gives at `stage`.
fn good_reply(stage: Stage) -> &'static [u8] {
    match stage {
        Stage::Greeting => b"220 ready\r\n",
        Stage::Data => b"354 go ahead\r\n",
        Stage::Quit => b"221 bye\r\n",
        _ => b"250 ok\r\n",
    }
}

/// What the session sends to a well-behaved server up to and including the message.
fn sent_until_message(s: &mut SmtpSession) -> Vec<String> {
    let mut sent = Vec::new();
    while s.stage() != Stage::Message {
        assert_ne!(s.input(good_reply(s.stage())).unwrap(), Progress::Done);
        sent.push(String::from_utf8(s.output().unwrap()).unwrap());
    }
    sent
}

/// The DATA content the session would send for `alert`.
fn message_of(alert: Alert) -> String {
    let mut s = session(alert);
    let sent = sent_until_message(&mut s);
    assert_eq!(sent[sent.len() - 2], "DATA\r\n");
    sent[sent.len() - 1].clone()
}

#[test]
fn body_lines_starting_with_a_dot_are_stuffed() {
    let alert = Alert {
        body: ".hidden\n..two\r\nplain\r.\n.".to_owned(),
        ..master_alert()
    };
    let message = message_of(alert);
    let body = message.split_once("\r\n\r\n").unwrap().1;
    assert_eq!(body, "..hidden\r\n...two\r\nplain\r\n..\r\n..\r\n.\r\n");
}

#[test]
fn header_injection_through_names_is_neutralised() {
    let s = sender();
    let alert = Alert::vrrp_instance(
        &s,
        "VI_1\r\nBcc: victim@example.net\r\n\r\nforged body",
        InstanceState::Master,
    );
    let message = message_of(alert);
    let (headers, _) = message.split_once("\r\n\r\n").unwrap();
    assert!(
        headers.contains(
            "Subject: [LVS_1] VRRP Instance VI_1  Bcc: victim@example.net    forged body - Entering MASTER state\r\n"
        ),
        "{headers}"
    );
    for line in headers.split("\r\n") {
        assert!(!line.starts_with("Bcc"), "{line}");
    }
    assert_eq!(headers.split("\r\n").count(), 6);

    // A display name in a recipient or the sender cannot add headers either: an address
    // with a line break is refused outright.
    for (from, to) in [
        (
            "Evil\nX-Injected: 1 <keepalived@example.com>",
            "ops@example.com",
        ),
        (
            "keepalived@example.com",
            "Ops\r\nCc: x@example.net <ops@example.com>",
        ),
    ] {
        let alert = Alert {
            from: from.to_owned(),
            to: vec![to.to_owned()],
            ..master_alert()
        };
        assert!(matches!(
            SmtpSession::new(alert, DATE.to_owned()),
            Err(SmtpError::InvalidAddress {
                reason: "contains a control character",
                ..
            })
        ));
    }

    // The date is the caller's, but sanitised all the same.
    let mut s = SmtpSession::new(master_alert(), "today\r\nBcc: x".to_owned()).unwrap();
    let message = sent_until_message(&mut s).pop().unwrap();
    assert!(message.starts_with("Date: today  Bcc: x\r\nFrom: "));
}

#[test]
fn unusable_envelope_addresses_and_helo_are_refused() {
    let bad_addresses = [
        "ops@example.com\r\nRCPT TO:<x@example.net>",
        "<ops@example.com\r\n>",
        "",
        "Name <>",
        "a<b@example.com",
        "ops@example.com\0",
    ];
    for address in bad_addresses {
        let alert = Alert {
            to: vec![address.to_owned()],
            ..master_alert()
        };
        let error = SmtpSession::new(alert, DATE.to_owned()).unwrap_err();
        assert!(
            matches!(error, SmtpError::InvalidAddress { .. }),
            "{address:?}: {error:?}"
        );
        assert_eq!(error.log_level(), log::Level::Error);
        assert!(!error.to_string().contains('\n'), "{error}");

        let alert = Alert {
            from: address.to_owned(),
            ..master_alert()
        };
        assert!(matches!(
            SmtpSession::new(alert, DATE.to_owned()),
            Err(SmtpError::InvalidAddress { .. })
        ));
    }
    let long = format!("{}@example.com", "a".repeat(300));
    assert!(matches!(
        SmtpSession::new(
            Alert {
                to: vec![long],
                ..master_alert()
            },
            DATE.to_owned()
        ),
        Err(SmtpError::InvalidAddress { .. })
    ));
    assert_eq!(
        SmtpSession::new(
            Alert {
                to: Vec::new(),
                ..master_alert()
            },
            DATE.to_owned()
        )
        .unwrap_err(),
        SmtpError::NoRecipient
    );
    for helo in ["lb1 example", "lb1\r\nMAIL FROM:<x>"] {
        assert!(matches!(
            SmtpSession::new(
                Alert {
                    helo: helo.to_owned(),
                    ..master_alert()
                },
                DATE.to_owned()
            ),
            Err(SmtpError::InvalidHelo { .. })
        ));
    }
}

#[test]
fn empty_helo_falls_back_to_localhost() {
    let mut s = session(Alert {
        helo: String::new(),
        ..master_alert()
    });
    let (sent, _) = converse(&mut s, &SUCCESS[..1], usize::MAX);
    assert_eq!(text(&sent), ["HELO localhost\r\n"]);
}

#[test]
fn non_ascii_text_is_declared_as_utf8() {
    let message = message_of(Alert::vrrp_instance(
        &sender(),
        "Zürich",
        InstanceState::Backup,
    ));
    assert!(message.contains("Subject: [LVS_1] VRRP Instance Zürich - Entering BACKUP state\r\n"));
    assert!(message.contains(
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n"
    ));
    assert!(!message_of(master_alert()).contains("MIME-Version"));
}

#[test]
fn long_subject_and_body_lines_are_bounded() {
    let alert = Alert {
        subject: "é".repeat(MAX_SUBJECT),
        body: format!(".{}", "b".repeat(3000)),
        ..master_alert()
    };
    let message = message_of(alert);
    for line in message.split_inclusive("\r\n") {
        assert!(line.len() <= 1000, "{} bytes", line.len());
    }
    let subject = message
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap();
    assert_eq!(subject.len(), MAX_SUBJECT);
    let body = message.split_once("\r\n\r\n").unwrap().1;
    let lines: Vec<&str> = body.split("\r\n").collect();
    assert_eq!(lines[0].len(), MAX_TEXT_LINE + 1);
    assert!(lines[0].starts_with(".."));
    assert_eq!(lines.concat().len(), 3001 + 1 + 1);

    let huge = message_of(Alert {
        body: "x".repeat(MAX_BODY * 2),
        ..master_alert()
    });
    assert!(huge.len() < MAX_BODY + 2048);
}

// --- send_blocking -------------------------------------------------------------------------

/// A scripted stream: each read returns the next chunk (or error); writes are recorded.
struct Script {
    reads: VecDeque<io::Result<Vec<u8>>>,
    written: Vec<u8>,
}

impl Script {
    fn new(reads: Vec<io::Result<Vec<u8>>>) -> Self {
        Script {
            reads: reads.into(),
            written: Vec::new(),
        }
    }
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.reads.pop_front() {
            None => Ok(0),
            Some(Err(error)) => Err(error),
            Some(Ok(mut chunk)) => {
                let n = chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.reads.push_front(Ok(chunk.split_off(n)));
                }
                Ok(n)
            }
        }
    }
}

impl Write for Script {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn script_of(replies: &[&[u8]]) -> Script {
    Script::new(replies.iter().map(|r| Ok(r.to_vec())).collect())
}

#[test]
fn send_blocking_delivers_over_a_scripted_stream() {
    let mut stream = script_of(&SUCCESS);
    send_blocking(&mut stream, session(master_alert())).unwrap();
    let written = String::from_utf8(stream.written).unwrap();
    assert!(written.starts_with("HELO lb1.example.com\r\nMAIL FROM:<keepalived@example.com>\r\n"));
    assert!(written.ends_with(".\r\nQUIT\r\n"));
    assert!(stream.reads.is_empty());
}

#[test]
fn send_blocking_sends_quit_after_a_refusal() {
    let mut replies = SUCCESS.to_vec();
    replies[2] = b"553 5.1.8 sender rejected\r\n";
    let mut stream = script_of(&replies);
    let error = send_blocking(&mut stream, session(master_alert())).unwrap_err();
    assert!(matches!(
        error,
        SmtpError::Rejected {
            stage: Stage::MailFrom,
            code: 553,
            ..
        }
    ));
    assert_eq!(
        String::from_utf8(stream.written).unwrap(),
        "HELO lb1.example.com\r\nMAIL FROM:<keepalived@example.com>\r\nQUIT\r\n"
    );
}

#[test]
fn send_blocking_reports_close_and_io_errors() {
    let mut stream = script_of(&SUCCESS[..2]);
    assert_eq!(
        send_blocking(&mut stream, session(master_alert())),
        Err(SmtpError::Closed {
            stage: Stage::MailFrom
        })
    );

    let mut stream = Script::new(vec![
        Ok(SUCCESS[0].to_vec()),
        Err(io::Error::new(io::ErrorKind::WouldBlock, "timed out")),
    ]);
    match send_blocking(&mut stream, session(master_alert())) {
        Err(SmtpError::Io { stage, kind, .. }) => {
            assert_eq!((stage, kind), (Stage::Helo, io::ErrorKind::WouldBlock));
        }
        other => panic!("{other:?}"),
    }

    // Once delivered, a lost QUIT reply is no failure.
    let mut replies: Vec<io::Result<Vec<u8>>> =
        SUCCESS[..7].iter().map(|r| Ok(r.to_vec())).collect();
    replies.push(Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")));
    let mut stream = Script::new(replies);
    assert_eq!(send_blocking(&mut stream, session(master_alert())), Ok(()));

    // Interrupted reads are retried.
    let mut replies: Vec<io::Result<Vec<u8>>> = Vec::new();
    for reply in SUCCESS {
        replies.push(Err(io::Error::from(io::ErrorKind::Interrupted)));
        replies.push(Ok(reply.to_vec()));
    }
    let mut stream = Script::new(replies);
    assert_eq!(send_blocking(&mut stream, session(master_alert())), Ok(()));
}

/// A stream whose reads are always interrupted: the loop must still end.
struct Interrupting;

impl Read for Interrupting {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::from(io::ErrorKind::Interrupted))
    }
}

impl Write for Interrupting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn send_blocking_loop_is_bounded() {
    assert_eq!(
        send_blocking(&mut Interrupting, session(master_alert())),
        Err(SmtpError::Stalled {
            stage: Stage::Greeting
        })
    );

    // A server trickling an endless reply one byte per read.
    let trickle: Vec<io::Result<Vec<u8>>> = b"220-"
        .iter()
        .chain(std::iter::repeat_n(&b'x', MAX_REPLY + 10))
        .map(|b| Ok(vec![*b]))
        .collect();
    let mut stream = Script::new(trickle);
    assert_eq!(
        send_blocking(&mut stream, session(master_alert())),
        Err(SmtpError::LineTooLong {
            stage: Stage::Greeting
        })
    );
}

#[test]
fn send_blocking_over_a_socket_with_a_server_thread() {
    let (mut client, server) = UnixStream::pair().unwrap();
    for end in [&client, &server] {
        end.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        end.set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
    }
    let mut writer = server.try_clone().unwrap();
    let smtp_server = std::thread::spawn(move || -> io::Result<Vec<String>> {
        let mut reader = BufReader::new(server);
        let mut received = Vec::new();
        writer.write_all(b"220-mail.example.com ESMTP\r\n220 ready\r\n")?;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(received);
            }
            received.push(line.clone());
            match line.trim_end() {
                l if l.starts_with("HELO ") => {
                    writer.write_all(b"250-mail.example.com\r\n250 HELP\r\n")?;
                }
                l if l.starts_with("MAIL FROM:") || l.starts_with("RCPT TO:") => {
                    writer.write_all(b"250 Ok\r\n")?;
                }
                "DATA" => {
                    writer.write_all(b"354 go ahead\r\n")?;
                    loop {
                        let mut data = String::new();
                        if reader.read_line(&mut data)? == 0 {
                            return Ok(received);
                        }
                        received.push(data.clone());
                        if data == ".\r\n" {
                            break;
                        }
                    }
                    writer.write_all(b"250 queued\r\n")?;
                }
                "QUIT" => {
                    writer.write_all(b"221 bye\r\n")?;
                    return Ok(received);
                }
                _ => writer.write_all(b"500 what\r\n")?,
            }
        }
    });
    let result = send_blocking(&mut client, session(master_alert()));
    drop(client);
    let received = smtp_server.join().unwrap().unwrap();
    assert_eq!(result, Ok(()));
    let expected: Vec<String> = [
        "HELO lb1.example.com\r\n",
        "MAIL FROM:<keepalived@example.com>\r\n",
        "RCPT TO:<ops@example.com>\r\n",
        "RCPT TO:<night@example.org>\r\n",
        "DATA\r\n",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(MASTER_MESSAGE.split_inclusive("\r\n").map(str::to_owned))
    .chain(["QUIT\r\n".to_owned()])
    .collect();
    assert_eq!(received, expected);
}

// --- properties ----------------------------------------------------------------------------

/// Pieces a hostile or broken server might send, to reach deeper states than random bytes.
fn reply_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"220 ok\r\n".to_vec()),
        Just(b"250 ok\r\n".to_vec()),
        Just(b"250-more\r\n".to_vec()),
        Just(b"251 fwd\r\n".to_vec()),
        Just(b"354 go\r\n".to_vec()),
        Just(b"221 bye\r\n".to_vec()),
        Just(b"550 no\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::collection::vec(Just(b'a'), 0..1100),
    ]
}

/// Feeds `chunks`, taking output between them as a driver would; checks the bounds.
fn feed_checked(chunks: &[Vec<u8>], take_output: bool) -> Result<(), TestCaseError> {
    let mut s = session(master_alert());
    for chunk in chunks {
        if take_output {
            let _ = s.output();
        }
        let result = s.input(chunk);
        prop_assert!(s.buffered() <= MAX_REPLY_LINE);
        prop_assert!(s.line.capacity() <= MAX_REPLY_LINE);
        prop_assert!(s.reply.bytes <= MAX_REPLY);
        prop_assert!(s.reply.text.len() <= MAX_ERROR_TEXT);
        if result.is_err() {
            prop_assert!(s.is_done());
            prop_assert!(s.failure().is_some());
            prop_assert!(!s.is_delivered());
        }
        if s.is_done() {
            // Done stays done, whatever follows.
            prop_assert_eq!(s.input(b"250 ok\r\n"), Ok(Progress::Done));
        }
    }
    let _ = s.end_of_stream();
    prop_assert!(s.is_done());
    prop_assert_eq!(s.is_delivered(), s.failure().is_none());
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_server_bytes_never_panic_or_overflow(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..2048), 0..24),
        take_output in any::<bool>(),
    ) {
        feed_checked(&chunks, take_output)?;
    }

    #[test]
    fn plausible_server_replies_never_panic_or_overflow(
        chunks in proptest::collection::vec(reply_piece(), 0..48),
        take_output in any::<bool>(),
    ) {
        feed_checked(&chunks, take_output)?;
    }

    #[test]
    fn rendered_messages_keep_their_shape(
        instance in ".{0,80}",
        body in ".{0,400}",
        crlf_body in proptest::collection::vec(prop_oneof![Just("\r\n".to_owned()), Just(".".to_owned()), Just("\r".to_owned()), ".{0,20}"], 0..20),
        date in ".{0,40}",
    ) {
        let mut alert = Alert::vrrp_instance(&sender(), &instance, InstanceState::Fault);
        alert.body = format!("{body}{}", crlf_body.concat());
        let message = render_message(&alert, &date);
        let message = String::from_utf8(message).unwrap();
        prop_assert!(message.ends_with("\r\n.\r\n"));
        // Every line ends with CR LF; no bare CR or LF anywhere.
        let bytes = message.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'\r' {
                prop_assert_eq!(bytes.get(i + 1), Some(&b'\n'));
            }
            if *b == b'\n' {
                prop_assert!(i > 0 && bytes[i - 1] == b'\r');
            }
        }
        let (headers, rest) = message.split_once("\r\n\r\n").unwrap();
        let known = ["Date: ", "From: ", "Subject: ", "X-Mailer: ", "To: ", " ",
            "MIME-Version: ", "Content-Type: ", "Content-Transfer-Encoding: "];
        for line in headers.split("\r\n") {
            prop_assert!(known.iter().any(|k| line.starts_with(k)), "header line {:?}", line);
        }
        let lines: Vec<&str> = rest.split_inclusive("\r\n").collect();
        let (last, body_lines) = lines.split_last().unwrap();
        prop_assert_eq!(*last, ".\r\n");
        for line in body_lines {
            prop_assert!(line.len() <= 1000);
            prop_assert!(!line.starts_with('.') || line.starts_with(".."), "unstuffed {:?}", line);
        }
    }
}
