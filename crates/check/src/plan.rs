//! The configuration resolved into checks: every real server of the checker's projection
//! with its checkers, every default applied as keepalived applies it.
//!
//! keepalived resolves a checker's options in `check_data.c` (`validate_check_config`):
//!
//! | option               | checker | real_server | virtual_server | default                          |
//! |----------------------|---------|-------------|----------------|----------------------------------|
//! | `delay_loop`         | yes     | yes         | yes            | 60 s                             |
//! | `connect_timeout`    | yes     | yes         | yes            | 5 s                              |
//! | `retry`              | yes     | yes         | yes            | 1; DNS_CHECK 3; MISC_CHECK 0     |
//! | `delay_before_retry` | yes     | yes         | yes            | 1 s; HTTP/SSL_GET 3 s; DNS_CHECK `delay_loop` |
//! | `warmup`             | yes     | yes         | yes            | the checker's `delay_loop`       |
//! | `alpha`              | yes     | yes         | yes            | off                              |
//! | `log_all_failures`   | yes     |             |                | global `checker_log_all_failures`|
//!
//! A checker connects to `connect_ip` (else the real server's address) and `connect_port`
//! (else the real server's port). keepalived copies the real server's address into the
//! checker while it parses the block, before the real server inherits the virtual server's
//! port, so a real server written without a port is checked on port 0 (which always fails).
//! keepalived-rs checks the virtual server's port then, when the service has one (an address
//! service); a port-less real server of a fwmark or group service keeps port 0, and the
//! engine fails such a check at once with a reason that asks for `connect_port`
//! ([`needs_port`]).
//!
//! HTTP_GET / SSL_GET: the Host header is the url's `virtualhost`, else the checker's, the
//! real server's, the virtual server's, else the checked address and port (`192.0.2.1:80`,
//! `[2001:db8::1]:80`), as keepalived's request template. SNI (SSL_GET with `enable_sni` or
//! `sni_name`): `sni_name`, else the url's `virtualhost`, the checker's, the virtual
//! server's (keepalived does not look at the real server's there); keepalived takes the url
//! being fetched, [`HttpProbe::sni`] is one name per checker: the first url's. `status_code`
//! defaults to 200-299. `tls_compliant` of the checker or of any url closes with
//! close_notify.
//!
//! SMTP_CHECK: `helo_name` defaults to `smtpchecker.keepalived.org`. Each deprecated
//! `host { }` block is one more check with the checker's options; when the checker sets no
//! connection option itself, the first host is the checker's own connection (keepalived's
//! `smtp_check_end_handler`). The extra checks carry the block's index.
//!
//! DNS_CHECK: the name is made fully qualified (`example.com` becomes `example.com.`, none
//! is the root `.`).
//!
//! FILE_CHECK: `weight` defaults to the track_file's weight; the checker's projection does
//! not carry the track_file blocks, so an unset weight is 1 (a track_file's default).

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use keepalived_config::Timer;
use keepalived_config::lvs::checker::{
    CheckOptions, Checker, Connection, HttpCheck, HttpProtocol, Url, compile_regex,
};
use keepalived_config::lvs::{RealServer, VirtualServer};
use keepalived_config::project::{CheckObject, virtual_server_key};
use keepalived_ipc::msg::RealServerId;

use crate::spec::{
    CheckSpec, HttpProbe, Probe, RealServerPlan, RegexSpec, Target, UdpProbe, UrlSpec,
};

/// keepalived's `KEEPALIVED_DEFAULT_DELAY`: `delay_loop` when nothing sets it.
pub const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);
/// `connect_timeout` when nothing sets it.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// `retry` when nothing sets it (DNS_CHECK and MISC_CHECK have their own).
pub const DEFAULT_RETRY: u32 = 1;
/// `delay_before_retry` when nothing sets it (HTTP_GET/SSL_GET and DNS_CHECK have their own).
pub const DEFAULT_DELAY_BEFORE_RETRY: Duration = Duration::from_secs(1);
/// keepalived's `SMTP_DEFAULT_HELO`.
pub const DEFAULT_HELO: &str = "smtpchecker.keepalived.org";
/// keepalived's `HTTP_DEFAULT_STATUS_CODE_MIN`..`MAX`.
pub const DEFAULT_STATUS: (u16, u16) = (200, 299);
/// The weight of a FILE_CHECK that sets none (a track_file's default weight).
pub const DEFAULT_FILE_WEIGHT: i64 = 1;

/// The real servers of the checker's projection, each with its checkers resolved, in
/// configuration order. A real server that appears twice under the same id (which the
/// configuration refuses) is planned once, the first time.
pub fn plan<'a>(objects: impl IntoIterator<Item = &'a CheckObject>) -> Vec<RealServerPlan> {
    let objects: Vec<&CheckObject> = objects.into_iter().collect();
    let log_all = objects.iter().any(|o| match o {
        CheckObject::Globals(g) => g.checker_log_all_failures,
        _ => false,
    });
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for o in objects {
        let CheckObject::VirtualServer(vs) = o else {
            continue;
        };
        for rs in &vs.real_servers {
            let p = plan_real_server(vs, rs, log_all);
            if seen.insert(p.id.clone()) {
                out.push(p);
            } else {
                log::warn!(
                    "real server {} of {} is configured twice: only the first is checked",
                    rs.label(),
                    vs.label()
                );
            }
        }
    }
    out
}

/// The identity of real server `rs` of `vs`, exactly as the IPVS writer computes it
/// (`keepalived_ipvs::desired::RealServerId::of`): the virtual server's key, the real
/// server's address and its configured port (0 when none is).
pub fn real_server_id(vs: &VirtualServer, rs: &RealServer) -> RealServerId {
    RealServerId {
        virtual_server: virtual_server_key(vs),
        ip: rs.ip,
        port: rs.port.unwrap_or(0),
    }
}

/// Why a check that needs a port and has none fails (without being run).
pub const NO_PORT: &str =
    "no port to check: the real server has no port (a fwmark or group service); set connect_port";

/// Whether a probe connects to a port (all network checkers but PING_CHECK).
pub fn needs_port(probe: &Probe) -> bool {
    !matches!(probe, Probe::Ping | Probe::Misc { .. } | Probe::File { .. })
}

/// One real server and its checkers.
pub fn plan_real_server(vs: &VirtualServer, rs: &RealServer, log_all: bool) -> RealServerPlan {
    let inherited = Inherited::of(vs, rs, log_all);
    let mut checks = Vec::new();
    for (i, c) in rs.checkers.iter().enumerate() {
        let index = u16::try_from(i).unwrap_or(u16::MAX);
        plan_checker(&inherited, c, index, &mut checks);
    }
    RealServerPlan {
        id: real_server_id(vs, rs),
        weight: rs.weight.unwrap_or(vs.weight),
        alpha: rs.alpha().unwrap_or(vs.alpha),
        checks,
    }
}

/// What a checker inherits from its real server and virtual server.
struct Inherited<'a> {
    vs: &'a VirtualServer,
    rs: &'a RealServer,
    delay_loop: Timer,
    connect_timeout: Timer,
    retry: Option<u32>,
    delay_before_retry: Option<Timer>,
    warmup: Option<Timer>,
    alpha: bool,
    log_all: bool,
    /// The port checked when the checker sets none.
    port: Option<u16>,
}

impl<'a> Inherited<'a> {
    fn of(vs: &'a VirtualServer, rs: &'a RealServer, log_all: bool) -> Inherited<'a> {
        let vs_port = (vs.fwmark.is_none() && vs.group.is_none())
            .then_some(vs.port)
            .flatten();
        Inherited {
            vs,
            rs,
            delay_loop: rs.delay_loop().unwrap_or(vs.delay_loop),
            connect_timeout: rs.connect_timeout().unwrap_or(vs.connect_timeout),
            retry: rs.retry().or(vs.retry),
            delay_before_retry: rs.delay_before_retry().or(vs.delay_before_retry),
            warmup: rs.warmup().or(vs.warmup),
            alpha: rs.alpha().unwrap_or(vs.alpha),
            log_all,
            port: rs.port.or(vs_port).filter(|p| *p != 0),
        }
    }

    /// The target of a connection.
    fn target(&self, c: &Connection, timeout: Timer) -> Target {
        let ip = c.connect_ip.unwrap_or(self.rs.ip);
        let port = c.connect_port.or(self.port).unwrap_or(0);
        Target {
            connect: SocketAddr::new(ip, port),
            bindto: c.bindto,
            bind_port: c.bind_port,
            bind_if: c.bind_if.clone(),
            fwmark: c.fwmark,
            timeout: timeout.duration(),
        }
    }

    /// A check with the common options resolved.
    fn spec(
        &self,
        kind: &'static str,
        index: u16,
        o: &CheckOptions,
        defaults: Defaults,
        target: Option<Target>,
        probe: Probe,
    ) -> CheckSpec {
        let delay_loop = o.delay_loop.unwrap_or(self.delay_loop).duration();
        let delay_before_retry = match o.delay_before_retry.or(self.delay_before_retry) {
            Some(t) => t.duration(),
            None => defaults.delay_before_retry.unwrap_or(delay_loop),
        };
        CheckSpec {
            kind,
            index,
            target,
            probe,
            retry: o.retry.or(self.retry).unwrap_or(defaults.retry),
            delay_before_retry,
            delay_loop,
            warmup: o.warmup.or(self.warmup).map_or(delay_loop, Timer::duration),
            alpha: o.alpha.unwrap_or(self.alpha),
            log_all_failures: o.log_all_failures || self.log_all,
        }
    }
}

/// A checker type's own defaults.
#[derive(Clone, Copy)]
struct Defaults {
    retry: u32,
    /// `None`: the checker's `delay_loop` (keepalived's `default_delay_before_retry` 0).
    delay_before_retry: Option<Duration>,
}

const COMMON: Defaults = Defaults {
    retry: DEFAULT_RETRY,
    delay_before_retry: Some(DEFAULT_DELAY_BEFORE_RETRY),
};

/// Resolves checker `c` (number `index` of its real server) into one or more checks.
fn plan_checker(inh: &Inherited, c: &Checker, index: u16, out: &mut Vec<CheckSpec>) {
    let timeout_of = |conn: &Connection| conn.connect_timeout.unwrap_or(inh.connect_timeout);
    match c {
        Checker::TcpCheck(t) => {
            let conn = t.connection();
            let target = inh.target(&conn, timeout_of(&conn));
            out.push(inh.spec(
                c.kind(),
                index,
                &t.options(),
                COMMON,
                Some(target),
                Probe::Tcp,
            ));
        }
        Checker::PingCheck(t) => {
            let conn = t.connection();
            let mut target = inh.target(&conn, timeout_of(&conn));
            target.connect.set_port(0);
            out.push(inh.spec(
                c.kind(),
                index,
                &t.options(),
                COMMON,
                Some(target),
                Probe::Ping,
            ));
        }
        Checker::HttpGet(h) | Checker::SslGet(h) => {
            let tls = matches!(c, Checker::SslGet(_));
            let conn = h.connection();
            let target = inh.target(&conn, timeout_of(&conn));
            let probe = Probe::Http(Box::new(http_probe(inh, h, tls, &target)));
            let defaults = Defaults {
                retry: DEFAULT_RETRY,
                delay_before_retry: Some(HttpCheck::DEFAULT_DELAY_BEFORE_RETRY.duration()),
            };
            out.push(inh.spec(c.kind(), index, &h.options(), defaults, Some(target), probe));
        }
        Checker::SmtpCheck(s) => {
            let helo = s.helo_name.clone().unwrap_or_else(|| DEFAULT_HELO.into());
            let own = s.connection();
            let own_set = Connection {
                lines: Default::default(),
                ..own.clone()
            } != Connection::default();
            let mut hosts = s.host.iter();
            // keepalived: without connection options of its own, the checker takes the
            // first host's; each other host is one more check.
            let first = if own_set || s.host.is_empty() {
                inh.target(&own, timeout_of(&own))
            } else {
                match hosts.next() {
                    Some(h) => inh.target(h, h.connect_timeout.unwrap_or(inh.connect_timeout)),
                    None => inh.target(&own, timeout_of(&own)),
                }
            };
            let o = s.options();
            let probe = Probe::Smtp { helo };
            out.push(inh.spec(c.kind(), index, &o, COMMON, Some(first), probe.clone()));
            for h in hosts {
                let target = inh.target(h, h.connect_timeout.unwrap_or(inh.connect_timeout));
                out.push(inh.spec(c.kind(), index, &o, COMMON, Some(target), probe.clone()));
            }
        }
        Checker::DnsCheck(d) => {
            let conn = d.connection();
            let target = inh.target(&conn, timeout_of(&conn));
            let probe = Probe::Dns {
                qtype: d.query_type,
                name: fully_qualified(d.name.as_deref().unwrap_or("")),
            };
            let defaults = Defaults {
                retry: keepalived_config::lvs::checker::DnsCheck::DEFAULT_RETRY,
                delay_before_retry: None,
            };
            out.push(inh.spec(c.kind(), index, &d.options(), defaults, Some(target), probe));
        }
        Checker::UdpCheck(u) => {
            let conn = u.connection();
            let target = inh.target(&conn, timeout_of(&conn));
            let probe = Probe::Udp(Box::new(UdpProbe {
                payload: u.payload.as_ref().map(|p| p.0.clone()),
                require_reply: u.require_reply.clone(),
                min_reply_length: u.min_reply_length,
                max_reply_length: u.max_reply_length,
            }));
            out.push(inh.spec(c.kind(), index, &u.options(), COMMON, Some(target), probe));
        }
        Checker::MiscCheck(m) => {
            let o = CheckOptions {
                retry: m.retry,
                delay_before_retry: m.delay_before_retry,
                warmup: m.warmup,
                delay_loop: m.delay_loop,
                alpha: m.alpha,
                log_all_failures: m.log_all_failures,
            };
            let defaults = Defaults {
                retry: keepalived_config::lvs::checker::MiscCheck::DEFAULT_RETRY,
                delay_before_retry: Some(DEFAULT_DELAY_BEFORE_RETRY),
            };
            let probe = Probe::Misc {
                dynamic: m.misc_dynamic,
            };
            out.push(inh.spec(c.kind(), index, &o, defaults, None, probe));
        }
        Checker::FileCheck(f) => {
            // keepalived: a FILE_CHECK has no timer, no retry and no alpha; it follows the
            // file (add_rs_to_track_files marks it as run, alpha off).
            let mut spec = inh.spec(
                c.kind(),
                index,
                &CheckOptions::default(),
                COMMON,
                None,
                Probe::File {
                    weight: f.weight.unwrap_or(DEFAULT_FILE_WEIGHT),
                    reverse: f.weight.is_some() && f.reverse,
                },
            );
            spec.retry = 0;
            spec.alpha = false;
            spec.warmup = Duration::ZERO;
            out.push(spec);
        }
    }
}

/// HTTP_GET / SSL_GET's probe.
fn http_probe(inh: &Inherited, h: &HttpCheck, tls: bool, target: &Target) -> HttpProbe {
    let address_host = match target.connect.ip() {
        IpAddr::V6(a) => format!("[{a}]:{}", target.connect.port()),
        IpAddr::V4(a) => format!("{a}:{}", target.connect.port()),
    };
    let urls = h
        .url
        .iter()
        .map(|u| UrlSpec {
            path: u.path.clone(),
            host: u
                .virtualhost
                .as_deref()
                .or(h.virtualhost.as_deref())
                .or(inh.rs.virtualhost())
                .or(inh.vs.virtualhost.as_deref())
                .map_or_else(|| address_host.clone(), str::to_owned),
            digest: u.digest.as_ref().and_then(|d| digest_bytes(d.as_str())),
            status: if u.status_code.is_empty() {
                vec![DEFAULT_STATUS]
            } else {
                u.status_code.iter().map(|s| (s.lo, s.hi)).collect()
            },
            regex: regex_spec(u),
        })
        .collect();
    let sni = if !tls {
        None
    } else if let Some(n) = &h.sni_name {
        Some(n.clone())
    } else if h.enable_sni {
        h.url
            .first()
            .and_then(|u| u.virtualhost.as_deref())
            .or(h.virtualhost.as_deref())
            .or(inh.vs.virtualhost.as_deref())
            .map(str::to_owned)
    } else {
        None
    };
    HttpProbe {
        tls,
        protocol: h.http_protocol.unwrap_or(HttpProtocol::Http10),
        sni,
        tls_compliant: h.tls_compliant || h.url.iter().any(|u| u.tls_compliant),
        fast_recovery: h.fast_recovery,
        urls,
    }
}

/// A url's regex; one the engine cannot compile (the loader refuses those) never matches,
/// so that its check fails rather than passes.
fn regex_spec(u: &Url) -> Option<RegexSpec> {
    let re = u.regex.as_deref()?;
    let regex = match compile_regex(re, &u.regex_options) {
        Ok(r) => r,
        Err((msg, _)) => {
            log::error!("{msg}: the url {} will fail its check", u.path);
            regex::bytes::Regex::new(r"[^\x00-\xff]").ok()?
        }
    };
    Some(RegexSpec {
        regex,
        no_match: u.regex_no_match,
        min_offset: u.regex_min_offset.unwrap_or(0),
        max_offset: u.regex_max_offset,
    })
}

/// 32 hex characters as 16 bytes.
pub fn digest_bytes(hex: &str) -> Option<[u8; 16]> {
    let b = hex.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        let s = std::str::from_utf8(b.get(2 * i..2 * i + 2)?).ok()?;
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// A DNS name with its final dot (the root is `.`).
pub fn fully_qualified(name: &str) -> String {
    if name.is_empty() || name == "." {
        ".".into()
    } else if name.ends_with('.') {
        name.into()
    } else {
        format!("{name}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_hex_to_bytes() {
        assert_eq!(
            digest_bytes("000102030405060708090a0b0c0d0eFF"),
            Some([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 255])
        );
        assert_eq!(digest_bytes("0001"), None);
        assert_eq!(digest_bytes("zz0102030405060708090a0b0c0d0e0f"), None);
    }

    #[test]
    fn dns_names_fully_qualified() {
        assert_eq!(fully_qualified(""), ".");
        assert_eq!(fully_qualified("."), ".");
        assert_eq!(fully_qualified("example.com"), "example.com.");
        assert_eq!(fully_qualified("example.com."), "example.com.");
    }
}
