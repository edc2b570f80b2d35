//! Pure syntax checks of global values, shared by the keepalived.conf parser (which reports
//! at the offending token) and `validate` (which re-checks values read from TOML).
//!
//! Each check returns `Err((message, hint))`.

use std::net::IpAddr;

/// A failed check: what is wrong and what to write instead.
pub type Bad = (String, String);

/// The longest Linux interface name (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// An email address as keepalived sends to: `user@domain`, a bare local name (delivered by
/// the SMTP server to a local mailbox, as keepalived's samples do with `acassen`), or either
/// of those in a display form `Name <user@domain>`.
pub fn email(s: &str) -> Result<(), Bad> {
    let hint =
        || "write user@example.com, a local user name, or \"Name <user@example.com>\"".to_string();
    if s.is_empty() {
        return Err(("an email address cannot be empty".into(), hint()));
    }
    if s.chars().any(char::is_control) {
        return Err((format!("'{s}' contains a control character"), hint()));
    }
    let addr = if let Some(body) = s.strip_suffix('>') {
        let Some(lt) = body.rfind('<') else {
            return Err((format!("'{s}' ends with '>' but has no '<'"), hint()));
        };
        let name = body[..lt].trim();
        if name.contains(['<', '>']) {
            return Err((
                format!("the display name of '{s}' contains '<' or '>'"),
                hint(),
            ));
        }
        &body[lt + 1..]
    } else {
        if s.contains(['<', '>']) {
            return Err((format!("'{s}' has unbalanced '<' '>'"), hint()));
        }
        if s.chars().any(char::is_whitespace) {
            return Err((
                format!("'{s}' contains a space"),
                "put a display name in the form \"Name <user@example.com>\"".into(),
            ));
        }
        s
    };
    mailbox(addr).map_err(|m| (format!("'{s}' is not an email address: {m}"), hint()))
}

/// `local[@domain]`, with a dot-atom local part and a host name or `[address]` domain.
fn mailbox(a: &str) -> Result<(), String> {
    let (local, domain) = match a.rsplit_once('@') {
        Some((l, d)) => (l, Some(d)),
        None => (a, None),
    };
    if local.is_empty() {
        return Err("the part before '@' is empty".into());
    }
    if local.contains('@') {
        return Err("it has more than one '@'".into());
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("the part before '@' has a misplaced '.'".into());
    }
    if let Some(c) = local
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(*c)))
    {
        return Err(format!("'{c}' is not allowed before '@'"));
    }
    match domain {
        None => Ok(()),
        Some("") => Err("the domain after '@' is empty".into()),
        Some(d) => {
            if let Some(lit) = d.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
                let lit = lit.strip_prefix("IPv6:").unwrap_or(lit);
                return lit
                    .parse::<IpAddr>()
                    .map(|_| ())
                    .map_err(|_| format!("'[{lit}]' is not an address literal"));
            }
            host_name(d).map_err(|(m, _)| m)
        }
    }
}

/// A DNS host name: labels of letters, digits, '-' and '_', 1 to 63 characters each, not
/// starting or ending with '-', 253 characters in all; a final '.' is allowed.
pub fn host_name(s: &str) -> Result<(), Bad> {
    let hint = || "write a host name such as mail.example.com, or an IP address".to_string();
    let body = s.strip_suffix('.').unwrap_or(s);
    if body.is_empty() {
        return Err(("a host name cannot be empty".into(), hint()));
    }
    if body.len() > 253 {
        return Err((
            format!("host name '{s}' is longer than 253 characters"),
            hint(),
        ));
    }
    for label in body.split('.') {
        if label.is_empty() {
            return Err((format!("host name '{s}' has an empty label"), hint()));
        }
        if label.len() > 63 {
            return Err((
                format!("host name '{s}' has a label longer than 63 characters"),
                hint(),
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err((
                format!("host name '{s}' has a label that starts or ends with '-'"),
                hint(),
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err((format!("'{c}' is not allowed in host name '{s}'"), hint()));
        }
    }
    if body
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err((
            format!("'{s}' is neither an IP address nor a host name"),
            "an IPv4 address has four numbers 0..255 separated by dots".into(),
        ));
    }
    Ok(())
}

/// An IP address or a host name.
pub fn host(s: &str) -> Result<(), Bad> {
    if s.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    if s.starts_with('[') && s.ends_with(']') {
        return Err((
            format!("'{s}': write the address without brackets"),
            "give the port as a separate value: smtp_server 2001:db8::25 25".into(),
        ));
    }
    if s.contains(':') {
        return Err((
            format!("'{s}' is not an IP address or host name"),
            "give the port as a separate value: smtp_server HOST PORT".into(),
        ));
    }
    host_name(s)
}

/// A user or group name as the system tools accept it: a letter or '_' first, then letters,
/// digits, '_', '.', '-', an optional final '$', 32 characters at most.
pub fn account_name(s: &str, what: &str) -> Result<(), Bad> {
    let hint =
        || format!("a {what} name is a letter or '_' followed by letters, digits, '_', '.' or '-'");
    if s.is_empty() {
        return Err((format!("the {what} name is empty"), hint()));
    }
    if s.len() > 32 {
        return Err((
            format!("{what} name '{s}' is longer than 32 characters"),
            hint(),
        ));
    }
    if s.contains(':') {
        return Err((
            format!("'{s}' is not a {what} name"),
            "write the user and the group as two values: USER GROUP (or USER :GROUP)".into(),
        ));
    }
    let body = s.strip_suffix('$').unwrap_or(s);
    let mut chars = body.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
        return Err((format!("'{s}' is not a valid {what} name"), hint()));
    }
    Ok(())
}

/// A Linux interface name: 1 to 15 bytes, not `.` or `..`, no '/', ':' or white space.
pub fn if_name(s: &str) -> Result<(), Bad> {
    let hint = || "an interface name has 1 to 15 characters and no '/', ':' or spaces".to_string();
    if s.is_empty() || s == "." || s == ".." {
        return Err((format!("'{s}' is not an interface name"), hint()));
    }
    if s.len() > IFNAME_MAX {
        return Err((
            format!("interface name '{s}' is longer than {IFNAME_MAX} characters"),
            hint(),
        ));
    }
    if s.chars().any(|c| c == '/' || c == ':' || c.is_whitespace()) {
        return Err((format!("'{s}' is not a valid interface name"), hint()));
    }
    Ok(())
}

/// A non-empty path.
pub fn path(s: &str) -> Result<(), Bad> {
    if s.is_empty() {
        return Err((
            "the path is empty".into(),
            "write a file name such as /run/keepalived/file".into(),
        ));
    }
    if s.contains('\0') {
        return Err((format!("path '{s}' contains a NUL"), "remove it".into()));
    }
    Ok(())
}

/// An absolute path.
pub fn abs_path(s: &str) -> Result<(), Bad> {
    path(s)?;
    if !s.starts_with('/') {
        return Err((
            format!("'{s}' is not an absolute path"),
            format!("write the full path, e.g. /run/keepalived/{s}"),
        ));
    }
    Ok(())
}

/// The permission bits allowed in a umask.
pub const UMASK_BITS: u32 = 0o777;

const UMASK_NAMES: &[(&str, u32)] = &[
    ("IRUSR", 0o400),
    ("IWUSR", 0o200),
    ("IXUSR", 0o100),
    ("IRWXU", 0o700),
    ("IRGRP", 0o040),
    ("IWGRP", 0o020),
    ("IXGRP", 0o010),
    ("IRWXG", 0o070),
    ("IROTH", 0o004),
    ("IWOTH", 0o002),
    ("IXOTH", 0o001),
    ("IRWXO", 0o007),
];

/// A umask number: `0x..` hex, `0..` octal or decimal (C `strtol` base 0), 0 to 0777.
pub fn umask_number(s: &str) -> Result<u32, Bad> {
    let hint = || "write an octal number such as 0177 (or bits: IXUSR|IRWXG|IRWXO)".to_string();
    let parsed = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        u32::from_str_radix(&s[1..], 8)
    } else {
        s.parse::<u32>()
    };
    match parsed {
        Ok(v) if v & !UMASK_BITS == 0 => Ok(v),
        Ok(_) => Err((format!("umask '{s}' has bits outside 0777"), hint())),
        Err(_) => Err((format!("'{s}' is not a umask number"), hint())),
    }
}

/// umask bits: names such as `IRWXG` joined with '|' (spaces around '|' allowed).
pub fn umask_bits(words: &[&str]) -> Result<u32, Bad> {
    let hint = || {
        format!(
            "join bit names with '|', e.g. IXUSR|IRWXG|IRWXO; the names are {}",
            UMASK_NAMES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let joined: String = words.concat();
    let mut bits = 0;
    for part in joined.split('|') {
        if part.is_empty() {
            return Err((format!("umask '{joined}' has an empty bit name"), hint()));
        }
        match UMASK_NAMES.iter().find(|(n, _)| *n == part) {
            Some((_, b)) => bits |= b,
            None => return Err((format!("'{part}' is not a umask bit name"), hint())),
        }
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "acassen",
            "admin@example.com",
            "Alexandre.Cassen@firewall.loc",
            "My admin <admin@example.com>",
            "<admin@example.com>",
            "ops+lb@[192.0.2.1]",
            "x@[IPv6:2001:db8::1]",
        ] {
            assert!(email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "@example.com",
            "a@",
            "a..b@example.com",
            "a@exa mple.com",
            "a@-x.com",
            "Name admin@example.com>",
            "a<b",
            "a@[300.1.1.1]",
            "a(b)@example.com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts() {
        assert!(host("192.0.2.1").is_ok());
        assert!(host("2001:db8::1").is_ok());
        assert!(host("mail.example.com").is_ok());
        assert!(host("mail.example.com.").is_ok());
        assert!(host("192.0.2.300").is_err());
        assert!(host("[2001:db8::1]").is_err());
        assert!(host("mail:25").is_err());
        assert!(host("a..b").is_err());
        assert!(host(&"a".repeat(64)).is_err());
    }

    #[test]
    fn names() {
        assert!(account_name("keepalived_script", "user").is_ok());
        assert!(account_name("machine$", "user").is_ok());
        assert!(account_name("1abc", "user").is_err());
        assert!(account_name("a:b", "user").is_err());
        assert!(account_name(&"a".repeat(33), "user").is_err());
        assert!(if_name("eth0.100").is_ok());
        assert!(if_name("a-very-long-ifname").is_err());
        assert!(if_name("eth0:1").is_err());
        assert!(if_name("..").is_err());
    }

    #[test]
    fn umasks() {
        assert_eq!(umask_number("0177").ok(), Some(0o177));
        assert_eq!(umask_number("0x1ff").ok(), Some(0o777));
        assert_eq!(umask_number("18").ok(), Some(18));
        assert_eq!(umask_number("0").ok(), Some(0));
        assert!(umask_number("01000").is_err());
        assert!(umask_number("09").is_err());
        assert_eq!(umask_bits(&["IXUSR|IRWXG|IRWXO"]).ok(), Some(0o177));
        assert_eq!(umask_bits(&["IXUSR", "|", "IRWXG"]).ok(), Some(0o170));
        assert!(umask_bits(&["IXUSR|"]).is_err());
        assert!(umask_bits(&["IXUSER"]).is_err());
    }
}
