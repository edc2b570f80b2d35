//! The parent's files: pidfiles, private dump files and the runtime directory.
//!
//! Everything here is written by the root parent into a root-owned directory, so each
//! function refuses what an attacker with a lower privilege could have planted: symbolic
//! links (never followed), files owned by someone else, hard links to another file, and a
//! runtime directory that others can write into.
//!
//! ```text
//! /run/keepalived-rs/            0755 root   (ensure_runtime_dir)
//!   keepalived-rs.pid            0644        (write_pidfile: temp file + rename)
//!   keepalived-rs.data           0600        (create_private)
//! ```

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Writes `pid` followed by a newline to `path`, atomically: the content goes to a temporary
/// file in the same directory (mode 0644, created exclusively, never through a symbolic
/// link) that is then renamed over `path`. A symbolic link at `path` is replaced, not
/// followed.
pub fn write_pidfile(path: &Path, pid: u32) -> io::Result<()> {
    let temp = temp_name(path)?;
    let mut file = match create_exclusive(&temp, 0o644) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // Left over by a crash: the directory is ours, so the name is ours too.
            std::fs::remove_file(&temp)?;
            create_exclusive(&temp, 0o644)?
        }
        other => other?,
    };
    let written = (|| {
        file.set_permissions(Permissions::from_mode(0o644))?;
        file.write_all(format!("{pid}\n").as_bytes())?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// Removes a pidfile; a pidfile that does not exist is not an error.
pub fn remove_pidfile(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// `.<name>.tmp` beside `path`.
fn temp_name(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: no file name", path.display()),
        )
    })?;
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(".tmp");
    Ok(path.with_file_name(temp))
}

fn create_exclusive(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Opens `path` for writing a private file (a state or statistics dump): created with mode
/// 0600 or emptied, never through a symbolic link.
///
/// The file is opened without `O_TRUNC` and checked first (a regular file, owned by the
/// caller's effective uid, one link), then set to mode 0600 and truncated, so a hard link
/// planted to another file is refused before anything is lost.
pub fn create_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    let meta = file.metadata()?;
    let refuse = |why: &str| {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{}: {why}", path.display()),
        ))
    };
    if !meta.file_type().is_file() {
        return refuse("not a regular file");
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return refuse("owned by another user");
    }
    if meta.nlink() != 1 {
        return refuse("has other hard links");
    }
    file.set_permissions(Permissions::from_mode(0o600))?;
    file.set_len(0)?;
    Ok(file)
}

/// Creates the runtime directory and its missing parents (mode 0755, less the umask for
/// the parents), then checks it: a real directory (not a symbolic link), owned by the
/// caller's effective uid (root for the parent), not writable by group or others.
///
/// Mode 0755 because it holds pidfiles that others read; dumps in it are 0600 files.
pub fn ensure_runtime_dir(path: &Path) -> io::Result<()> {
    let created = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            DirBuilder::new().recursive(true).mode(0o755).create(path)?;
            true
        }
        Err(e) => return Err(e),
        Ok(_) => false,
    };
    let meta = std::fs::symlink_metadata(path)?;
    let refuse = |why: &str| {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("runtime directory {}: {why}", path.display()),
        ))
    };
    if meta.file_type().is_symlink() {
        return refuse("is a symbolic link");
    }
    if !meta.is_dir() {
        return refuse("not a directory");
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return refuse("owned by another user");
    }
    if created {
        std::fs::set_permissions(path, Permissions::from_mode(0o755))?;
    } else if meta.mode() & 0o022 != 0 {
        return refuse("writable by group or others");
    }
    Ok(())
}

/// A temporary directory for tests, removed on drop (also when the test panics).
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct TestDir(pub(crate) PathBuf);

#[cfg(test)]
impl TestDir {
    /// A fresh, empty directory named after the test.
    pub(crate) fn new(name: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "ka-sys-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create test dir");
        Self(path)
    }

    /// A path inside the directory.
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

#[cfg(test)]
impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).expect("stat").mode() & 0o7777
    }

    #[test]
    fn pidfile_is_written_with_mode_0644_and_removed() {
        let dir = TestDir::new("pidfile");
        let path = dir.join("keepalived-rs.pid");
        write_pidfile(&path, 1234).expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "1234\n");
        assert_eq!(mode(&path), 0o644);
        write_pidfile(&path, 99).expect("rewrite");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "99\n");
        assert_eq!(
            std::fs::read_dir(&dir.0).expect("ls").count(),
            1,
            "temp file left behind"
        );
        remove_pidfile(&path).expect("remove");
        assert!(!path.exists());
        remove_pidfile(&path).expect("removing a missing pidfile is fine");
    }

    #[test]
    fn pidfile_replaces_a_symlink_without_following_it() {
        let dir = TestDir::new("pidfile-link");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").expect("victim");
        let path = dir.join("vrrp.pid");
        symlink(&victim, &path).expect("symlink");
        // A stale temp file that is a symlink too.
        symlink(&victim, dir.join(".vrrp.pid.tmp")).expect("temp symlink");
        write_pidfile(&path, 42).expect("write");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
        assert!(
            std::fs::symlink_metadata(&path)
                .expect("stat")
                .file_type()
                .is_file()
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "42\n");
    }

    #[test]
    fn private_file_is_0600_and_emptied() {
        let dir = TestDir::new("private");
        let path = dir.join("keepalived-rs.data");
        std::fs::write(&path, "old content").expect("old");
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).expect("chmod");
        let mut file = create_private(&path).expect("create");
        file.write_all(b"new").expect("write");
        drop(file);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new");
        assert_eq!(mode(&path), 0o600);
        let fresh = dir.join("fresh");
        drop(create_private(&fresh).expect("create fresh"));
        assert_eq!(mode(&fresh), 0o600);
    }

    #[test]
    fn private_file_refuses_symlink_hardlink_and_foreign_owner() {
        let dir = TestDir::new("private-refuse");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").expect("victim");
        let link = dir.join("link");
        symlink(&victim, &link).expect("symlink");
        let err = create_private(&link).expect_err("symlink");
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{err}");
        let hard = dir.join("hard");
        std::fs::hard_link(&victim, &hard).expect("hard link");
        let err = create_private(&hard).expect_err("hard link");
        assert!(err.to_string().contains("hard links"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
        let foreign = dir.join("foreign");
        std::fs::write(&foreign, "theirs").expect("foreign");
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).expect("chown");
        let err = create_private(&foreign).expect_err("foreign owner");
        assert!(err.to_string().contains("another user"), "{err}");
        assert_eq!(std::fs::read_to_string(&foreign).expect("read"), "theirs");
        let err = create_private(&dir.0).expect_err("directory");
        assert_eq!(err.raw_os_error(), Some(libc::EISDIR), "{err}");
    }

    #[test]
    fn runtime_dir_is_created_and_checked() {
        let dir = TestDir::new("rundir");
        let run = dir.join("a/b/keepalived-rs");
        ensure_runtime_dir(&run).expect("create");
        assert_eq!(mode(&run), 0o755);
        ensure_runtime_dir(&run).expect("existing is fine");

        let link = dir.join("link");
        symlink(&run, &link).expect("symlink");
        let err = ensure_runtime_dir(&link).expect_err("symlink");
        assert!(err.to_string().contains("symbolic link"), "{err}");

        let open = dir.join("open");
        std::fs::create_dir(&open).expect("mkdir");
        std::fs::set_permissions(&open, Permissions::from_mode(0o777)).expect("chmod");
        let err = ensure_runtime_dir(&open).expect_err("world-writable");
        assert!(err.to_string().contains("writable"), "{err}");

        let foreign = dir.join("foreign");
        std::fs::create_dir(&foreign).expect("mkdir");
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).expect("chown");
        let err = ensure_runtime_dir(&foreign).expect_err("foreign");
        assert!(err.to_string().contains("another user"), "{err}");

        let file = dir.join("file");
        std::fs::write(&file, "").expect("file");
        let err = ensure_runtime_dir(&file).expect_err("file");
        assert!(err.to_string().contains("not a directory"), "{err}");
    }
}
