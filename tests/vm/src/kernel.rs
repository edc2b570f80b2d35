//! The Debian kernel the VMs boot, fetched once into a cache outside the repository.
//!
//! `apt-cache depends linux-image-amd64` names the package; `apt-get download` and
//! `dpkg -x` unpack it. From it the cache keeps:
//! - `vmlinux`: the ELF kernel taken out of the xz-compressed bzImage, which qemu boots
//!   through its PVH entry point without decompressing it under emulation (about 8 s saved
//!   per boot); the bzImage itself when that is not possible;
//! - `modules.cpio`: an initramfs archive of `lib/modules/<release>` with the net, lib,
//!   crypto and arch modules (less subsystems no test uses: wireless, bluetooth, NFS, ...)
//!   and veth, macvlan and dummy, indexed by `depmod`.
//!
//! A lock file makes concurrent builders (two test binaries at once) wait for each other.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use nix::fcntl::{Flock, FlockArg};

use crate::{Error, cpio};

/// Where kernels are cached, unless `KARS_VM_CACHE` names another folder.
pub const CACHE_DIR: &str = "/var/cache/keepalived-rs-tests";

/// A kernel ready to boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// The release, e.g. `6.1.0-56-amd64`.
    pub release: String,
    /// What qemu's `-kernel` boots (the ELF vmlinux, or the bzImage).
    pub image: PathBuf,
    /// The modules as a newc archive, to concatenate before the test's own archive.
    pub modules_cpio: PathBuf,
}

/// Module folders (under `kernel/`) taken whole.
const MODULE_DIRS: &[&str] = &["net", "lib", "crypto", "arch"];
/// Single modules (under `kernel/`) taken when present.
const MODULE_FILES: &[&str] = &[
    "drivers/net/veth.ko",
    "drivers/net/macvlan.ko",
    "drivers/net/dummy.ko",
];
/// Sub-folders of MODULE_DIRS that no test needs and that would only slow the boot down.
const SKIPPED: &[&str] = &[
    "net/wireless",
    "net/mac80211",
    "net/bluetooth",
    "net/sunrpc",
    "net/ceph",
    "net/tipc",
    "net/rxrpc",
    "net/nfc",
    "net/batman-adv",
    "net/smc",
    "net/rds",
    "net/atm",
    "net/can",
    "net/vmw_vsock",
    "net/dccp",
    "net/ieee802154",
    "net/mac802154",
    "net/9p",
    "net/6lowpan",
    "net/appletalk",
    "net/x25",
    "net/lapb",
    "net/phonet",
    "net/caif",
    "net/l2tp",
    "net/qrtr",
    "arch/x86/kvm",
    "lib/test_bpf.ko",
];

static IN_PROCESS: Mutex<Option<Kernel>> = Mutex::new(None);

/// The cache folder.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("KARS_VM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CACHE_DIR))
}

/// The kernel of `linux-image-amd64`, downloaded and prepared on first use.
pub fn ensure_kernel() -> Result<Kernel, Error> {
    let mut memo = IN_PROCESS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(k) = memo.as_ref() {
        return Ok(k.clone());
    }
    let cache = cache_dir();
    fs::create_dir_all(&cache).map_err(|e| Error::io("create", &cache, e))?;
    let lock_path = cache.join("lock");
    let lock_file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io("open", &lock_path, e))?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive).map_err(|(_, errno)| {
        Error::io(
            "flock",
            &lock_path,
            std::io::Error::from_raw_os_error(errno as i32),
        )
    })?;
    let kernel = match package_name() {
        Ok(package) => prepare(&cache, &package)?,
        // Without apt's lists (no `apt-get update` yet) a kernel prepared before will do;
        // else the lists are fetched once.
        Err(e) => match newest_ready(&cache) {
            Some(k) => k,
            None => {
                run(Command::new("apt-get").args(["update", "-q"])).map_err(|_| e)?;
                prepare(&cache, &package_name()?)?
            }
        },
    };
    *memo = Some(kernel.clone());
    Ok(kernel)
}

fn kernel_in(dir: &Path, release: &str) -> Kernel {
    Kernel {
        release: release.to_string(),
        image: dir.join("vmlinux"),
        modules_cpio: dir.join("modules.cpio"),
    }
}

fn newest_ready(cache: &Path) -> Option<Kernel> {
    let mut ready: Vec<(std::time::SystemTime, String)> = fs::read_dir(cache)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let t = fs::metadata(e.path().join("ready")).ok()?.modified().ok()?;
            Some((t, e.file_name().to_string_lossy().into_owned()))
        })
        .collect();
    ready.sort();
    let (_, release) = ready.pop()?;
    Some(kernel_in(&cache.join(&release), &release))
}

/// `linux-image-<release>`, the package `linux-image-amd64` depends on.
fn package_name() -> Result<String, Error> {
    let out = run(Command::new("apt-cache").args(["depends", "linux-image-amd64"]))?;
    String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends:"))
        .map(str::trim)
        .find(|p| p.starts_with("linux-image-") && !p.starts_with('<'))
        .map(str::to_string)
        .ok_or_else(|| {
            Error::Setup(
                "apt-cache depends linux-image-amd64 names no linux-image package \
                 (run apt-get update)"
                    .into(),
            )
        })
}

fn prepare(cache: &Path, package: &str) -> Result<Kernel, Error> {
    let release = package.trim_start_matches("linux-image-").to_string();
    let dir = cache.join(&release);
    if dir.join("ready").exists() {
        return Ok(kernel_in(&dir, &release));
    }
    let work = cache.join(format!("{release}.partial"));
    if work.exists() {
        fs::remove_dir_all(&work).map_err(|e| Error::io("remove", &work, e))?;
    }
    fs::create_dir_all(&work).map_err(|e| Error::io("create", &work, e))?;
    run(Command::new("apt-get")
        .args(["download", "-q", package])
        .current_dir(&work))?;
    let deb = fs::read_dir(&work)
        .map_err(|e| Error::io("read", &work, e))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| Error::Setup(format!("apt-get download {package} gave no .deb")))?;
    let x = work.join("x");
    run(Command::new("dpkg").arg("-x").arg(&deb).arg(&x))?;

    let vmlinuz = x.join("boot").join(format!("vmlinuz-{release}"));
    let bz = fs::read(&vmlinuz).map_err(|e| Error::io("read", &vmlinuz, e))?;
    let image = match extract_pvh_vmlinux(&bz) {
        Some(elf) => elf,
        None => bz,
    };
    write(&work.join("vmlinux"), &image)?;

    let src = ["lib", "usr/lib"]
        .iter()
        .map(|p| x.join(p).join("modules").join(&release))
        .find(|p| p.is_dir())
        .ok_or_else(|| Error::Setup(format!("{package} has no lib/modules/{release}")))?;
    let root = work.join("root");
    let dst = root.join("lib/modules").join(&release);
    for d in MODULE_DIRS {
        copy_tree(&src.join("kernel").join(d), &dst.join("kernel").join(d), d)?;
    }
    for f in MODULE_FILES {
        let from = src.join("kernel").join(f);
        if from.exists() {
            copy_file(&from, &dst.join("kernel").join(f))?;
        }
    }
    for f in [
        "modules.builtin",
        "modules.builtin.modinfo",
        "modules.order",
    ] {
        let from = src.join(f);
        if from.exists() {
            copy_file(&from, &dst.join(f))?;
        }
    }
    run(Command::new(crate::which("depmod")?)
        .arg("-b")
        .arg(&root)
        .arg(&release))?;
    let mut archive = cpio::Archive::default();
    archive.dir("lib");
    archive.dir("lib/modules");
    add_tree(
        &mut archive,
        &root,
        Path::new("lib/modules").join(&release).as_path(),
    )?;
    write(&work.join("modules.cpio"), &archive.finish())?;

    fs::remove_dir_all(&x).map_err(|e| Error::io("remove", &x, e))?;
    fs::remove_dir_all(&root).map_err(|e| Error::io("remove", &root, e))?;
    fs::remove_file(&deb).map_err(|e| Error::io("remove", &deb, e))?;
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| Error::io("remove", &dir, e))?;
    }
    fs::rename(&work, &dir).map_err(|e| Error::io("rename", &work, e))?;
    write(&dir.join("ready"), package.as_bytes())?;
    Ok(kernel_in(&dir, &release))
}

/// The ELF kernel inside an xz-compressed bzImage, if it has a PVH entry point
/// (XEN_ELFNOTE_PHYS32_ENTRY) that qemu can boot directly.
fn extract_pvh_vmlinux(bz: &[u8]) -> Option<Vec<u8>> {
    const XZ_MAGIC: &[u8] = b"\xfd7zXZ\x00";
    let at = bz.windows(XZ_MAGIC.len()).position(|w| w == XZ_MAGIC)?;
    let mut child = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let data = bz[at..].to_vec();
    // xz reads while it writes: feed it from another thread.
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().ok()?;
    let _ = feeder.join();
    let elf = out.stdout;
    (elf.starts_with(b"\x7fELF") && has_pvh_note(&elf)).then_some(elf)
}

/// Whether an ELF64 image has a Xen note of type 18 (XEN_ELFNOTE_PHYS32_ENTRY).
fn has_pvh_note(elf: &[u8]) -> bool {
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        elf.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        })
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    for i in 0..usize::from(phnum) {
        let ph = phoff as usize + i * usize::from(phentsize);
        if u32_at(ph) != Some(4) {
            continue; // not PT_NOTE
        }
        let (Some(off), Some(size)) = (u64_at(ph + 8), u64_at(ph + 32)) else {
            continue;
        };
        let (mut at, end) = (off as usize, (off + size) as usize);
        while at + 12 <= end {
            let (Some(namesz), Some(descsz), Some(ty)) =
                (u32_at(at), u32_at(at + 4), u32_at(at + 8))
            else {
                break;
            };
            let name = elf
                .get(at + 12..at + 12 + namesz as usize)
                .unwrap_or_default();
            if name.starts_with(b"Xen") && ty == 18 {
                return true;
            }
            let align = |n: u32| (n as usize + 3) & !3;
            at += 12 + align(namesz) + align(descsz);
        }
    }
    false
}

fn copy_tree(from: &Path, to: &Path, rel: &str) -> Result<(), Error> {
    if SKIPPED.contains(&rel) || !from.exists() {
        return Ok(());
    }
    if from.is_dir() {
        fs::create_dir_all(to).map_err(|e| Error::io("create", to, e))?;
        for e in fs::read_dir(from).map_err(|e| Error::io("read", from, e))? {
            let e = e.map_err(|e| Error::io("read", from, e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            copy_tree(&e.path(), &to.join(&name), &format!("{rel}/{name}"))?;
        }
        Ok(())
    } else {
        copy_file(from, to)
    }
}

fn copy_file(from: &Path, to: &Path) -> Result<(), Error> {
    if let Some(p) = to.parent() {
        fs::create_dir_all(p).map_err(|e| Error::io("create", p, e))?;
    }
    fs::copy(from, to).map_err(|e| Error::io("copy", from, e))?;
    Ok(())
}

/// Adds `root/rel` and everything under it to the archive, as `rel/...`, sorted.
fn add_tree(archive: &mut cpio::Archive, root: &Path, rel: &Path) -> Result<(), Error> {
    let path = root.join(rel);
    let name = rel.to_string_lossy();
    if path.is_dir() {
        archive.dir(&name);
        let mut entries: Vec<_> = fs::read_dir(&path)
            .map_err(|e| Error::io("read", &path, e))?
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        entries.sort();
        for e in entries {
            add_tree(archive, root, &rel.join(e))?;
        }
    } else {
        let data = fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        archive.file(&name, 0o644, &data);
    }
    Ok(())
}

fn write(path: &Path, data: &[u8]) -> Result<(), Error> {
    let mut f = File::create(path).map_err(|e| Error::io("create", path, e))?;
    f.write_all(data).map_err(|e| Error::io("write", path, e))
}

/// Runs a command; its standard output, or an error with its standard error.
pub(crate) fn run(cmd: &mut Command) -> Result<Vec<u8>, Error> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Setup(format!("{shown}: {e}")))?;
    if !out.status.success() {
        return Err(Error::Setup(format!(
            "{shown}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}
