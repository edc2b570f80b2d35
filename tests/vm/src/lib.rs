//! Tests inside a real kernel: a Debian kernel booted under qemu (software emulation, no
//! KVM) with a busybox initramfs built from this machine's files, for what the host kernel
//! lacks (IPVS).
//!
//! ```text
//!  host: cargo test                              VM (qemu-system-x86_64, TCG)
//!  ┌────────────────────────────┐   initramfs   ┌─────────────────────────────────────┐
//!  │ #[test] fn ipvs_kernel()   │──────────────▶│ /init: mount, modprobe, ...         │
//!  │   not in_vm(): build + run │  modules.cpio │ KARS_IN_VM=1 /bin/kars-selftest     │
//!  │   assert on the console    │  + test files │   --exact ipvs_kernel --nocapture   │
//!  │                            │◀──────────────│   in_vm(): the checks themselves    │
//!  └────────────────────────────┘  ttyS0 lines  │ poweroff -f                         │
//!                                               └─────────────────────────────────────┘
//! ```
//!
//! The pattern: a test binary copies itself into the VM ([`VmBuilder::self_test`]) and runs
//! there with `--exact <its own name>` and `KARS_IN_VM=1`. The same `#[test]` function is
//! both sides: when [`in_vm`] is false it boots the VM and asserts the result on the serial
//! console ([`Output::assert_self_test_passed`]); when true it does the checks. There is no
//! separate inner test that could pass silently on the host, and no test is ignored. Group
//! several checks in one boot (a boot costs about 10 s of emulated CPU).
//!
//! [`ensure_kernel`] downloads and prepares the kernel once into [`kernel::CACHE_DIR`] (the
//! host needs `qemu-system-x86 busybox-static kmod xz-utils`, and `ipvsadm` for
//! [`VmBuilder::ipvsadm`]). Each [`Vm`] has its own temporary folder, removed on drop, and
//! qemu is killed at the timeout.

mod cpio;
pub mod kernel;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use kernel::{Kernel, ensure_kernel};

/// The environment variable set for the test binary inside the VM.
pub const IN_VM_ENV: &str = "KARS_IN_VM";
/// Where [`VmBuilder::self_test`] puts the test binary in the VM.
pub const SELF_TEST_PATH: &str = "/bin/kars-selftest";
/// The console line the init script prints once booted (followed by the uptime).
pub const BOOTED: &str = "KARS-VM-BOOTED";
/// The console line the init script prints before powering off (followed by the body's
/// exit status).
pub const INIT_EXIT: &str = "KARS-VM-INIT-EXIT";
/// The console line after the self test (followed by its exit status).
pub const SELF_TEST_EXIT: &str = "KARS-VM-SELF-TEST-EXIT";

/// Whether this process is the test binary running inside the VM.
pub fn in_vm() -> bool {
    std::env::var_os(IN_VM_ENV).is_some_and(|v| v == "1")
}

/// What can go wrong around the VM (not inside it: that is in [`Output`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation on the host.
    #[error("{op} {path}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// Its path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A host command (apt-get, dpkg, depmod, ldd, qemu) failed or is missing.
    #[error("{0}")]
    Setup(String),
}

impl Error {
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// One file of the test's archive.
#[derive(Debug, Clone)]
enum Entry {
    /// A host file copied with its permission bits.
    Host { from: PathBuf },
    /// Bytes and permission bits.
    Data { data: Vec<u8>, perm: u32 },
    /// A symbolic link.
    Symlink { target: String },
}

/// A VM to build: files, init script, memory, kernel arguments.
#[derive(Debug, Clone)]
pub struct VmBuilder {
    files: BTreeMap<String, Entry>,
    binaries: Vec<(PathBuf, String)>,
    init: String,
    memory_mib: u32,
    append: Vec<String>,
}

/// A VM ready to boot: the kernel and the initramfs in a temporary folder.
#[derive(Debug)]
pub struct Vm {
    kernel: Kernel,
    dir: TempDir,
    initrd: PathBuf,
    memory_mib: u32,
    append: String,
}

/// What a VM printed, and how it ended.
#[derive(Debug, Clone)]
pub struct Output {
    /// The serial console, lines without `\r`.
    pub console: String,
    /// From qemu's start to its exit.
    pub elapsed: Duration,
    /// Whether qemu was killed at the timeout.
    pub timed_out: bool,
}

impl Vm {
    /// A VM with busybox (every applet linked), 1024 MiB, no files or commands yet.
    pub fn builder() -> VmBuilder {
        VmBuilder {
            files: BTreeMap::new(),
            binaries: Vec::new(),
            init: String::new(),
            memory_mib: 1024,
            append: Vec::new(),
        }
    }

    /// Boots the VM and collects its console until it powers off, or kills it at
    /// `timeout`.
    pub fn run(&self, timeout: Duration) -> Result<Output, Error> {
        let start = Instant::now();
        let child = Command::new("qemu-system-x86_64")
            .args(["-nodefaults", "-no-reboot", "-display", "none"])
            .args(["-serial", "stdio", "-monitor", "none", "-nic", "none"])
            .args(["-accel", "tcg", "-smp", "1"])
            .arg("-m")
            .arg(self.memory_mib.to_string())
            .arg("-kernel")
            .arg(&self.kernel.image)
            .arg("-initrd")
            .arg(&self.initrd)
            .arg("-append")
            .arg(&self.append)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .current_dir(&self.dir.0)
            .spawn()
            .map_err(|e| Error::Setup(format!("qemu-system-x86_64: {e}")))?;
        let mut child = KillOnDrop(child);
        let console = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        for stream in [
            child
                .0
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .0
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let console = Arc::clone(&console);
            readers.push(std::thread::spawn(move || {
                let mut stream = stream;
                let mut chunk = [0u8; 4096];
                while let Ok(n) = stream.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    console
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend_from_slice(&chunk[..n]);
                }
            }));
        }
        let mut timed_out = false;
        loop {
            match child.0.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if start.elapsed() >= timeout => {
                    timed_out = true;
                    let _ = child.0.kill();
                    let _ = child.0.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(Error::Setup(format!("waiting for qemu: {e}"))),
            }
        }
        let elapsed = start.elapsed();
        for r in readers {
            let _ = r.join();
        }
        let bytes = std::mem::take(&mut *console.lock().unwrap_or_else(|p| p.into_inner()));
        Ok(Output {
            console: String::from_utf8_lossy(&bytes).replace('\r', ""),
            elapsed,
            timed_out,
        })
    }

    /// The VM's temporary folder (removed when the VM is dropped).
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }
}

/// Kills qemu if the test unwinds while it runs.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A folder removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, Error> {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "kars-vm-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&path).map_err(|e| Error::io("create", &path, e))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

impl VmBuilder {
    /// A host file at a path in the VM, with its permission bits.
    pub fn file(mut self, host: impl AsRef<Path>, guest: &str) -> VmBuilder {
        self.files.insert(
            guest.to_string(),
            Entry::Host {
                from: host.as_ref().to_path_buf(),
            },
        );
        self
    }

    /// Bytes at a path in the VM.
    pub fn data(mut self, guest: &str, data: impl Into<Vec<u8>>, perm: u32) -> VmBuilder {
        self.files.insert(
            guest.to_string(),
            Entry::Data {
                data: data.into(),
                perm,
            },
        );
        self
    }

    /// A host executable at a path in the VM, with the shared libraries `ldd` lists for it
    /// (at the paths ldd prints).
    pub fn binary(mut self, host: impl AsRef<Path>, guest: &str) -> VmBuilder {
        self.binaries
            .push((host.as_ref().to_path_buf(), guest.to_string()));
        self
    }

    /// ipvsadm (from the host's ipvsadm package) as /sbin/ipvsadm.
    pub fn ipvsadm(self) -> VmBuilder {
        self.binary("/usr/sbin/ipvsadm", "/sbin/ipvsadm")
    }

    /// Appends lines to the init script's body (run by busybox sh after /proc, /sys, /dev,
    /// /tmp and lo are up).
    pub fn init(mut self, body: &str) -> VmBuilder {
        self.init.push_str(body);
        if !body.ends_with('\n') {
            self.init.push('\n');
        }
        self
    }

    /// Copies the running test binary into the VM and appends to the init script the run
    /// of its test `name` alone, with [`IN_VM_ENV`] set; the status follows
    /// [`SELF_TEST_EXIT`] on the console.
    pub fn self_test(self, name: &str) -> VmBuilder {
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
        self.binary(exe, SELF_TEST_PATH).init(&format!(
            "cd /tmp && {IN_VM_ENV}=1 RUST_BACKTRACE=1 {SELF_TEST_PATH} --exact {name} \
             --nocapture --test-threads=1\necho \"{SELF_TEST_EXIT} $?\"\n"
        ))
    }

    /// The VM's memory (1024 MiB by default).
    pub fn memory(mut self, mib: u32) -> VmBuilder {
        self.memory_mib = mib;
        self
    }

    /// An extra kernel command-line argument.
    pub fn kernel_arg(mut self, arg: &str) -> VmBuilder {
        self.append.push(arg.to_string());
        self
    }

    /// Prepares the kernel ([`ensure_kernel`]) and writes the initramfs: the cached modules
    /// archive followed by this VM's files.
    pub fn build(self) -> Result<Vm, Error> {
        let kernel = ensure_kernel()?;
        let dir = TempDir::new()?;
        let mut files = self.files;
        // busybox first, so that a test's own file at an applet's path replaces the link.
        let mut archive = cpio::Archive::default();
        let busybox = which("busybox")?;
        let applets = kernel::run(Command::new(&busybox).arg("--list-full"))?;
        let mut dirs: Vec<String> = [
            "bin", "sbin", "usr", "usr/bin", "usr/sbin", "lib", "lib64", "etc", "proc", "sys",
            "dev", "tmp", "run", "root", "var",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut links = BTreeMap::new();
        for a in String::from_utf8_lossy(&applets).lines() {
            let a = a.trim().trim_start_matches('/');
            if a.is_empty() || a == "bin/busybox" {
                continue;
            }
            links.insert(a.to_string(), "/bin/busybox".to_string());
        }
        files
            .entry("/bin/busybox".into())
            .or_insert(Entry::Host { from: busybox });
        for (host, guest) in &self.binaries {
            files.insert(guest.clone(), Entry::Host { from: host.clone() });
            for lib in ldd(host)? {
                let name = lib.to_string_lossy().into_owned();
                files.entry(name).or_insert(Entry::Host { from: lib });
            }
        }
        let script = format!(
            "#!/bin/sh\n\
             export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root\n\
             mount -t proc proc /proc\n\
             mount -t sysfs sys /sys\n\
             mount -t devtmpfs dev /dev 2>/dev/null\n\
             mount -t tmpfs tmp /tmp\n\
             mount -t tmpfs run /run\n\
             ip link set lo up\n\
             echo \"{BOOTED} $(cut -d' ' -f1 /proc/uptime)\"\n\
             (\n{}\n)\n\
             echo \"{INIT_EXIT} $?\"\n\
             poweroff -f\n",
            self.init
        );
        files.insert(
            "/init".into(),
            Entry::Data {
                data: script.into_bytes(),
                perm: 0o755,
            },
        );
        // Every parent folder of every file.
        for name in links.keys().chain(files.keys()) {
            let mut p = Path::new(name.trim_start_matches('/')).parent();
            while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
                dirs.push(d.to_string_lossy().into_owned());
                p = d.parent();
            }
        }
        dirs.sort();
        dirs.dedup();
        for d in &dirs {
            archive.dir(d);
        }
        for (name, target) in &links {
            if !files.contains_key(&format!("/{name}")) {
                archive.symlink(name, target);
            }
        }
        for (name, entry) in &files {
            match entry {
                Entry::Host { from } => {
                    let data = fs::read(from).map_err(|e| Error::io("read", from, e))?;
                    let perm = fs::metadata(from)
                        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
                        .map_err(|e| Error::io("stat", from, e))?;
                    archive.file(name, perm, &data);
                }
                Entry::Data { data, perm } => archive.file(name, *perm, data),
                Entry::Symlink { target } => archive.symlink(name, target),
            }
        }
        let mut initrd = fs::read(&kernel.modules_cpio)
            .map_err(|e| Error::io("read", &kernel.modules_cpio, e))?;
        initrd.extend_from_slice(&archive.finish());
        let initrd_path = dir.0.join("initrd.cpio");
        fs::write(&initrd_path, &initrd).map_err(|e| Error::io("write", &initrd_path, e))?;
        let mut append = vec![
            "console=ttyS0".to_string(),
            "panic=-1".to_string(),
            "quiet".to_string(),
            "loglevel=1".to_string(),
            "mitigations=off".to_string(),
        ];
        append.extend(self.append);
        Ok(Vm {
            kernel,
            dir,
            initrd: initrd_path,
            memory_mib: self.memory_mib,
            append: append.join(" "),
        })
    }

    /// A symbolic link in the VM.
    pub fn symlink(mut self, guest: &str, target: &str) -> VmBuilder {
        self.files.insert(
            guest.to_string(),
            Entry::Symlink {
                target: target.to_string(),
            },
        );
        self
    }
}

/// The full path of a program in PATH (or in the sbin and bin folders, which a
/// non-root PATH may lack).
pub(crate) fn which(program: &str) -> Result<PathBuf, Error> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::Setup(format!("{program} is not installed")))
}

/// The shared libraries of an executable, as `ldd` lists them (none for a static one).
fn ldd(exe: &Path) -> Result<Vec<PathBuf>, Error> {
    let out = Command::new("ldd")
        .arg(exe)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Setup(format!("ldd: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut libs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.trim(),
            None => line,
        };
        let path = path.split(" (").next().unwrap_or_default().trim();
        if path.starts_with('/') {
            libs.push(PathBuf::from(path));
        }
    }
    if !out.status.success() && libs.is_empty() {
        // "not a dynamic executable": nothing to add.
        let err = String::from_utf8_lossy(&out.stderr);
        if !(text.contains("not a dynamic") || err.contains("not a dynamic")) {
            return Err(Error::Setup(format!(
                "ldd {}: {}",
                exe.display(),
                err.trim()
            )));
        }
    }
    Ok(libs)
}

impl Output {
    /// The console, each line prefixed with `  | ` (so that a test's own result lines
    /// inside it are not mistaken for the host's).
    pub fn indented(&self) -> String {
        self.console.lines().map(|l| format!("  | {l}\n")).collect()
    }

    /// The rest of the lines that start with `prefix` (followed by a space, or the end).
    pub fn values<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.console.lines().filter_map(move |l| {
            let rest = l.strip_prefix(prefix)?;
            if rest.is_empty() {
                Some(rest)
            } else {
                rest.strip_prefix(' ')
            }
        })
    }

    /// The uptime at which init started, as it printed it.
    pub fn booted_after(&self) -> Option<f64> {
        self.values(BOOTED)
            .next()
            .and_then(|v| v.trim().parse().ok())
    }

    /// Panics, with the console, unless the self test of `name` ran in the VM and passed:
    /// libtest started it (`test <name> ... `; with --nocapture its output follows on the
    /// same line), said `1 passed`, and exited with 0.
    pub fn assert_self_test_passed(&self, name: &str) {
        let status = self.values(SELF_TEST_EXIT).next().map(str::trim);
        let ran = self.console.contains(&format!("test {name} ... "));
        let summary = self
            .console
            .lines()
            .any(|l| l.starts_with("test result: ok. 1 passed; 0 failed"));
        if self.timed_out || status != Some("0") || !ran || !summary {
            panic!(
                "the VM test {name} did not pass (timed out: {}, exit status: {status:?}, \
                 after {:.1} s); console:\n{}",
                self.timed_out,
                self.elapsed.as_secs_f64(),
                self.indented()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_values_and_verdict() {
        let out = Output {
            console: format!(
                "noise\n{BOOTED} 4.20\nrunning 1 test\ntest x ... ok\n\n\
                 test result: ok. 1 passed; 0 failed; 0 ignored\n{SELF_TEST_EXIT} 0\n"
            ),
            elapsed: Duration::from_secs(5),
            timed_out: false,
        };
        assert_eq!(out.booted_after(), Some(4.2));
        assert_eq!(out.values(SELF_TEST_EXIT).collect::<Vec<_>>(), vec!["0"]);
        out.assert_self_test_passed("x");
        assert!(out.indented().starts_with("  | noise\n"));
        let failed = Output {
            console: out.console.replace(
                &format!("{SELF_TEST_EXIT} 0"),
                &format!("{SELF_TEST_EXIT} 101"),
            ),
            ..out.clone()
        };
        let r = std::panic::catch_unwind(|| failed.assert_self_test_passed("x"));
        assert!(r.is_err());
    }

    /// The cached kernel, asked for by two threads at once (prepared once, on first use).
    #[test]
    fn the_kernel_is_prepared_once() {
        let a = std::thread::spawn(ensure_kernel);
        let b = ensure_kernel().unwrap();
        let a = a.join().unwrap().unwrap();
        assert_eq!(a, b);
        let image = fs::read(&a.image).unwrap();
        assert!(image.starts_with(b"\x7fELF") || image.get(0x202..0x206) == Some(b"HdrS"));
        let modules = fs::read(&a.modules_cpio).unwrap();
        assert!(modules.starts_with(b"070701"));
        let ipvs = format!(
            "lib/modules/{}/kernel/net/netfilter/ipvs/ip_vs.ko\0",
            a.release
        );
        assert!(modules.windows(ipvs.len()).any(|w| w == ipvs.as_bytes()));
    }

    /// qemu is killed at the timeout, and the VM's folder is removed on drop.
    #[test]
    fn a_vm_that_does_not_stop_is_killed_at_the_timeout() {
        let vm = Vm::builder()
            .init("sleep 1000")
            .memory(256)
            .build()
            .unwrap();
        let dir = vm.dir().to_path_buf();
        assert!(dir.join("initrd.cpio").exists());
        let out = vm.run(Duration::from_secs(3)).unwrap();
        assert!(out.timed_out, "{}", out.indented());
        assert!(out.elapsed < Duration::from_secs(6), "{:?}", out.elapsed);
        assert_eq!(out.values(INIT_EXIT).count(), 0);
        drop(vm);
        assert!(!dir.exists());
    }

    #[test]
    fn ldd_of_a_dynamic_and_a_static_binary() {
        let libs = ldd(Path::new("/bin/sh")).unwrap();
        assert!(libs.iter().any(|l| l.to_string_lossy().contains("libc.so")));
        assert!(libs.iter().all(|l| l.is_absolute()));
        // busybox-static.
        assert_eq!(
            ldd(&which("busybox").unwrap()).unwrap(),
            Vec::<PathBuf>::new()
        );
    }
}
