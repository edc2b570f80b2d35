//! The "newc" cpio format the kernel unpacks as its initramfs.
//!
//! ```text
//!  "070701" ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
//!  namesize check    (13 fields of 8 hex digits: a 110-byte header)
//!  name NUL, padded to 4 | data, padded to 4 | ... | "TRAILER!!!" entry
//! ```
//!
//! Several archives may be concatenated: the kernel unpacks one after the other.

/// Writes entries of a newc archive into a buffer.
#[derive(Debug, Default)]
pub(crate) struct Archive {
    buf: Vec<u8>,
    ino: u32,
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

impl Archive {
    fn entry(&mut self, name: &str, mode: u32, nlink: u32, data: &[u8]) {
        self.ino += 1;
        let name = name.trim_start_matches('/');
        let header = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.ino,
            mode,
            0,
            0,
            nlink,
            0,
            data.len(),
            0,
            0,
            0,
            0,
            name.len() + 1,
            0
        );
        self.buf.extend_from_slice(header.as_bytes());
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }

    /// A directory (0755).
    pub(crate) fn dir(&mut self, name: &str) {
        self.entry(name, S_IFDIR | 0o755, 2, &[]);
    }

    /// A regular file with its permission bits.
    pub(crate) fn file(&mut self, name: &str, perm: u32, data: &[u8]) {
        self.entry(name, S_IFREG | (perm & 0o7777), 1, data);
    }

    /// A symbolic link.
    pub(crate) fn symlink(&mut self, name: &str, target: &str) {
        self.entry(name, S_IFLNK | 0o777, 1, target.as_bytes());
    }

    /// The archive with its trailer.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, 1, &[]);
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_aligned_and_end_with_the_trailer() {
        let mut a = Archive::default();
        a.dir("bin");
        a.file("/bin/x", 0o755, b"hello");
        a.symlink("bin/sh", "/bin/busybox");
        let b = a.finish();
        assert_eq!(b.len() % 4, 0);
        assert!(b.starts_with(b"070701"));
        // The first entry: ino 1, a directory, name "bin".
        assert_eq!(&b[6..14], b"00000001");
        assert_eq!(&b[14..22], b"000041ed");
        assert_eq!(&b[110..114], b"bin\0");
        let text = String::from_utf8_lossy(&b);
        assert!(text.contains("bin/x\0"));
        assert!(text.contains("hello"));
        assert!(text.contains("TRAILER!!!\0"));
    }
}
