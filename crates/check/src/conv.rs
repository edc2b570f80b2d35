//! The protocol side of a check, sans-IO: stream conversations (HTTP_GET, SSL_GET,
//! SMTP_CHECK) and datagram exchanges (DNS_CHECK, UDP_CHECK, PING_CHECK).
//!
//! A stream check: the process connects (TCP_CHECK is up on connect and needs no
//! conversation; SSL_GET wraps the stream in TLS, see [`crate::tls`]), then loops: write
//! what [`Conversation::output`] returns, feed what it reads to [`Conversation::input`],
//! call [`Conversation::end_of_stream`] on end of file; [`Step::Done`] ends the check.
//! Memory is bounded whatever the server sends ([`Conversation::buffered`]). The deadline
//! (`connect_timeout`) is the process's: at the deadline the check is down.
//!
//! A datagram check: the process sends [`Exchange::request`], feeds each datagram it
//! receives to [`Exchange::reply`] (ignoring those for which it returns `None`), and at the
//! deadline takes [`Exchange::timed_out`]; an ICMP error reported by a connected UDP socket
//! (ECONNREFUSED) is [`Exchange::refused`].

use crate::dns::DnsExchange;
use crate::http::HttpConversation;
use crate::icmp::PingExchange;
use crate::smtp::SmtpConversation;
use crate::spec::{Outcome, Probe};
use crate::udp::UdpExchange;

/// What a conversation needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// More input (and, if [`Conversation::output`] has some, to send it).
    Continue,
    /// The check is over.
    Done(Outcome),
}

/// The protocol of a stream conversation.
#[derive(Debug)]
enum Stream {
    /// One url of HTTP_GET / SSL_GET.
    Http(Box<HttpConversation>),
    /// SMTP_CHECK.
    Smtp(SmtpConversation),
}

/// One stream check run: what to send, and the judgement of what the server sends.
#[derive(Debug)]
pub struct Conversation {
    /// The protocol.
    stream: Stream,
}

impl Conversation {
    /// The conversation of `probe`: HTTP_GET / SSL_GET for its url number `url`, or
    /// SMTP_CHECK (`url` ignored). `None` for other probes and for a url out of range.
    pub fn new(probe: &Probe, url: usize) -> Option<Conversation> {
        let stream = match probe {
            Probe::Http(h) => {
                let u = h.urls.get(url)?;
                Stream::Http(Box::new(HttpConversation::new(u, h.protocol)))
            }
            Probe::Smtp { helo } => Stream::Smtp(SmtpConversation::new(helo)),
            _ => return None,
        };
        Some(Conversation { stream })
    }

    /// Bytes to send now, if any.
    pub fn output(&mut self) -> Option<Vec<u8>> {
        match &mut self.stream {
            Stream::Http(h) => h.output(),
            Stream::Smtp(s) => s.output(),
        }
    }

    /// Bytes the server sent (plaintext), in chunks of any size.
    pub fn input(&mut self, data: &[u8]) -> Step {
        match &mut self.stream {
            Stream::Http(h) => h.input(data),
            Stream::Smtp(s) => s.input(data),
        }
    }

    /// The server closed the stream.
    pub fn end_of_stream(&mut self) -> Step {
        match &mut self.stream {
            Stream::Http(h) => h.end_of_stream(),
            Stream::Smtp(s) => s.end_of_stream(),
        }
    }

    /// Bytes of server input held (bounded: see [`crate::http::MAX_HEADER`],
    /// [`crate::http::REGEX_WINDOW`], [`crate::smtp::MAX_LINE`]).
    pub fn buffered(&self) -> usize {
        match &self.stream {
            Stream::Http(h) => h.buffered(),
            Stream::Smtp(s) => s.buffered(),
        }
    }

    /// The HTTP conversation, for its details (status, digest).
    pub fn http(&self) -> Option<&HttpConversation> {
        match &self.stream {
            Stream::Http(h) => Some(h),
            Stream::Smtp(_) => None,
        }
    }
}

/// The protocol of a datagram exchange.
#[derive(Debug, Clone)]
enum Datagram {
    /// DNS_CHECK.
    Dns(DnsExchange),
    /// UDP_CHECK.
    Udp(UdpExchange),
    /// PING_CHECK.
    Ping(PingExchange),
}

/// One datagram check run: one request, and replies matched to it.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The protocol.
    datagram: Datagram,
}

impl Exchange {
    /// The exchange of `probe` (DNS_CHECK, UDP_CHECK, PING_CHECK; `None` for others).
    /// `id` is the DNS query id, or the ICMP identifier and sequence number; pick it at
    /// random per run. `family_v6`: the target is IPv6 (ICMPv6 for PING_CHECK).
    pub fn new(probe: &Probe, id: u16, family_v6: bool) -> Option<Exchange> {
        let datagram = match probe {
            Probe::Dns { qtype, name } => Datagram::Dns(DnsExchange::new(*qtype, name, id)),
            Probe::Udp(u) => Datagram::Udp(UdpExchange::new(u)),
            Probe::Ping => Datagram::Ping(PingExchange::new(id, family_v6)),
            _ => return None,
        };
        Some(Exchange { datagram })
    }

    /// The datagram to send (for PING_CHECK, the ICMP message without IP header).
    pub fn request(&self) -> Vec<u8> {
        match &self.datagram {
            Datagram::Dns(d) => d.request(),
            Datagram::Udp(u) => u.request(),
            Datagram::Ping(p) => p.request(),
        }
    }

    /// Judges a received datagram; `None`: not an answer to this request, ignore it and
    /// keep waiting.
    pub fn reply(&mut self, data: &[u8]) -> Option<Outcome> {
        match &self.datagram {
            Datagram::Dns(d) => d.reply(data),
            Datagram::Udp(u) => Some(u.reply(data)),
            Datagram::Ping(p) => p.reply(data),
        }
    }

    /// The outcome at the deadline (UDP_CHECK without `require_reply`: up).
    pub fn timed_out(&self) -> Outcome {
        match &self.datagram {
            Datagram::Dns(d) => d.timed_out(),
            Datagram::Udp(u) => u.timed_out(),
            Datagram::Ping(p) => p.timed_out(),
        }
    }

    /// The outcome when the socket reports an ICMP error (ECONNREFUSED on a connected
    /// UDP socket, EHOSTUNREACH and the like on a ping socket): down, with `error` (the
    /// system's text) as the reason.
    pub fn refused(&self, error: &str) -> Outcome {
        let what = match &self.datagram {
            Datagram::Dns(_) | Datagram::Udp(_) => "ICMP error from the server",
            Datagram::Ping(_) => "ICMP error",
        };
        Outcome::Down(format!("{what}: {error}"))
    }
}
