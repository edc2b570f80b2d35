//! E-mail alerts: the messages keepalived sends, and a sans-IO SMTP client that delivers one.
//!
//! keepalived mails the `notification_email` recipients when a VRRP instance or sync group
//! changes state, when a real server goes up or down and when a virtual server gains or
//! loses its quorum (each object's `smtp_alert`, with the global `smtp_alert`,
//! `smtp_alert_vrrp` and `smtp_alert_checker` as defaults). In keepalived-rs the parent
//! decides that an alert is due and the checker process, the unprivileged network client,
//! delivers it: [`Alert`] is the message, [`SmtpSession`] the dialogue with `smtp_server`,
//! [`send_blocking`] a small driver for tests and the command line.
//!
//! One alert is one connection, the dialogue keepalived has (plain SMTP, one command at a
//! time, no pipelining):
//!
//! ```text
//!  checker process                           smtp_server HOST [PORT]
//!                                        <-- 220 greeting                 Stage::Greeting
//!  HELO <smtp_helo_name>                 -->
//!                                        <-- 250                          Stage::Helo
//!  MAIL FROM:<notification_email_from>   -->
//!                                        <-- 250                          Stage::MailFrom
//!  RCPT TO:<addr>  (once per recipient)  -->
//!                                        <-- 250 or 251                   Stage::RcptTo
//!  DATA                                  -->
//!                                        <-- 354                          Stage::Data
//!  Date/From/Subject/X-Mailer/To,        -->
//!  blank line, body (dot-stuffed), "."
//!                                        <-- 250  (the alert is delivered) Stage::Message
//!  QUIT                                  -->
//!                                        <-- 221                          Stage::Quit
//! ```
//!
//! There is no TLS: keepalived speaks neither STARTTLS nor SMTP AUTH, and neither does
//! keepalived-rs; `smtp_server` is expected to be a local relay.
//!
//! Where keepalived-rs differs from keepalived (2.4.x, `keepalived/core/smtp.c`):
//! - `HELO`, as keepalived, not `EHLO`: the client uses no extension, and every server must
//!   accept `HELO` (RFC 5321 4.1.1.1). Multi-line replies are parsed at every step anyway.
//! - A recipient the server refuses is skipped and reported
//!   ([`SmtpSession::refused_recipients`]); the alert still goes to the others. keepalived
//!   abandons the whole alert at the first refused recipient. `251` ("will forward") is
//!   accepted besides `250` (RFC 5321 4.2.2).
//! - After the message is accepted, any reply to `QUIT`, or the server closing the
//!   connection, ends the session as delivered; keepalived re-sends `QUIT` on a reply other
//!   than 221.
//! - Header values are sanitised (control characters, CR and LF among them, become spaces),
//!   envelope addresses containing control characters or angle brackets are refused, body
//!   lines are dot-stuffed and wrapped below the 1000-octet line limit (RFC 5321 4.5.3.1.6);
//!   keepalived copies names into the headers as they are and truncates the subject at 255
//!   and the body at 511 bytes (here: [`MAX_SUBJECT`] and [`MAX_BODY`]).
//! - When a header or the body is not ASCII the message says so (`MIME-Version`,
//!   `Content-Type: text/plain; charset=utf-8`, `Content-Transfer-Encoding: 8bit`); the
//!   text is still sent as raw UTF-8, as keepalived does.
//! - The message ends with the body line and `.`; keepalived adds one empty line before
//!   the `.`.
//! - A lost quorum is written `Q-H=T > W`, the comparison that was made; keepalived writes
//!   `Q+H=T <= W` for gains and losses alike.
//!
//! The module reads no clock: the caller passes the `Date:` header value (keepalived uses
//! the local time, `%a, %d %b %Y %H:%M:%S %z`).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// The longest server reply line accepted, CR LF excluded: RFC 5321 4.5.3.1.5 allows 512
/// octets with the CR LF; the rest is slack for servers that exceed it.
pub const MAX_REPLY_LINE: usize = 1024;

/// The most bytes one server reply (all its lines) may take. A reply still growing past it
/// ends the session, so a hostile server can neither make the client allocate nor keep it
/// reading forever.
pub const MAX_REPLY: usize = 16 * 1024;

/// The longest subject sent, in bytes; a longer one is cut at a character boundary. With
/// `Subject: ` and CR LF the header line stays under RFC 5322's 998 octets.
pub const MAX_SUBJECT: usize = 900;

/// The longest body sent, in bytes; a longer one is cut at a character boundary.
pub const MAX_BODY: usize = 16 * 1024;

/// The longest body line sent, in bytes, before a dot-stuffing `.` and CR LF: long lines are
/// wrapped so that no line on the wire exceeds RFC 5321's 1000 octets.
const MAX_TEXT_LINE: usize = 990;

/// The longest envelope address (RFC 5321 4.5.3.1.3: a path of 256 octets with its angle
/// brackets).
const MAX_ADDRESS: usize = 254;

/// The longest address as written in a `From:` or `To:` header (display name included).
const MAX_HEADER_ADDRESS: usize = 512;

/// The longest `HELO` argument (a domain name of 255 octets).
const MAX_HELO: usize = 255;

/// The longest `Date:` header value.
const MAX_DATE: usize = 128;

/// How much of a server's reply text an error keeps.
const MAX_ERROR_TEXT: usize = 256;

/// The `HELO` argument when `smtp_helo_name` is empty (keepalived's fallback).
const DEFAULT_HELO: &str = "localhost";

/// The `X-Mailer:` header value; keepalived's, kept so that mail filters still match.
const X_MAILER: &str = "Keepalived";

// ---------------------------------------------------------------------------------------
// What an alert says
// ---------------------------------------------------------------------------------------

/// Who sends alerts and to whom: the `global_defs` settings every alert shares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSender {
    /// `router_id`: names this machine in every subject (`[router_id] ...`); empty leaves
    /// the prefix out. keepalived defaults it to the host name.
    pub router_id: String,
    /// `notification_email_from`: the `From:` header; `Name <addr>` gives the envelope
    /// sender `addr`.
    pub from: String,
    /// `notification_email`: the recipients, each `addr` or `Name <addr>`.
    pub to: Vec<String>,
    /// `smtp_helo_name`: the `HELO` argument; empty means `localhost`.
    pub helo: String,
}

impl AlertSender {
    /// An alert from this sender with `subject` after the `[router_id]` prefix.
    fn alert(&self, subject: fmt::Arguments<'_>, body: String) -> Alert {
        let subject = if self.router_id.is_empty() {
            subject.to_string()
        } else {
            format!("[{}] {}", self.router_id, subject)
        };
        Alert {
            from: self.from.clone(),
            to: self.to.clone(),
            subject,
            body,
            helo: self.helo.clone(),
        }
    }
}

/// One e-mail alert, ready for an [`SmtpSession`].
///
/// The fields are the raw text; [`SmtpSession::new`] validates the addresses and
/// neutralises what could break out of a header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The `From:` header; `Name <addr>` gives the envelope sender `addr`.
    pub from: String,
    /// The recipients, each `addr` or `Name <addr>`.
    pub to: Vec<String>,
    /// The `Subject:` header.
    pub subject: String,
    /// The message text.
    pub body: String,
    /// The `HELO` argument; empty means `localhost`.
    pub helo: String,
}

/// The VRRP instance states keepalived mails about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InstanceState {
    /// The instance became MASTER.
    Master,
    /// The instance became BACKUP.
    Backup,
    /// The instance entered FAULT (`no_email_faults` suppresses this one).
    Fault,
    /// The instance is stopping (shutdown).
    Stop,
    /// The instance was removed by a reload.
    Deleted,
}

impl InstanceState {
    /// The subject text after the instance name.
    fn subject(self) -> &'static str {
        match self {
            InstanceState::Master => "Entering MASTER state",
            InstanceState::Backup => "Entering BACKUP state",
            InstanceState::Fault => "Entering FAULT state",
            InstanceState::Stop => "Stopping",
            InstanceState::Deleted => "Deleted",
        }
    }
}

/// The VRRP sync group states keepalived mails about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupState {
    /// Every instance of the group is MASTER.
    Master,
    /// Every instance of the group is BACKUP.
    Backup,
    /// The group is in FAULT.
    Fault,
    /// The group is stopping.
    Stop,
}

impl GroupState {
    /// The subject text after the group name.
    fn subject(self) -> &'static str {
        match self {
            GroupState::Master => "Entering MASTER state",
            GroupState::Backup => "Entering BACKUP state",
            GroupState::Fault => "Entering FAULT state",
            GroupState::Stop => "Stopping",
        }
    }

    /// The state word of the body.
    fn word(self) -> &'static str {
        match self {
            GroupState::Master => "MASTER",
            GroupState::Backup => "BACKUP",
            GroupState::Fault => "FAULT",
            GroupState::Stop => "",
        }
    }
}

/// The layer 4 protocol of a virtual server, as alerts name it (`tcp`, `udp`, `sctp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ServiceType {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl ServiceType {
    /// The word alerts use; no protocol is `none`, as in keepalived.
    fn label(protocol: Option<ServiceType>) -> &'static str {
        match protocol {
            Some(ServiceType::Tcp) => "tcp",
            Some(ServiceType::Udp) => "udp",
            Some(ServiceType::Sctp) => "sctp",
            None => "none",
        }
    }
}

/// How a virtual server is declared, which decides how alerts name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VirtualServerKind {
    /// `virtual_server IP PORT`: named `[IP]:proto:PORT`.
    Address(SocketAddr),
    /// `virtual_server fwmark N`: named `FWM N`.
    Fwmark(u32),
    /// `virtual_server group NAME`: named `[NAME]:PORT`.
    Group {
        /// The virtual_server_group name.
        name: String,
        /// The virtual server's port (0 when it has none).
        port: u16,
    },
}

/// The virtual server an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VirtualServerRef {
    /// How the virtual server is declared.
    pub kind: VirtualServerKind,
    /// Its `protocol`, which also names its real servers.
    pub protocol: Option<ServiceType>,
}

impl fmt::Display for VirtualServerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            VirtualServerKind::Address(addr) => f.write_str(&endpoint_label(*addr, self.protocol)),
            VirtualServerKind::Fwmark(mark) => write!(f, "FWM {mark}"),
            VirtualServerKind::Group { name, port } => write!(f, "[{name}]:{port}"),
        }
    }
}

/// An address and port as alerts write them: `[192.0.2.10]:tcp:80`, `[2001:db8::1]:udp:53`.
pub fn endpoint_label(addr: SocketAddr, protocol: Option<ServiceType>) -> String {
    format!(
        "[{}]:{}:{}",
        addr.ip(),
        ServiceType::label(protocol),
        addr.port()
    )
}

/// How a MISC_CHECK script ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MiscOutcome {
    /// The script reported success.
    Succeeded,
    /// The script reported failure.
    Failed,
    /// The script was killed after `misc_timeout`.
    TimedOut,
}

/// The result of one checker, which is the body of a real server alert.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CheckResult {
    /// TCP_CHECK: `=> TCP CHECK succeed|failed on service <=`.
    Tcp {
        /// The check succeeded.
        up: bool,
    },
    /// UDP_CHECK: `=> UDP CHECK succeed|failed on service <=`.
    Udp {
        /// The check succeeded.
        up: bool,
    },
    /// PING_CHECK: `=> ICMP CHECK succeed|failed on service <=`.
    Ping {
        /// The check succeeded.
        up: bool,
    },
    /// DNS_CHECK: `=> DNS_CHECK: succeed|failed on service <=`.
    Dns {
        /// The check succeeded.
        up: bool,
    },
    /// HTTP_GET/SSL_GET: `=> CHECK succeed on service <=` or
    /// `=> CHECK failed on service : HTTP/SSL request failed <=`.
    Http {
        /// The check succeeded.
        up: bool,
    },
    /// SMTP_CHECK: `=> CHECK succeed on service <=` or
    /// `=> CHECK failed on service[ : DETAIL] <=`.
    Smtp {
        /// The check succeeded.
        up: bool,
        /// Why it failed, when known.
        detail: Option<String>,
    },
    /// MISC_CHECK: `=> MISC CHECK succeeded|failed|timed out on service <=`.
    Misc(MiscOutcome),
    /// BFD tracking: `=> BFD CHECK NAME succeeded|failed on service <=`.
    Bfd {
        /// The bfd_instance name.
        instance: String,
        /// The BFD session is up.
        up: bool,
    },
}

impl CheckResult {
    /// The alert body keepalived writes for this result.
    pub fn body(&self) -> String {
        fn verb(up: bool) -> &'static str {
            if up { "succeed" } else { "failed" }
        }
        match self {
            CheckResult::Tcp { up } => format!("=> TCP CHECK {} on service <=", verb(*up)),
            CheckResult::Udp { up } => format!("=> UDP CHECK {} on service <=", verb(*up)),
            CheckResult::Ping { up } => format!("=> ICMP CHECK {} on service <=", verb(*up)),
            CheckResult::Dns { up } => format!("=> DNS_CHECK: {} on service <=", verb(*up)),
            CheckResult::Http { up: true } | CheckResult::Smtp { up: true, .. } => {
                "=> CHECK succeed on service <=".to_owned()
            }
            CheckResult::Http { up: false } => {
                "=> CHECK failed on service : HTTP/SSL request failed <=".to_owned()
            }
            CheckResult::Smtp {
                up: false,
                detail: Some(detail),
            } => format!("=> CHECK failed on service : {detail} <="),
            CheckResult::Smtp {
                up: false,
                detail: None,
            } => "=> CHECK failed on service <=".to_owned(),
            CheckResult::Misc(outcome) => {
                let word = match outcome {
                    MiscOutcome::Succeeded => "succeeded",
                    MiscOutcome::Failed => "failed",
                    MiscOutcome::TimedOut => "timed out",
                };
                format!("=> MISC CHECK {word} on service <=")
            }
            CheckResult::Bfd { instance, up } => format!(
                "=> BFD CHECK {instance} {} on service <=",
                if *up { "succeeded" } else { "failed" }
            ),
        }
    }
}

/// A virtual server's quorum changed (or was first computed at start-up).
///
/// The threshold is `quorum + hysteresis` for gaining the quorum and
/// `quorum - hysteresis` for losing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QuorumChange {
    /// The quorum is now met.
    pub up: bool,
    /// This is the state found at start-up, not a change.
    pub starting: bool,
    /// The virtual server's `quorum`.
    pub quorum: u32,
    /// The virtual server's `hysteresis`.
    pub hysteresis: u32,
    /// The summed weight of the live real servers.
    pub weight_sum: i64,
}

impl Alert {
    /// A VRRP instance changed state:
    /// `[router_id] VRRP Instance VI_1 - Entering MASTER state`.
    pub fn vrrp_instance(sender: &AlertSender, instance: &str, state: InstanceState) -> Alert {
        let body = match state {
            InstanceState::Master => "=> VRRP Instance is now owning VRRP VIPs <=",
            InstanceState::Backup | InstanceState::Fault => {
                "=> VRRP Instance is no longer owning VRRP VIPs <="
            }
            InstanceState::Stop => "=> VRRP Instance stopping <=",
            InstanceState::Deleted => "=> VRRP Deleted at reload <=",
        };
        sender.alert(
            format_args!("VRRP Instance {instance} - {}", state.subject()),
            body.to_owned(),
        )
    }

    /// A VRRP sync group changed state:
    /// `[router_id] VRRP Group G1 - Entering BACKUP state`.
    pub fn sync_group(sender: &AlertSender, group: &str, state: GroupState) -> Alert {
        let body = match state {
            GroupState::Stop => "=> All VRRP group instances are now stopping <=".to_owned(),
            _ => format!(
                "=> All VRRP group instances are now in {} state <=",
                state.word()
            ),
        };
        sender.alert(
            format_args!("VRRP Group {group} - {}", state.subject()),
            body,
        )
    }

    /// A checker changed a real server's state:
    /// `[router_id] Realserver [192.0.2.10]:tcp:80 of virtual server [192.0.2.1]:tcp:80 - UP`,
    /// with the checker's result (see [`CheckResult::body`]) as the body.
    ///
    /// `alive` is the real server's state after the change, which with several checkers
    /// need not be the result of this one.
    pub fn real_server(
        sender: &AlertSender,
        vs: &VirtualServerRef,
        rs: SocketAddr,
        alive: bool,
        reason: &str,
    ) -> Alert {
        sender.alert(
            format_args!(
                "Realserver {} of virtual server {vs} - {}",
                endpoint_label(rs, vs.protocol),
                if alive { "UP" } else { "DOWN" }
            ),
            reason.to_owned(),
        )
    }

    /// A live real server was removed, by a reload (`=> Removing <=`) or at shutdown
    /// (`=> Shutting down <=`); the subject says `DOWN`.
    pub fn real_server_removed(
        sender: &AlertSender,
        vs: &VirtualServerRef,
        rs: SocketAddr,
        shutting_down: bool,
    ) -> Alert {
        let body = if shutting_down {
            "=> Shutting down <="
        } else {
            "=> Removing <="
        };
        Alert::real_server(sender, vs, rs, false, body)
    }

    /// A virtual server gained or lost its quorum:
    /// `[router_id] Virtualserver [192.0.2.1]:tcp:80 - UP` with the body
    /// `=> Gained quorum 2+1=3 <= 4 <=` (or `=> Lost quorum 2-1=1 > 0 <=`).
    pub fn quorum(sender: &AlertSender, vs: &VirtualServerRef, change: &QuorumChange) -> Alert {
        let quorum = i64::from(change.quorum);
        let hysteresis = i64::from(change.hysteresis);
        let body = if change.up {
            format!(
                "=> {} {}+{}={} <= {} <=",
                if change.starting {
                    "Starting with quorum up"
                } else {
                    "Gained quorum"
                },
                change.quorum,
                change.hysteresis,
                quorum + hysteresis,
                change.weight_sum
            )
        } else {
            format!(
                "=> {} {}-{}={} > {} <=",
                if change.starting {
                    "Starting with quorum down"
                } else {
                    "Lost quorum"
                },
                change.quorum,
                change.hysteresis,
                quorum - hysteresis,
                change.weight_sum
            )
        };
        sender.alert(
            format_args!(
                "Virtualserver {vs} - {}",
                if change.up { "UP" } else { "DOWN" }
            ),
            body,
        )
    }

    /// A virtual server is shutting down (with `omega`):
    /// `[router_id] Virtualserver [192.0.2.1]:tcp:80 - DOWN`, `=> Shutting down <=`.
    pub fn virtual_server_shutdown(sender: &AlertSender, vs: &VirtualServerRef) -> Alert {
        sender.alert(
            format_args!("Virtualserver {vs} - DOWN"),
            "=> Shutting down <=".to_owned(),
        )
    }

    /// Any other alert, for example a test message from the command line:
    /// `[router_id] SUBJECT`.
    pub fn custom(sender: &AlertSender, subject: &str, body: &str) -> Alert {
        sender.alert(format_args!("{subject}"), body.to_owned())
    }
}

// ---------------------------------------------------------------------------------------
// The SMTP dialogue
// ---------------------------------------------------------------------------------------

/// Where a dialogue is: the reply the session waits for (or the command it has queued).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Waiting for the server's `220` greeting.
    Greeting,
    /// `HELO` sent or queued, `250` expected.
    Helo,
    /// `MAIL FROM` sent or queued, `250` expected.
    MailFrom,
    /// `RCPT TO` for one recipient sent or queued, `250` or `251` expected.
    RcptTo,
    /// `DATA` sent or queued, `354` expected.
    Data,
    /// The message sent or queued, `250` expected: then the alert is delivered.
    Message,
    /// `QUIT` sent or queued, `221` expected.
    Quit,
    /// The dialogue ended after delivery.
    Done,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Greeting => "greeting",
            Stage::Helo => "HELO",
            Stage::MailFrom => "MAIL FROM",
            Stage::RcptTo => "RCPT TO",
            Stage::Data => "DATA",
            Stage::Message => "message",
            Stage::Quit => "QUIT",
            Stage::Done => "end",
        })
    }
}

/// Why an alert was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpError {
    // --- the alert itself ---------------------------------------------------------------
    /// The alert has no recipient.
    #[error("SMTP alert has no recipient (notification_email is empty)")]
    NoRecipient,
    /// A sender or recipient address cannot be used.
    #[error("SMTP alert address {address:?} is unusable: {reason}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The `HELO` name cannot be used.
    #[error("smtp_helo_name {helo:?} is unusable: {reason}")]
    InvalidHelo {
        /// The name as given.
        helo: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    // --- the server's replies -----------------------------------------------------------
    /// The server answered with a code other than the one expected.
    #[error("SMTP server refused {stage}: {code} {text}")]
    Rejected {
        /// The reply that refused.
        stage: Stage,
        /// The reply code.
        code: u16,
        /// The reply text, sanitised and shortened.
        text: String,
    },
    /// A reply does not follow RFC 5321 4.2.
    #[error("malformed SMTP reply to {stage}: {reason}")]
    Malformed {
        /// The reply that was malformed.
        stage: Stage,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A reply line is longer than [`MAX_REPLY_LINE`].
    #[error("SMTP reply line to {stage} longer than {MAX_REPLY_LINE} bytes")]
    LineTooLong {
        /// The reply that was too long.
        stage: Stage,
    },
    /// A reply is longer than [`MAX_REPLY`].
    #[error("SMTP reply to {stage} longer than {MAX_REPLY} bytes")]
    ReplyTooLong {
        /// The reply that was too long.
        stage: Stage,
    },
    /// The server sent bytes while no reply was due.
    #[error("SMTP server sent data before the {stage} command")]
    Unsolicited {
        /// The command the client was about to send.
        stage: Stage,
    },
    /// The server closed the connection before the message was accepted.
    #[error("SMTP server closed the connection while {stage} was pending")]
    Closed {
        /// What the client was waiting for.
        stage: Stage,
    },

    // --- the connection (send_blocking) -------------------------------------------------
    /// Reading from or writing to the server failed (a timeout among others).
    #[error("SMTP I/O error while {stage} was pending: {message}")]
    Io {
        /// What the client was waiting for.
        stage: Stage,
        /// The I/O error kind.
        kind: io::ErrorKind,
        /// The I/O error text.
        message: String,
    },
    /// The dialogue did not end within its read budget (reads kept being interrupted).
    #[error("SMTP dialogue stalled while {stage} was pending")]
    Stalled {
        /// What the client was waiting for.
        stage: Stage,
    },
}

impl SmtpError {
    /// The level to log this error at: configuration mistakes are errors, a server or
    /// network failure is a warning (keepalived logs them all at LOG_INFO).
    pub fn log_level(&self) -> log::Level {
        match self {
            SmtpError::NoRecipient
            | SmtpError::InvalidAddress { .. }
            | SmtpError::InvalidHelo { .. } => log::Level::Error,
            _ => log::Level::Warn,
        }
    }
}

/// A recipient the server refused; the alert went to the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedRecipient {
    /// The envelope address.
    pub address: String,
    /// The reply code.
    pub code: u16,
    /// The reply text, sanitised and shortened.
    pub text: String,
}

/// What the caller does next after [`SmtpSession::input`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Read more bytes from the server.
    NeedInput,
    /// [`SmtpSession::output`] has bytes to send.
    Send,
    /// The dialogue is over ([`SmtpSession::is_delivered`] tells whether the alert went
    /// out); [`SmtpSession::output`] may still hold a courtesy `QUIT`.
    Done,
}

/// The reply being read.
#[derive(Debug, Default)]
struct Reply {
    /// The code of its first line.
    code: Option<u16>,
    /// Bytes taken so far, line ends included.
    bytes: usize,
    /// Its text so far, lines joined by spaces, at most [`MAX_ERROR_TEXT`] bytes.
    text: String,
}

/// The SMTP dialogue for one alert, driven by bytes: the caller connects, feeds what the
/// server sends to [`input`](Self::input) and sends what [`output`](Self::output) returns.
/// No socket, no clock; timeouts belong to the caller (keepalived: `smtp_connect_timeout`
/// for the connection and for each read).
#[derive(Debug)]
pub struct SmtpSession {
    /// The `HELO` argument.
    helo: String,
    /// The envelope sender.
    mail_from: String,
    /// The envelope recipients.
    rcpt_to: Vec<String>,
    /// The DATA content, taken when sent.
    message: Vec<u8>,
    /// The reply awaited, or the command queued.
    stage: Stage,
    /// The recipient of the current `RCPT TO`.
    rcpt_index: usize,
    /// How many recipients the server accepted.
    accepted: usize,
    /// The recipients the server refused.
    refused: Vec<RefusedRecipient>,
    /// The command to send next.
    outbox: Option<Vec<u8>>,
    /// A command was sent and its reply is due.
    awaiting: bool,
    /// The reply line being read (never more than [`MAX_REPLY_LINE`] bytes).
    line: Vec<u8>,
    /// The reply being read.
    reply: Reply,
    /// The server accepted the message.
    delivered: bool,
    /// The dialogue is over, delivered or failed.
    finished: bool,
    /// Why it failed.
    failure: Option<SmtpError>,
}

impl SmtpSession {
    /// A session for `alert`, with `date_header` as the `Date:` value (RFC 5322, e.g.
    /// `Mon, 01 Mar 2021 09:44:08 +0000`; the module reads no clock).
    ///
    /// Fails when the alert has no recipient or an address or the `HELO` name cannot be
    /// used; subject, body and date are sanitised, never refused.
    pub fn new(alert: Alert, date_header: String) -> Result<Self, SmtpError> {
        if alert.to.is_empty() {
            return Err(SmtpError::NoRecipient);
        }
        let mail_from = envelope_address(&alert.from)?.to_owned();
        let rcpt_to = alert
            .to
            .iter()
            .map(|to| envelope_address(to).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        let helo = helo_name(&alert.helo)?.to_owned();
        let message = render_message(&alert, &date_header);
        Ok(SmtpSession {
            helo,
            mail_from,
            rcpt_to,
            message,
            stage: Stage::Greeting,
            rcpt_index: 0,
            accepted: 0,
            refused: Vec::new(),
            outbox: None,
            awaiting: true,
            line: Vec::with_capacity(MAX_REPLY_LINE),
            reply: Reply::default(),
            delivered: false,
            finished: false,
            failure: None,
        })
    }

    /// The bytes to send next, once each; `None` while waiting for the server.
    pub fn output(&mut self) -> Option<Vec<u8>> {
        let bytes = self.outbox.take()?;
        if !self.finished {
            self.awaiting = true;
        }
        Some(bytes)
    }

    /// Takes bytes the server sent, in chunks of any size.
    ///
    /// An error ends the session. After a refusal [`output`](Self::output) holds a
    /// courtesy `QUIT`; after a protocol violation it holds nothing. Once the session is
    /// over, further bytes are ignored.
    pub fn input(&mut self, bytes: &[u8]) -> Result<Progress, SmtpError> {
        match self.take_input(bytes) {
            Err(_) if self.delivered => {
                // The message is accepted; a misbehaving server after that changes nothing.
                self.failure = None;
                self.finish_delivered();
                Ok(Progress::Done)
            }
            result => result,
        }
    }

    /// [`input`](Self::input) without the leniency once the message is delivered.
    fn take_input(&mut self, bytes: &[u8]) -> Result<Progress, SmtpError> {
        for &byte in bytes {
            if self.finished {
                // After QUIT's reply or a refusal nothing the server says matters.
                break;
            }
            if !self.awaiting {
                return self.fail(SmtpError::Unsolicited { stage: self.stage });
            }
            self.reply.bytes += 1;
            if self.reply.bytes > MAX_REPLY {
                return self.fail(SmtpError::ReplyTooLong { stage: self.stage });
            }
            if byte == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                let complete = self.reply_line(&line);
                // Reuse the allocation: the line buffer never outgrows MAX_REPLY_LINE.
                line.clear();
                self.line = line;
                if let Some(code) = complete? {
                    self.on_reply(code)?;
                }
            } else if self.line.len() >= MAX_REPLY_LINE {
                return self.fail(SmtpError::LineTooLong { stage: self.stage });
            } else {
                self.line.push(byte);
            }
        }
        Ok(self.progress())
    }

    /// The server closed the connection (a read returned end of file). Fine once the
    /// message was accepted; an error before.
    pub fn end_of_stream(&mut self) -> Result<Progress, SmtpError> {
        if self.finished {
            return Ok(Progress::Done);
        }
        if self.delivered {
            self.finish_delivered();
            return Ok(Progress::Done);
        }
        self.fail(SmtpError::Closed { stage: self.stage })
    }

    /// The dialogue is over: nothing more to read (a courtesy `QUIT` may remain in
    /// [`output`](Self::output)).
    pub fn is_done(&self) -> bool {
        self.finished
    }

    /// The server accepted the message (its `250` after the final `.`).
    pub fn is_delivered(&self) -> bool {
        self.delivered
    }

    /// The reply awaited or the command queued; after a failure, where it failed.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// Why the session failed, once it has.
    pub fn failure(&self) -> Option<&SmtpError> {
        self.failure.as_ref()
    }

    /// The recipients the server refused while accepting others.
    pub fn refused_recipients(&self) -> &[RefusedRecipient] {
        &self.refused
    }

    /// Bytes of server input held (a partial reply line); never more than
    /// [`MAX_REPLY_LINE`].
    pub fn buffered(&self) -> usize {
        self.line.len()
    }

    /// What [`input`](Self::input) tells the caller when it succeeds.
    fn progress(&self) -> Progress {
        if self.finished {
            Progress::Done
        } else if self.outbox.is_some() {
            Progress::Send
        } else {
            Progress::NeedInput
        }
    }

    /// Parses one reply line (line end removed); the code once the reply is complete.
    /// RFC 5321 4.2: `CODE-text` continues a reply, `CODE text` or `CODE` ends it.
    fn reply_line(&mut self, line: &[u8]) -> Result<Option<u16>, SmtpError> {
        let stage = self.stage;
        let malformed = |reason| SmtpError::Malformed { stage, reason };
        let code = match line {
            [a @ b'1'..=b'5', b @ b'0'..=b'9', c @ b'0'..=b'9', ..] => {
                u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
            }
            _ => {
                return self.fail(malformed("a reply line must start with a code 100-599"));
            }
        };
        let last = match line.get(3) {
            None | Some(b' ') => true,
            Some(b'-') => false,
            Some(_) => {
                return self.fail(malformed(
                    "the reply code is not followed by a space or '-'",
                ));
            }
        };
        match self.reply.code {
            Some(first) if first != code => {
                return self.fail(malformed("the lines of a multi-line reply differ in code"));
            }
            _ => self.reply.code = Some(code),
        }
        let text = line.get(4..).unwrap_or_default();
        append_text(&mut self.reply.text, text);
        if last {
            self.reply.code = None;
            self.reply.bytes = 0;
            Ok(Some(code))
        } else {
            Ok(None)
        }
    }

    /// A complete reply with `code` arrived for the current stage.
    fn on_reply(&mut self, code: u16) -> Result<(), SmtpError> {
        self.awaiting = false;
        let text = std::mem::take(&mut self.reply.text);
        match self.stage {
            Stage::Greeting if code == 220 => self.queue(Stage::Helo),
            Stage::Helo if code == 250 => self.queue(Stage::MailFrom),
            Stage::MailFrom if code == 250 => self.queue(Stage::RcptTo),
            Stage::RcptTo => {
                if code == 250 || code == 251 {
                    self.accepted += 1;
                } else {
                    let address = self.rcpt_to.get(self.rcpt_index).cloned();
                    self.refused.push(RefusedRecipient {
                        address: address.unwrap_or_default(),
                        code,
                        text: text.clone(),
                    });
                }
                self.rcpt_index += 1;
                if self.rcpt_index < self.rcpt_to.len() {
                    self.queue(Stage::RcptTo);
                } else if self.accepted > 0 {
                    self.queue(Stage::Data);
                } else {
                    return self.refuse(code, text);
                }
            }
            Stage::Data if code == 354 => self.queue(Stage::Message),
            Stage::Message if code == 250 => {
                self.delivered = true;
                self.queue(Stage::Quit);
            }
            // The alert is delivered: whatever QUIT gets ends the dialogue well.
            Stage::Quit | Stage::Done => self.finish_delivered(),
            _ => return self.refuse(code, text),
        }
        Ok(())
    }

    /// Moves to `stage` and queues its command.
    fn queue(&mut self, stage: Stage) {
        self.stage = stage;
        let command = match stage {
            Stage::Helo => format!("HELO {}\r\n", self.helo).into_bytes(),
            Stage::MailFrom => format!("MAIL FROM:<{}>\r\n", self.mail_from).into_bytes(),
            Stage::RcptTo => {
                let to = self.rcpt_to.get(self.rcpt_index).map_or("", String::as_str);
                format!("RCPT TO:<{to}>\r\n").into_bytes()
            }
            Stage::Data => b"DATA\r\n".to_vec(),
            Stage::Message => std::mem::take(&mut self.message),
            Stage::Quit => b"QUIT\r\n".to_vec(),
            Stage::Greeting | Stage::Done => return,
        };
        self.outbox = Some(command);
    }

    /// The server refused the current stage: the session fails and queues a courtesy
    /// `QUIT`, since the connection is still in step.
    fn refuse<T>(&mut self, code: u16, text: String) -> Result<T, SmtpError> {
        let error = SmtpError::Rejected {
            stage: self.stage,
            code,
            text,
        };
        self.finished = true;
        self.awaiting = false;
        self.failure = Some(error.clone());
        self.outbox = Some(b"QUIT\r\n".to_vec());
        Err(error)
    }

    /// The session fails with `error`, with nothing more to send.
    fn fail<T>(&mut self, error: SmtpError) -> Result<T, SmtpError> {
        self.finished = true;
        self.awaiting = false;
        self.outbox = None;
        self.line.clear();
        self.failure = Some(error.clone());
        Err(error)
    }

    /// The dialogue ended after delivery.
    fn finish_delivered(&mut self) {
        self.stage = Stage::Done;
        self.finished = true;
        self.awaiting = false;
        self.outbox = None;
    }

    /// How many reads a driver may need at most: every reply is bounded by
    /// [`MAX_REPLY`], each read brings at least a byte, plus slack for interrupted reads.
    fn read_budget(&self) -> usize {
        let replies = self.rcpt_to.len().saturating_add(6);
        replies.saturating_mul(MAX_REPLY + 1).saturating_add(64)
    }
}

/// Delivers one alert over a connected blocking stream and returns when the dialogue ends.
///
/// The caller connects to `smtp_server` and sets the stream's read and write timeouts
/// (`smtp_connect_timeout`); a timeout ends the session with [`SmtpError::Io`]. The loop is
/// bounded: the session refuses more than [`MAX_REPLY`] bytes per reply, so a server that
/// trickles bytes runs out of budget. After a refusal the courtesy `QUIT` is sent without
/// waiting for its reply.
pub fn send_blocking(
    stream: &mut (impl Read + Write),
    mut session: SmtpSession,
) -> Result<(), SmtpError> {
    let mut buf = [0u8; 1024];
    for _ in 0..session.read_budget() {
        if let Some(bytes) = session.output() {
            let written = stream.write_all(&bytes).and_then(|()| stream.flush());
            if let Err(error) = written {
                if session.is_delivered() {
                    // Only QUIT was lost; the alert went out.
                    return Ok(());
                }
                return Err(io_error(session.stage(), &error));
            }
        }
        if session.is_done() {
            return match session.failure() {
                Some(error) => Err(error.clone()),
                None => Ok(()),
            };
        }
        let step = match stream.read(&mut buf) {
            Ok(0) => session.end_of_stream(),
            Ok(n) => session.input(buf.get(..n).unwrap_or_default()),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) if session.is_delivered() => return Ok(()),
            Err(error) => return Err(io_error(session.stage(), &error)),
        };
        if let Err(error) = step {
            if let Some(quit) = session.output() {
                // Best effort: the alert has failed either way.
                let _ = stream.write_all(&quit).and_then(|()| stream.flush());
            }
            return Err(error);
        }
    }
    Err(SmtpError::Stalled {
        stage: session.stage(),
    })
}

/// An I/O error while `stage` was pending.
fn io_error(stage: Stage, error: &io::Error) -> SmtpError {
    SmtpError::Io {
        stage,
        kind: error.kind(),
        message: error.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// The message
// ---------------------------------------------------------------------------------------

/// The envelope address of `Name <addr>` or `addr` (keepalived's rule: a value ending in
/// `>` is cut at its last `<`), checked for what SMTP cannot carry.
fn envelope_address(address: &str) -> Result<&str, SmtpError> {
    let invalid = |reason| SmtpError::InvalidAddress {
        address: address.to_owned(),
        reason,
    };
    if address.len() > MAX_HEADER_ADDRESS {
        return Err(invalid("longer than 512 bytes"));
    }
    if address.chars().any(char::is_control) {
        return Err(invalid("contains a control character"));
    }
    let path = match (address.strip_suffix('>'), address.rfind('<')) {
        (Some(head), Some(open)) => head.get(open + 1..).unwrap_or_default(),
        _ => address.trim(),
    };
    if path.is_empty() {
        return Err(invalid("empty"));
    }
    if path.len() > MAX_ADDRESS {
        return Err(invalid("longer than 254 bytes"));
    }
    if path.contains(['<', '>']) {
        return Err(invalid("contains an angle bracket"));
    }
    Ok(path)
}

/// The `HELO` argument: `localhost` when empty, one token without control characters.
fn helo_name(helo: &str) -> Result<&str, SmtpError> {
    let invalid = |reason| SmtpError::InvalidHelo {
        helo: helo.to_owned(),
        reason,
    };
    if helo.is_empty() {
        return Ok(DEFAULT_HELO);
    }
    if helo.len() > MAX_HELO {
        return Err(invalid("longer than 255 bytes"));
    }
    if helo.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid("contains a space or a control character"));
    }
    Ok(helo)
}

/// `text` fit for one header line: control characters (CR and LF among them) become
/// spaces, and it is cut to `max` bytes at a character boundary.
fn header_value(text: &str, max: usize) -> String {
    let mut value = String::with_capacity(text.len().min(max));
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if value.len() + c.len_utf8() > max {
            break;
        }
        value.push(c);
    }
    value
}

/// Appends reply text to `text`, joined by a space, printable ASCII only, at most
/// [`MAX_ERROR_TEXT`] bytes.
fn append_text(text: &mut String, bytes: &[u8]) {
    if !text.is_empty() && text.len() < MAX_ERROR_TEXT {
        text.push(' ');
    }
    for &b in bytes {
        if text.len() >= MAX_ERROR_TEXT {
            break;
        }
        text.push(if b.is_ascii_graphic() || b == b' ' {
            char::from(b)
        } else {
            '?'
        });
    }
}

/// `text` cut to at most `max` bytes at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

/// The body as wire lines: CR LF, LF and CR all end a line, control characters other
/// than tab become spaces, long lines are wrapped, lines starting with `.` are
/// dot-stuffed (RFC 5321 4.5.2).
fn body_lines(body: &str) -> Vec<String> {
    let body = cut(body, MAX_BODY)
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    let mut lines = Vec::new();
    for raw in body.split('\n') {
        let clean: String = raw
            .chars()
            .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
            .collect();
        let mut rest = clean.as_str();
        loop {
            let piece = cut(rest, MAX_TEXT_LINE);
            let piece = if piece.is_empty() && !rest.is_empty() {
                // Unreachable with MAX_TEXT_LINE above a character's width; be safe.
                rest
            } else {
                piece
            };
            let mut line = String::with_capacity(piece.len() + 1);
            if piece.starts_with('.') {
                line.push('.');
            }
            line.push_str(piece);
            lines.push(line);
            rest = rest.get(piece.len()..).unwrap_or_default();
            if rest.is_empty() {
                break;
            }
        }
    }
    lines
}

/// The DATA content: keepalived's headers (Date, From, Subject, X-Mailer, To), a blank
/// line, the body, and the terminating `.`.
fn render_message(alert: &Alert, date: &str) -> Vec<u8> {
    let from = header_value(&alert.from, MAX_HEADER_ADDRESS);
    let subject = header_value(&alert.subject, MAX_SUBJECT);
    let to: Vec<String> = alert
        .to
        .iter()
        .map(|to| header_value(to, MAX_HEADER_ADDRESS))
        .collect();
    let body = body_lines(&alert.body);
    let non_ascii = !from.is_ascii()
        || !subject.is_ascii()
        || to.iter().any(|to| !to.is_ascii())
        || body.iter().any(|line| !line.is_ascii());

    let mut message = String::new();
    message.push_str("Date: ");
    message.push_str(&header_value(date, MAX_DATE));
    message.push_str("\r\nFrom: ");
    message.push_str(&from);
    message.push_str("\r\nSubject: ");
    message.push_str(&subject);
    message.push_str("\r\nX-Mailer: ");
    message.push_str(X_MAILER);
    message.push_str("\r\nTo:");
    for (i, to) in to.iter().enumerate() {
        // One recipient per line, continuation lines folded (RFC 5322 2.2.3).
        message.push_str(if i == 0 { " " } else { ",\r\n " });
        message.push_str(to);
    }
    message.push_str("\r\n");
    if non_ascii {
        message.push_str(
            "MIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: 8bit\r\n",
        );
    }
    message.push_str("\r\n");
    for line in &body {
        message.push_str(line);
        message.push_str("\r\n");
    }
    message.push_str(".\r\n");
    message.into_bytes()
}

#[cfg(test)]
mod tests;
