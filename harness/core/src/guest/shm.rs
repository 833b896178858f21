//! The results channel through shared memory: a file on the host that
//! QEMU maps into the guest as the memory of an `ivshmem-plain` PCI
//! device, which the guest's init maps through sysfs.
//!
//! Under TCG every byte through the emulated UART costs the guest a port
//! write, its share of an interrupt and a write(2) in QEMU: about 0.15 s
//! of init's CPU per whole-suite run on bookworm, plus the interrupts. A
//! store to this memory costs what any store does, and is in the host's
//! file the moment it is made: nothing waits in a buffer when the guest's
//! kernel goes down, so init needs no start lines on the console either.
//!
//! Layout: [`MAGIC`] (the host writes it, so the guest knows the device
//! is this channel), the committed length, the moved flag, then the
//! event lines. The guest copies a line in and only then publishes the
//! new length; when a line no longer fits it sets the moved flag and
//! carries on over ttyS1, which the host reads only once it has seen the
//! flag and everything committed before it.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// The device's memory: 16 MiB (ivshmem wants a power of two). A whole
/// suite's events take about 70 KB; the room is for kernel log excerpts.
/// The host's file is sparse, so only what the guest writes is stored.
pub const SIZE: u64 = 16 << 20;
/// QEMU's PCI ids for ivshmem (Red Hat's vendor id, device 0x1110).
pub const PCI_VENDOR: &str = "0x1af4";
pub const PCI_DEVICE: &str = "0x1110";

const MAGIC: &[u8; 16] = b"kconform-shm-v1\0";
const LEN_AT: usize = 16;
const MOVED_AT: usize = 24;
const DATA_AT: usize = 64;

/// Make the host's side: the magic, then zeros up to [`SIZE`].
pub fn create(path: &Path) -> io::Result<()> {
    let f = File::create(path)?;
    f.write_all_at(MAGIC, 0)?;
    f.set_len(SIZE)
}

/// The first `size` bytes of `file`, mapped shared and writable, as the
/// guest maps the device's memory (and the tests the host's file).
pub fn map(file: &File, size: usize) -> nix::Result<NonNull<u8>> {
    use nix::sys::mman::{mmap, MapFlags, ProtFlags};
    let size = std::num::NonZeroUsize::new(size).ok_or(nix::Error::EINVAL)?;
    // SAFETY: a fresh mapping, placed by the kernel, of a file the caller
    // opened read-write; it aliases nothing in this process.
    let base = unsafe {
        mmap(
            None,
            size,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_SHARED,
            file,
            0,
        )
    }?;
    Ok(base.cast())
}

/// The guest's side, over a mapping of the device's memory.
pub struct Writer {
    base: NonNull<u8>,
    size: usize,
    len: usize,
}

// SAFETY: the mapping belongs to the Writer, which is used under a lock.
unsafe impl Send for Writer {}

impl Writer {
    /// # Safety
    /// `base..base + size` must stay mapped, readable and writable, for
    /// the Writer's life, and nothing else may write to it.
    pub unsafe fn new(base: NonNull<u8>, size: usize) -> Option<Writer> {
        if size <= DATA_AT || base.as_ptr().align_offset(8) != 0 {
            return None;
        }
        let magic = std::slice::from_raw_parts(base.as_ptr(), MAGIC.len());
        if magic != MAGIC {
            return None;
        }
        let w = Writer { base, size, len: 0 };
        // A fresh channel: the host made it empty, and this guest is its
        // only writer.
        w.word(LEN_AT).store(0, Ordering::Release);
        w.word(MOVED_AT).store(0, Ordering::Release);
        Some(w)
    }

    fn word(&self, at: usize) -> &AtomicU64 {
        // SAFETY: at + 8 <= DATA_AT < size and base is 8-aligned (checked
        // in new); the host only reads these words.
        unsafe { &*(self.base.as_ptr().add(at) as *const AtomicU64) }
    }

    /// Append `line` whole and publish it; false, with nothing written,
    /// when it does not fit in what is left.
    pub fn append(&mut self, line: &[u8]) -> bool {
        let end = DATA_AT + self.len + line.len();
        if end > self.size {
            return false;
        }
        // SAFETY: DATA_AT + len .. end lies inside the mapping (checked
        // above) and past everything published, which the host may be reading.
        unsafe {
            std::ptr::copy_nonoverlapping(
                line.as_ptr(),
                self.base.as_ptr().add(DATA_AT + self.len),
                line.len(),
            );
        }
        self.len += line.len();
        // Release: the bytes are visible before the length that covers them.
        self.word(LEN_AT).store(self.len as u64, Ordering::Release);
        true
    }

    /// Say that the lines go on over ttyS1 from here.
    pub fn mark_moved(&mut self) {
        self.word(MOVED_AT).store(1, Ordering::Release);
    }
}

/// The host's side: follows the file as the guest fills it.
pub struct Reader {
    file: Option<File>,
    read: u64,
    moved: bool,
}

impl Reader {
    /// A reader of `path`, made by [`create`]; one that cannot be opened
    /// reads as empty.
    pub fn open(path: &Path) -> Reader {
        Reader {
            file: File::open(path).ok(),
            read: 0,
            moved: false,
        }
    }

    /// Append the bytes committed since the last call to `out`.
    pub fn read_more(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let Some(f) = &self.file else {
            return Ok(());
        };
        // The flag before the length: a guest sets it only after its last
        // line here, so a set flag means the length read next is final.
        let moved = read_word(f, MOVED_AT)? != 0;
        let len = read_word(f, LEN_AT)?.min(SIZE - DATA_AT as u64);
        if len > self.read {
            let start = out.len();
            out.resize(start + (len - self.read) as usize, 0);
            f.read_exact_at(&mut out[start..], DATA_AT as u64 + self.read)?;
            self.read = len;
        }
        self.moved = moved;
        Ok(())
    }

    /// Whether the guest has put anything here.
    pub fn used(&self) -> bool {
        self.read > 0
    }

    /// Whether the guest has moved on to ttyS1 (and everything it wrote
    /// here has been read).
    pub fn moved(&self) -> bool {
        self.moved
    }
}

fn read_word(f: &File, at: usize) -> io::Result<u64> {
    let mut b = [0u8; 8];
    f.read_exact_at(&mut b, at as u64)?;
    Ok(u64::from_le_bytes(b))
}

/// The host's file mapped as the guest maps the device, for tests of
/// both sides.
#[doc(hidden)]
pub struct Mapped {
    base: NonNull<u8>,
    size: usize,
}

impl Mapped {
    /// The first `size` bytes of `path`.
    pub fn new(path: &Path, size: usize) -> Mapped {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        Mapped {
            base: map(&f, size).unwrap(),
            size,
        }
    }

    /// A writer over the mapping, which must outlive it.
    pub fn writer(&self) -> Option<Writer> {
        // SAFETY: mapped until drop; each test makes one writer at a time.
        unsafe { Writer::new(self.base, self.size) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the writers over it are gone (they borrow nothing, so
        // the tests drop them first).
        let _ = unsafe { nix::sys::mman::munmap(self.base.cast(), self.size) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reach_the_reader_as_they_are_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shm");
        create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), SIZE);
        let map = Mapped::new(&path, SIZE as usize);
        let mut w = map.writer().unwrap();
        let mut r = Reader::open(&path);
        let mut got = Vec::new();
        r.read_more(&mut got).unwrap();
        assert!(got.is_empty() && !r.used());
        assert!(w.append(b"{\"ev\":\"end\"}\n"));
        r.read_more(&mut got).unwrap();
        assert_eq!(got, b"{\"ev\":\"end\"}\n");
        assert!(w.append(b"two\n") && w.append(b"three\n"));
        r.read_more(&mut got).unwrap();
        assert_eq!(got, b"{\"ev\":\"end\"}\ntwo\nthree\n");
        assert!(r.used() && !r.moved());
    }

    #[test]
    fn a_line_that_does_not_fit_is_refused_whole_and_the_move_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shm");
        create(&path).unwrap();
        // A small window onto the file: room for 10 data bytes.
        let map = Mapped::new(&path, DATA_AT + 10);
        let mut w = map.writer().unwrap();
        assert!(w.append(b"123456\n"));
        assert!(!w.append(b"7890\n"), "4 bytes left, 5 asked");
        w.mark_moved();
        let mut r = Reader::open(&path);
        let mut got = Vec::new();
        r.read_more(&mut got).unwrap();
        assert_eq!(got, b"123456\n");
        assert!(r.moved());
    }

    #[test]
    fn memory_without_the_magic_is_not_a_channel() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other");
        std::fs::write(&path, vec![0u8; 4096]).unwrap();
        assert!(Mapped::new(&path, 4096).writer().is_none());
    }
}
