//! Reading and writing files without the ways that go wrong: reading refuses
//! what is not a regular file (a FIFO would block forever, a device never
//! end) and bounds a source file's size; writing goes to a temporary file in
//! the same directory that replaces the old one only once it is complete and
//! on disk, so a failed write (full disk, quota) leaves the old file intact.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The largest source file (script, import, `:load`) read: far above any real
/// program, it stops `dp /dev/zero` from filling memory.
pub const MAX_SOURCE_BYTES: u64 = 256 << 20;

/// Why a file could not be read or written.
#[derive(Debug)]
pub enum FileError {
    /// An error from the operating system.
    Io(std::io::Error),
    /// The path names a directory.
    Directory,
    /// The path names something other than a regular file or directory; the
    /// text says what (e.g. "a FIFO (named pipe)").
    NotRegular(&'static str),
    /// The file is larger than the limit, in bytes.
    TooLarge(u64),
    /// The file is not UTF-8 text; the text says where it stops being so.
    NotUtf8(String),
}

impl FileError {
    /// A user-facing reason, to follow "cannot read X: ".
    pub fn reason(&self) -> String {
        match self {
            FileError::Io(e) => io_reason(e),
            FileError::Directory => "it is a directory".into(),
            FileError::NotRegular(what) => format!("it is {what}, not a regular file"),
            FileError::TooLarge(limit) => format!("it is larger than {} MiB", limit >> 20),
            FileError::NotUtf8(where_) => format!("it is not UTF-8 text: {where_}"),
        }
    }

    /// Whether the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

impl From<std::io::Error> for FileError {
    fn from(e: std::io::Error) -> FileError {
        if e.kind() == std::io::ErrorKind::IsADirectory {
            FileError::Directory
        } else {
            FileError::Io(e)
        }
    }
}

/// A user-facing reason for an OS-level failure (without the `(os error N)` suffix).
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "it is a directory".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

/// What a file that is neither regular nor a directory is, in words.
fn special_kind(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    let _ = ft;
    "a special file"
}

/// Opens `path` for reading if it is a regular file. The open itself does
/// not block (on a FIFO without a writer it would, before any check could
/// run), and the type is checked on the opened file, not on the path.
pub fn open_regular(path: &Path) -> Result<File, FileError> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK only matters for FIFOs and devices, which are refused below.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let ft = file.metadata()?.file_type();
    if ft.is_dir() {
        return Err(FileError::Directory);
    }
    if !ft.is_file() {
        return Err(FileError::NotRegular(special_kind(&ft)));
    }
    Ok(file)
}

/// The bytes of the regular file at `path`.
pub fn read_regular(path: &Path) -> Result<Vec<u8>, FileError> {
    let mut file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The text of a source file: a regular file of at most [`MAX_SOURCE_BYTES`]
/// in UTF-8. With `streams`, a FIFO or device is read too (`dp /dev/stdin`;
/// the caller must not have taken over Ctrl-C, which then still ends dp).
pub fn read_source(path: &Path, streams: bool) -> Result<String, FileError> {
    let file = if streams {
        let f = File::open(path)?;
        if f.metadata()?.is_dir() {
            return Err(FileError::Directory);
        }
        f
    } else {
        open_regular(path)?
    };
    let mut bytes = Vec::new();
    file.take(MAX_SOURCE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(FileError::TooLarge(MAX_SOURCE_BYTES));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        FileError::NotUtf8(utf8_error_position(e.as_bytes(), at))
    })
}

/// The text of a dp source file (script, import, `:load`), as
/// [`read_source`] reads it, without a leading byte order mark: editors on
/// Windows put one at the start of UTF-8 files, and it is no part of the
/// program (nor visible in the editor, so columns count without it).
pub fn read_program(path: &Path, streams: bool) -> Result<String, FileError> {
    let mut text = read_source(path, streams)?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

/// Where the first invalid UTF-8 byte of `bytes` is, at offset `at`:
/// "invalid byte 0xFF at line 3, column 5, byte offset 27". The column
/// counts the characters before it on its line, plus one.
pub fn utf8_error_position(bytes: &[u8], at: usize) -> String {
    let at = at.min(bytes.len());
    // Everything before `at` is valid UTF-8.
    let before = std::str::from_utf8(&bytes[..at]).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    match bytes.get(at) {
        Some(b) => format!("invalid byte 0x{b:02X} at line {line}, column {column}, byte offset {at}"),
        None => format!("incomplete character at line {line}, column {column}, byte offset {at}"),
    }
}

/// Distinguishes the temporary files of concurrent writes in one process.
static TEMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Replaces the file at `path` with `bytes`, or leaves it as it was: the
/// bytes go to a new file in the same directory, which is flushed to disk
/// and then renamed over `path` (a rename within a directory is atomic).
/// An existing file keeps its permissions; a symlink is followed, so its
/// target is replaced and the link kept. Directories, FIFOs and devices are
/// refused rather than replaced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let target: PathBuf = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
        _ => path.to_path_buf(),
    };
    let existing = match std::fs::metadata(&target) {
        Ok(m) if m.is_dir() => return Err(FileError::Directory),
        Ok(m) if !m.is_file() => return Err(FileError::NotRegular(special_kind(&m.file_type()))),
        Ok(m) => Some(m.permissions()),
        Err(_) => None,
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| -> std::io::Result<()> {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&temp)?;
        if let Some(p) = existing {
            f.set_permissions(p)?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&temp, &target)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e.into());
    }
    // Make the rename itself durable; a failure here loses nothing already written.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dp-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create temp dir");
        d
    }

    #[test]
    fn utf8_positions_count_lines_and_characters() {
        let bytes = b"ab\n\xc3\xa9x\xffz";
        assert_eq!(
            utf8_error_position(bytes, 6),
            "invalid byte 0xFF at line 2, column 3, byte offset 6"
        );
    }

    #[test]
    fn directories_and_fifos_are_refused() {
        let d = temp_dir("refuse");
        assert!(matches!(read_regular(&d), Err(FileError::Directory)));
        assert!(matches!(read_source(&d, true), Err(FileError::Directory)));
        #[cfg(unix)]
        {
            let fifo = d.join("pipe");
            let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("no NUL");
            // SAFETY: mkfifo reads a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            match read_regular(&fifo) {
                Err(e) => assert_eq!(e.reason(), "it is a FIFO (named pipe), not a regular file"),
                Ok(_) => panic!("a FIFO was read"),
            }
            assert!(matches!(write_atomic(&fifo, b"x"), Err(FileError::NotRegular(_))));
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let d = temp_dir("atomic");
        let p = d.join("out.bin");
        write_atomic(&p, b"old").expect("first write");
        write_atomic(&p, b"new contents").expect("second write");
        assert_eq!(std::fs::read(&p).expect("read back"), b"new contents");
        let names: Vec<_> = std::fs::read_dir(&d)
            .expect("list")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(matches!(write_atomic(&d, b"x"), Err(FileError::Directory)));
        let _ = std::fs::remove_dir_all(&d);
    }
}
