//! What the demo prints: the lab's plan, a timeline of what happens, and the result.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use super::FailMode;
use super::conf::{Settings, VRID};
use super::lab::{BRIDGE, LAN_IF, NS_PREFIX, Node, Router, VIP};
use super::ping::{INTERVAL, Outage};

/// The lab's plan, printed before it is built.
pub fn plan(suffix: &str, settings: Settings, fail: FailMode, dir: &Path) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "keepalived-rs demo: VRRP failover between two routers, in network namespaces"
    );
    let _ = writeln!(s);
    for r in Router::ALL {
        let n = r.node();
        let _ = writeln!(
            s,
            "  {:<7} {:<16} priority {}, starts as {}",
            n.name(),
            addr(n),
            r.priority(),
            r.initial_state()
        );
    }
    let _ = writeln!(
        s,
        "  {:<7} {:<16} pings the VIP every {} ms",
        Node::Client.name(),
        addr(Node::Client),
        INTERVAL.as_millis()
    );
    let _ = writeln!(
        s,
        "  {:<7} {:<16} VRRPv{}, virtual_router_id {VRID}, advert_int {} s",
        "VIP",
        format!("{VIP}/24"),
        settings.version,
        settings.advert_int
    );
    let _ = writeln!(
        s,
        "  each on {LAN_IF} in namespace {NS_PREFIX}NODE-{suffix}, joined by bridge {BRIDGE} in {NS_PREFIX}lan-{suffix}"
    );
    let _ = writeln!(
        s,
        "  the master will fail by {}; configurations and logs in {}",
        fail_phrase(fail),
        dir.display()
    );
    s
}

fn addr(n: Node) -> String {
    n.address().map(|a| format!("{a}/24")).unwrap_or_default()
}

/// How the master fails, as the report says it.
pub fn fail_phrase(fail: FailMode) -> &'static str {
    match fail {
        FailMode::Link => "link down (ip link set eth0 down on r1)",
        FailMode::Stop => "stopping its daemon (SIGTERM: it sends priority 0 and leaves)",
    }
}

/// Times lines from the start of the demo.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock starting now.
    pub fn new() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    /// A timeline line: the time since the start, then the message.
    pub fn line(&self, msg: &str) -> String {
        stamp(self.start.elapsed(), msg)
    }

    /// Prints a timeline line on stdout.
    pub fn say(&self, msg: &str) {
        println!("{}", self.line(msg));
    }
}

fn stamp(t: Duration, msg: &str) -> String {
    format!("{:>7.2} s  {msg}", t.as_secs_f64())
}

/// What the demo measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The demo's settings.
    pub settings: Settings,
    /// How the master failed.
    pub fail: FailMode,
    /// From the daemons' start to the VIP on r1.
    pub r1_took: Duration,
    /// From the failure to the VIP on r2 (as polled with `ip addr`).
    pub r2_took: Duration,
    /// The client's outage.
    pub outage: Outage,
    /// Duplicate replies.
    pub duplicates: u64,
}

/// What RFC 9568 (and RFC 3768) lets one expect, for the report: Skew_Time after a
/// priority-0 advert, Master_Down_Interval after silence.
pub fn expected(settings: Settings, fail: FailMode) -> (Duration, &'static str) {
    let adv = settings.advert_int.duration().as_secs_f64();
    let backup = f64::from(Router::R2.priority());
    let skew = if settings.version == 3 {
        (256.0 - backup) * adv / 256.0
    } else {
        (256.0 - backup) / 256.0
    };
    match fail {
        FailMode::Link => (
            Duration::from_secs_f64(3.0 * adv + skew),
            "Master_Down_Interval = 3 x advert_int + Skew_Time",
        ),
        FailMode::Stop => (
            Duration::from_secs_f64(skew),
            "Skew_Time, after r1's priority-0 advert",
        ),
    }
}

/// The closing report.
pub fn result(o: &Outcome) -> String {
    let (expect, why) = expected(o.settings, o.fail);
    let mut s = String::new();
    let _ = writeln!(s, "Result");
    let _ = writeln!(s, "  the VIP was held by:         r1, then r2");
    let _ = writeln!(s, "  the master failed by:        {}", fail_phrase(o.fail));
    let _ = writeln!(
        s,
        "  r1 took the VIP:             {:.2} s after the daemons started",
        o.r1_took.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "  r2 took the VIP:             {:.2} s after the failure",
        o.r2_took.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "  failover seen by the client: {:.2} s (the longest gap between two ping replies)",
        o.outage.longest_gap.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "  pings lost:                  {} of {} (one every {} ms){}",
        o.outage.lost,
        o.outage.counted,
        INTERVAL.as_millis(),
        if o.duplicates > 0 {
            format!(", {} duplicate replies", o.duplicates)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        s,
        "  the protocol's own delay:    {:.2} s ({why})",
        expect.as_secs_f64()
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::conf::AdvertInt;

    fn settings(version: u8, centis: u32) -> Settings {
        Settings {
            version,
            advert_int: AdvertInt(centis),
        }
    }

    #[test]
    fn the_result_says_who_how_and_how_long() {
        let o = Outcome {
            settings: settings(2, 100),
            fail: FailMode::Link,
            r1_took: Duration::from_millis(120),
            r2_took: Duration::from_millis(3_650),
            outage: Outage {
                longest_gap: Duration::from_millis(3_712),
                before: 150,
                after: 521,
                lost: 370,
                counted: 812,
            },
            duplicates: 0,
        };
        let text = result(&o);
        let expected = "\
Result
  the VIP was held by:         r1, then r2
  the master failed by:        link down (ip link set eth0 down on r1)
  r1 took the VIP:             0.12 s after the daemons started
  r2 took the VIP:             3.65 s after the failure
  failover seen by the client: 3.71 s (the longest gap between two ping replies)
  pings lost:                  370 of 812 (one every 10 ms)
  the protocol's own delay:    3.61 s (Master_Down_Interval = 3 x advert_int + Skew_Time)
";
        assert_eq!(text, expected);
        let o = Outcome {
            fail: FailMode::Stop,
            duplicates: 2,
            ..o
        };
        let text = result(&o);
        assert!(text.contains("stopping its daemon"), "{text}");
        assert!(
            text.contains("370 of 812 (one every 10 ms), 2 duplicate replies"),
            "{text}"
        );
        assert!(text.contains("0.61 s (Skew_Time"), "{text}");
    }

    #[test]
    fn expectations_follow_the_rfcs() {
        let ms = |s, f| expected(s, f).0.as_millis();
        // v2: Skew_Time = (256 - 100) / 256 s whatever the interval.
        assert_eq!(ms(settings(2, 100), FailMode::Stop), 609);
        assert_eq!(ms(settings(2, 300), FailMode::Link), 9_609);
        // v3: Skew_Time = (256 - 100) * interval / 256.
        assert_eq!(ms(settings(3, 50), FailMode::Stop), 304);
        assert_eq!(ms(settings(3, 50), FailMode::Link), 1_804);
    }

    #[test]
    fn the_plan_names_every_node() {
        let text = plan(
            "4242",
            settings(3, 50),
            FailMode::Link,
            Path::new("/tmp/krs-demo-4242"),
        );
        for want in [
            "r1      192.0.2.1/24     priority 150, starts as MASTER",
            "r2      192.0.2.2/24     priority 100, starts as BACKUP",
            "client  192.0.2.100/24   pings the VIP every 10 ms",
            "VIP     192.0.2.10/24    VRRPv3, virtual_router_id 51, advert_int 0.5 s",
            "krs-demo-lan-4242",
            "/tmp/krs-demo-4242",
        ] {
            assert!(text.contains(want), "{want:?} in\n{text}");
        }
        assert_eq!(
            stamp(Duration::from_millis(3_456), "r2 holds the VIP"),
            "   3.46 s  r2 holds the VIP"
        );
    }
}
