//! The kernel's table of file locks (`/proc/locks`): who holds the lock that marks a name as
//! owned, read without taking any lock ourselves (taking one, even for a moment, could make a
//! server that binds at that instant fail with `AddrInUse`).

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A file as `/proc/locks` names it: device major, minor, inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileKey {
    major: u64,
    minor: u64,
    inode: u64,
}

impl FileKey {
    /// The key of the file at `path` (not following a symlink).
    pub(crate) fn of(path: &Path) -> io::Result<FileKey> {
        let meta = std::fs::symlink_metadata(path)?;
        let dev = meta.dev();
        // glibc's encoding of dev_t (gnu_dev_major / gnu_dev_minor).
        Ok(FileKey {
            major: ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff),
            minor: (dev & 0xff) | ((dev >> 12) & !0xff),
            inode: meta.ino(),
        })
    }
}

/// The locks held on this machine, by file.
#[derive(Debug, Default)]
pub(crate) struct Locks {
    /// `flock` holders: the pid that took the lock.
    flock: HashMap<FileKey, u32>,
    /// Start offsets of open-file-description byte-range locks.
    ofd: HashMap<FileKey, Vec<u64>>,
}

impl Locks {
    /// Reads `/proc/locks`.
    ///
    /// # Errors
    /// The read error (no procfs).
    pub(crate) fn read() -> io::Result<Locks> {
        Ok(Locks::parse(&std::fs::read_to_string("/proc/locks")?))
    }

    /// Parses the text of `/proc/locks`; lines it does not understand are skipped.
    pub(crate) fn parse(text: &str) -> Locks {
        let mut locks = Locks::default();
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // `N: KIND ADVISORY|MANDATORY READ|WRITE PID MAJ:MIN:INODE START END`; waiters
            // have `->` after the number and hold nothing.
            let [_, kind, _, _, pid, file, start, _] = fields[..] else {
                continue;
            };
            let Some(key) = parse_file(file) else {
                continue;
            };
            match kind {
                "FLOCK" => {
                    if let Ok(pid) = pid.parse() {
                        locks.flock.insert(key, pid);
                    }
                }
                "OFDLCK" => {
                    if let Ok(start) = start.parse() {
                        locks.ofd.entry(key).or_default().push(start);
                    }
                }
                _ => {}
            }
        }
        locks
    }

    /// The pid holding a `flock` on the file, if any.
    pub(crate) fn flock_holder(&self, key: &FileKey) -> Option<u32> {
        self.flock.get(key).copied()
    }

    /// Start offsets of the byte-range locks open file descriptions hold on the file.
    pub(crate) fn ofd_starts(&self, key: &FileKey) -> &[u64] {
        self.ofd.get(key).map_or(&[], Vec::as_slice)
    }
}

/// `fe:00:5587076` (hex major, hex minor, decimal inode).
fn parse_file(text: &str) -> Option<FileKey> {
    let mut parts = text.split(':');
    let major = u64::from_str_radix(parts.next()?, 16).ok()?;
    let minor = u64::from_str_radix(parts.next()?, 16).ok()?;
    let inode = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some(FileKey {
        major,
        minor,
        inode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
1: FLOCK  ADVISORY  WRITE 9824 fe:00:5587076 0 EOF
1: -> FLOCK  ADVISORY  WRITE 9999 fe:00:5587076 0 EOF
4: OFDLCK ADVISORY  WRITE -1 00:1b:20 1099511629010 1099511629010
5: OFDLCK ADVISORY  WRITE -1 00:1b:20 1099511644249 1099511644249
6: POSIX  ADVISORY  WRITE 77 00:1b:21 0 EOF
garbage
";

    fn key(major: u64, minor: u64, inode: u64) -> FileKey {
        FileKey {
            major,
            minor,
            inode,
        }
    }

    #[test]
    fn reads_flock_holders_and_ofd_ranges() {
        let locks = Locks::parse(SAMPLE);
        assert_eq!(locks.flock_holder(&key(0xfe, 0, 5_587_076)), Some(9824));
        assert_eq!(locks.flock_holder(&key(0, 0x1b, 21)), None);
        assert_eq!(
            locks.ofd_starts(&key(0, 0x1b, 20)),
            &[1_099_511_629_010, 1_099_511_644_249]
        );
        assert!(locks.ofd_starts(&key(0, 0x1b, 21)).is_empty());
    }

    #[test]
    fn a_lock_taken_here_is_seen() {
        let path = std::env::temp_dir().join(format!("anyipc-proc-locks-{}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        crate::resources::name_lock::try_lock(&file).unwrap();
        let locks = Locks::read().unwrap();
        let holder = locks.flock_holder(&FileKey::of(&path).unwrap());
        let _ = std::fs::remove_file(&path);
        assert_eq!(holder, Some(std::process::id()));
    }
}
