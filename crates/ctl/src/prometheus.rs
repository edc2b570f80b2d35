//! [`Status`] as Prometheus text exposition (format 0.0.4), for the node exporter's
//! textfile collector. Every metric is documented in docs/control.md.

use std::fmt::Write;

use crate::Status;

/// The VRRP states, each a series of `keepalived_rs_vrrp_state`.
const STATES: [&str; 5] = ["INIT", "BACKUP", "MASTER", "FAULT", "STOP"];

/// Renders the status as Prometheus text.
pub fn render(s: &Status) -> String {
    let mut out = Exposition::default();
    let d = &s.daemon;
    out.family(
        "keepalived_rs_info",
        "gauge",
        "Always 1; the version in a label.",
    );
    out.sample("keepalived_rs_info", &[("version", &d.version)], 1.0);
    out.single(
        "keepalived_rs_uptime_seconds",
        "gauge",
        "Seconds since the parent process started.",
        d.uptime_seconds,
    );
    out.single(
        "keepalived_rs_config_generation",
        "gauge",
        "Configuration generation: 1 at start, +1 per applied reload.",
        d.generation as f64,
    );
    out.single(
        "keepalived_rs_config_loaded_timestamp_seconds",
        "gauge",
        "When the running configuration was loaded (Unix time).",
        d.loaded_at_ms as f64 / 1000.0,
    );
    out.single(
        "keepalived_rs_config_reloads_total",
        "counter",
        "Reloads applied since start.",
        d.reloads as f64,
    );
    out.single(
        "keepalived_rs_config_reload_failures_total",
        "counter",
        "Reloads refused since start (invalid configuration).",
        d.reload_failures as f64,
    );
    out.single(
        "keepalived_rs_config_last_reload_failed",
        "gauge",
        "1 when the last reload attempt was refused.",
        bool_value(d.last_reload_failure.is_some()),
    );

    out.family(
        "keepalived_rs_process_up",
        "gauge",
        "1 while the child process runs.",
    );
    for p in &s.processes {
        out.sample(
            "keepalived_rs_process_up",
            &[("process", p.process.name())],
            bool_value(p.pid.is_some()),
        );
    }
    out.family(
        "keepalived_rs_process_restarts_total",
        "counter",
        "Times the child process was restarted after dying.",
    );
    for p in &s.processes {
        out.sample(
            "keepalived_rs_process_restarts_total",
            &[("process", p.process.name())],
            f64::from(p.restarts),
        );
    }
    out.family(
        "keepalived_rs_process_uptime_seconds",
        "gauge",
        "Seconds since the running child process started.",
    );
    for p in &s.processes {
        if let Some(u) = p.uptime_seconds {
            out.sample(
                "keepalived_rs_process_uptime_seconds",
                &[("process", p.process.name())],
                u,
            );
        }
    }

    out.family(
        "keepalived_rs_vrrp_state",
        "gauge",
        "1 for the instance's current state, 0 for the others.",
    );
    for i in &s.vrrp_instances {
        for st in STATES {
            out.sample(
                "keepalived_rs_vrrp_state",
                &[("instance", &i.name), ("state", st)],
                bool_value(i.state.as_deref() == Some(st)),
            );
        }
    }
    out.family(
        "keepalived_rs_vrrp_base_priority",
        "gauge",
        "The configured priority.",
    );
    for i in &s.vrrp_instances {
        out.sample(
            "keepalived_rs_vrrp_base_priority",
            &[("instance", &i.name)],
            f64::from(i.base_priority),
        );
    }
    out.family(
        "keepalived_rs_vrrp_effective_priority",
        "gauge",
        "The priority with trackers applied.",
    );
    for i in &s.vrrp_instances {
        if let Some(p) = i.effective_priority {
            out.sample(
                "keepalived_rs_vrrp_effective_priority",
                &[("instance", &i.name)],
                f64::from(p),
            );
        }
    }
    out.family(
        "keepalived_rs_vrrp_transitions_total",
        "counter",
        "State changes since the parent started.",
    );
    for i in &s.vrrp_instances {
        out.sample(
            "keepalived_rs_vrrp_transitions_total",
            &[("instance", &i.name)],
            i.transitions as f64,
        );
    }
    out.family(
        "keepalived_rs_vrrp_last_transition_timestamp_seconds",
        "gauge",
        "When the instance last changed state (Unix time).",
    );
    for i in &s.vrrp_instances {
        if let Some(t) = &i.last_transition {
            out.sample(
                "keepalived_rs_vrrp_last_transition_timestamp_seconds",
                &[("instance", &i.name)],
                t.at_ms as f64 / 1000.0,
            );
        }
    }
    out.family(
        "keepalived_rs_vrrp_sync_group_state",
        "gauge",
        "1 for the sync group's current state, 0 for the others.",
    );
    for g in &s.sync_groups {
        for st in STATES {
            out.sample(
                "keepalived_rs_vrrp_sync_group_state",
                &[("group", &g.name), ("state", st)],
                bool_value(g.state.as_deref() == Some(st)),
            );
        }
    }

    out.family(
        "keepalived_rs_virtual_server_quorum_up",
        "gauge",
        "1 when the live weight meets the quorum.",
    );
    for v in &s.virtual_servers {
        out.sample(
            "keepalived_rs_virtual_server_quorum_up",
            &[("virtual_server", &v.name)],
            bool_value(v.quorum_up),
        );
    }
    out.family(
        "keepalived_rs_virtual_server_live_weight",
        "gauge",
        "Sum of the weights of the real servers up.",
    );
    for v in &s.virtual_servers {
        out.sample(
            "keepalived_rs_virtual_server_live_weight",
            &[("virtual_server", &v.name)],
            v.live_weight as f64,
        );
    }
    out.family(
        "keepalived_rs_real_server_up",
        "gauge",
        "1 when every checker of the real server passes, 0 when one fails.",
    );
    for v in &s.virtual_servers {
        for r in &v.real_servers {
            if let Some(up) = r.up {
                let rs = real_server_label(r);
                out.sample(
                    "keepalived_rs_real_server_up",
                    &[("virtual_server", &v.name), ("real_server", &rs)],
                    bool_value(up),
                );
            }
        }
    }
    out.family(
        "keepalived_rs_real_server_weight",
        "gauge",
        "The real server's weight (configured, or set by MISC_CHECK).",
    );
    for v in &s.virtual_servers {
        for r in &v.real_servers {
            let rs = real_server_label(r);
            out.sample(
                "keepalived_rs_real_server_weight",
                &[("virtual_server", &v.name), ("real_server", &rs)],
                f64::from(r.weight),
            );
        }
    }
    out.text
}

fn real_server_label(r: &crate::RealServerStatus) -> String {
    match r.ip {
        Some(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{}", r.port),
        Some(ip) => format!("{ip}:{}", r.port),
        None => format!(":{}", r.port),
    }
}

fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"{}\"", escape(v));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }
}

/// A label value's escapes: backslash, double quote, line feed.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;

    #[test]
    fn every_sample_belongs_to_a_typed_family_and_labels_are_escaped() {
        let s = Status {
            daemon: DaemonStatus {
                version: "0.1.0".into(),
                generation: 2,
                reloads: 1,
                ..Default::default()
            },
            processes: vec![ProcessStatus {
                process: Process::Vrrp,
                pid: Some(42),
                stage: "running".into(),
                user: "keepalived-vrrp".into(),
                uid: 1,
                gid: 1,
                capabilities: vec![],
                uptime_seconds: Some(3.5),
                restarts: 2,
                last_exit: None,
            }],
            vrrp_instances: vec![InstanceStatus {
                name: "VI \"1\"".into(),
                state: Some("MASTER".into()),
                base_priority: 100,
                effective_priority: Some(90),
                ..Default::default()
            }],
            sync_groups: vec![],
            virtual_servers: vec![VirtualServerStatus {
                name: "192.0.2.1:80/TCP".into(),
                quorum: 1,
                live_weight: 1,
                quorum_up: true,
                real_servers: vec![RealServerStatus {
                    ip: Some("198.51.100.2".parse().unwrap()),
                    port: 80,
                    up: Some(false),
                    weight: 1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let text = render(&s);
        assert!(
            text.contains(
                "keepalived_rs_vrrp_state{instance=\"VI \\\"1\\\"\",state=\"MASTER\"} 1\n"
            )
        );
        assert!(
            text.contains(
                "keepalived_rs_vrrp_state{instance=\"VI \\\"1\\\"\",state=\"BACKUP\"} 0\n"
            )
        );
        assert!(text.contains("keepalived_rs_process_restarts_total{process=\"vrrp\"} 2\n"));
        assert!(text.contains(
            "keepalived_rs_real_server_up{virtual_server=\"192.0.2.1:80/TCP\",real_server=\"198.51.100.2:80\"} 0\n"
        ));
        let mut typed = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut w = rest.split(' ');
                let name = w.next().unwrap();
                let kind = w.next().unwrap();
                assert_eq!(name.ends_with("_total"), kind == "counter", "{line}");
                assert!(typed.insert(name.to_string()), "family {name} twice");
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                assert!(typed.contains(name), "{line}");
            }
        }
    }
}
