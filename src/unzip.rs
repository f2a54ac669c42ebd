//! Job artifacts unpacked safely: GitLab's zip archive, read from a file on disk, written under one
//! directory and nowhere else (`docs/gitlab-behaviour.md` §11).
//!
//! The archive comes from whatever the job that made it ran, maybe on a branch less trusted than
//! the deploy reading it, so every entry is checked before anything is written: its name must stay
//! under the directory (no `..`, no absolute path, no backslash, no NUL), symbolic links, devices
//! and encrypted entries are not written (said, and listed), and the entry count, the total size
//! and each entry's compression ratio are bounded, from the archive's own directory first and again
//! while bytes come out (a directory may lie). Each file is written to a temporary file beside it
//! and renamed into place once whole and its CRC checked, so a reader never sees half a file; an
//! existing symbolic link on the way is never followed. Modes are kept without set-uid, set-gid and
//! sticky bits.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What an archive may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Entries in the archive's directory.
    pub entries: usize,
    /// Bytes written, all files together.
    pub total: u64,
    /// Bytes written per byte stored, for each entry past [`Limits::ratio_floor`]. Deflate reaches
    /// about 1,000:1 on a run of one byte, which is what a zip bomb is; real build outputs stay
    /// far below 100:1.
    pub ratio: u64,
    /// An entry this small is never judged by its ratio: a small file of one repeated byte is no bomb.
    pub ratio_floor: u64,
}

pub const LIMITS: Limits = Limits {
    entries: 100_000,
    total: 8 << 30,
    ratio: 200,
    ratio_floor: 1 << 20,
};

/// A file written: its path under the directory (`/`-separated, as in the archive), size and SHA-256.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// What an archive held and where it went.
#[derive(Debug, Default)]
pub struct Unpacked {
    pub files: Vec<Written>,
    /// Entries not written, and why (a symbolic link, a device).
    pub skipped: Vec<(String, String)>,
}

/// Why unpacking stopped.
#[derive(Debug)]
pub enum Failure {
    /// The archive is broken or breaks a rule above: nothing of it can be trusted.
    Archive(String),
    /// The archive is fine and writing under the directory failed (a full disk, a permission).
    Disk(String),
}

/// File type bits of a Unix mode (`st_mode`), as zip archives made on Unix carry them.
const TYPE_MASK: u32 = 0o170_000;
const REGULAR: u32 = 0o100_000;
const DIRECTORY: u32 = 0o040_000;
const SYMLINK: u32 = 0o120_000;
/// Permission bits only: set-uid, set-gid and sticky are dropped.
const PERMISSIONS: u32 = 0o777;

/// One entry of the archive's directory, checked, before anything is written.
enum Planned {
    File {
        index: usize,
        path: String,
        mode: u32,
        size: u64,
    },
    Dir {
        path: String,
    },
}

/// Unpacks the zip archive `archive` under `out`, which must exist.
pub fn unpack(archive: File, out: &Path, limits: Limits) -> Result<Unpacked, Failure> {
    let broken = |why: String| Failure::Archive(why);
    let mut zip = zip::ZipArchive::new(archive).map_err(|e| {
        broken(format!(
            "the archive is not a zip file GitLab would serve ({e})"
        ))
    })?;
    if zip.len() > limits.entries {
        return Err(broken(format!(
            "the archive holds {} entries, more than the {} gljob unpacks",
            zip.len(),
            limits.entries
        )));
    }
    let mut unpacked = Unpacked::default();
    let plan = plan_entries(&mut zip, limits, &mut unpacked.skipped)?;
    unpacked.files = write_planned(&mut zip, out, plan, limits)?;
    Ok(unpacked)
}

/// Reads the archive's whole directory and checks every entry before anything is written, so a
/// bad name, an encrypted entry or a declared bomb stops the archive with nothing on disk. Links
/// and devices go to `skipped`, said and not written.
fn plan_entries(
    zip: &mut zip::ZipArchive<File>,
    limits: Limits,
    skipped: &mut Vec<(String, String)>,
) -> Result<Vec<Planned>, Failure> {
    let broken = |why: String| Failure::Archive(why);
    let mut plan = Vec::with_capacity(zip.len());
    let mut declared_total: u64 = 0;
    for index in 0..zip.len() {
        let entry = zip
            .by_index_data(index)
            .map_err(|e| broken(format!("entry {index} of the archive is unreadable ({e})")))?;
        let name = entry
            .name()
            .map_err(|e| broken(format!("entry {index} has an unreadable name ({e})")))?
            .into_owned();
        let path = safe_path(&name).map_err(|why| {
            broken(format!(
                "entry '{}' {why}; gljob writes nothing outside the output directory",
                crate::error::clean_snippet(name.as_bytes(), 120)
            ))
        })?;
        let mode = entry.unix_mode().unwrap_or(0);
        let kind = mode & TYPE_MASK;
        if entry.is_dir() || kind == DIRECTORY {
            plan.push(Planned::Dir { path });
            continue;
        }
        if kind == SYMLINK {
            skipped.push((
                path,
                "a symbolic link: gljob does not create links (it could point outside the output \
                 directory)"
                    .into(),
            ));
            continue;
        }
        if kind != REGULAR && kind != 0 {
            skipped.push((path, format!("not a regular file (mode {mode:o})")));
            continue;
        }
        if entry.encrypted() {
            return Err(broken(format!(
                "entry '{path}' is encrypted; GitLab's archives never are"
            )));
        }
        let size = entry.size();
        let stored = entry.compressed_size();
        if size > limits.ratio_floor && size / stored.max(1) > limits.ratio {
            return Err(bomb(&path, size, stored, limits));
        }
        declared_total = declared_total.saturating_add(size);
        if declared_total > limits.total {
            return Err(too_big(limits));
        }
        plan.push(Planned::File {
            index,
            path,
            mode: if mode == 0 { 0o644 } else { mode & PERMISSIONS },
            size,
        });
    }
    Ok(plan)
}

/// Writes the checked entries in the archive's order, bounding again what actually comes out (a
/// directory may lie about sizes): each entry's size and ratio, and the total so far.
fn write_planned(
    zip: &mut zip::ZipArchive<File>,
    out: &Path,
    plan: Vec<Planned>,
    limits: Limits,
) -> Result<Vec<Written>, Failure> {
    let broken = |why: String| Failure::Archive(why);
    let mut files = Vec::new();
    let mut total: u64 = 0;
    for planned in plan {
        match planned {
            Planned::Dir { path } => {
                make_dirs(out, &path)?;
            }
            Planned::File {
                index,
                path,
                mode,
                size,
            } => {
                let parent = match path.rsplit_once('/') {
                    Some((dirs, _)) => make_dirs(out, dirs)?,
                    None => out.to_path_buf(),
                };
                let target = out.join(&path);
                let mut reader = zip.by_index(index).map_err(|e| {
                    broken(format!(
                        "entry '{path}' cannot be read from the archive ({e})"
                    ))
                })?;
                let stored = reader.compressed_size();
                let mut check = |written: u64| -> Result<(), Failure> {
                    if written > size {
                        return Err(broken(format!(
                            "entry '{path}' holds more than the {size} bytes the archive declares"
                        )));
                    }
                    if written > limits.ratio_floor && written / stored.max(1) > limits.ratio {
                        return Err(bomb(&path, written, stored, limits));
                    }
                    if total + written > limits.total {
                        return Err(too_big(limits));
                    }
                    Ok(())
                };
                let (written, sha256) =
                    write_whole(&parent, &target, mode, &mut reader, &mut check, &path)?;
                if written != size {
                    return Err(broken(format!(
                        "entry '{path}' holds {written} bytes, not the {size} the archive declares"
                    )));
                }
                total += written;
                files.push(Written {
                    path,
                    size: written,
                    sha256,
                });
            }
        }
    }
    Ok(files)
}

fn bomb(path: &str, size: u64, stored: u64, limits: Limits) -> Failure {
    Failure::Archive(format!(
        "entry '{path}' expands {size} bytes from {stored} stored (more than {}:1): a zip bomb, not \
         unpacked",
        limits.ratio
    ))
}

fn too_big(limits: Limits) -> Failure {
    Failure::Archive(format!(
        "the archive expands to more than {} GiB, the most gljob unpacks",
        limits.total >> 30
    ))
}

/// The relative path an entry's name stands for, `/`-separated, or why it may not be written:
/// an absolute path, a `..` component, a backslash (a Windows separator, which Linux would take as
/// part of a name) or a NUL. `.` and empty components are dropped (`./a//b` is `a/b`).
pub fn safe_path(name: &str) -> Result<String, &'static str> {
    if name.starts_with('/') {
        return Err("is an absolute path");
    }
    if name.contains('\\') {
        return Err("holds a backslash");
    }
    if name.contains('\0') {
        return Err("holds a NUL byte");
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("goes up a directory (..)"),
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Err("names no file");
    }
    Ok(parts.join("/"))
}

/// Makes the directories of `relative` under `out`, one at a time, refusing any that exists as
/// something else than a directory: a symbolic link there (left by an earlier job, or by the
/// archive through an earlier entry) would carry every later file outside `out`.
pub fn make_dirs(out: &Path, relative: &str) -> Result<PathBuf, Failure> {
    let mut at = out.to_path_buf();
    for part in relative.split('/').filter(|p| !p.is_empty()) {
        at.push(part);
        match fs::symlink_metadata(&at) {
            Ok(meta) if meta.is_dir() => {}
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Failure::Disk(format!(
                    "{} is a symbolic link; gljob does not write through links",
                    at.display()
                )));
            }
            Ok(_) => {
                return Err(Failure::Disk(format!(
                    "{} exists and is not a directory",
                    at.display()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&at).map_err(|e| disk(&at, "creating", &e))?;
            }
            Err(e) => return Err(disk(&at, "reading", &e)),
        }
    }
    Ok(at)
}

fn disk(path: &Path, doing: &str, err: &io::Error) -> Failure {
    Failure::Disk(format!("{doing} {} failed: {err}", path.display()))
}

/// A name for a temporary file in the target's own directory (a rename across file systems would
/// be a copy): hidden, and new for each file of this process.
pub fn temporary_in(dir: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".gljob-{}-{n}.part", std::process::id()))
}

/// Streams `reader` into a temporary file in `dir`, calling `check` with the bytes written so far
/// before each write, then gives the file `mode` and renames it to `target` (replacing a file or a
/// symbolic link there, never writing through one). The temporary file is removed on any failure.
/// Returns the bytes written and their SHA-256, in hex.
pub fn write_whole(
    dir: &Path,
    target: &Path,
    mode: u32,
    reader: &mut dyn Read,
    check: &mut dyn FnMut(u64) -> Result<(), Failure>,
    what: &str,
) -> Result<(u64, String), Failure> {
    let temporary = temporary_in(dir);
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)
            .map_err(|e| disk(&temporary, "creating", &e))?;
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        let mut buffer = vec![0u8; 64 * 1024];
        let mut written: u64 = 0;
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Failure::Archive(format!("entry '{what}' is damaged ({e})")));
                }
            };
            written += n as u64;
            check(written)?;
            digest.update(&buffer[..n]);
            file.write_all(&buffer[..n])
                .map_err(|e| disk(&temporary, "writing", &e))?;
        }
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| disk(&temporary, "setting the mode of", &e))?;
        drop(file);
        fs::rename(&temporary, target).map_err(|e| disk(target, "writing", &e))?;
        Ok((written, hex(digest.finish().as_ref())))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_the_directory_are_refused() {
        assert_eq!(safe_path("dist/app.js").unwrap(), "dist/app.js");
        assert_eq!(safe_path("./dist//a/./b").unwrap(), "dist/a/b");
        assert_eq!(safe_path("dist/").unwrap(), "dist");
        for bad in [
            "../x",
            "a/../../x",
            "a/..",
            "/etc/passwd",
            "a\\..\\x",
            "a\0b",
            "",
            "./",
        ] {
            assert!(safe_path(bad).is_err(), "{bad:?}");
        }
    }

    /// An archive whose directory says an entry is smaller than it is (a bomb that lies) is
    /// stopped by the bytes that come out, and leaves nothing behind.
    #[test]
    fn an_entry_larger_than_declared_is_refused_while_written() {
        use std::io::{Cursor, Write as _};
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        writer.start_file("big.bin", options).unwrap();
        let mut state: u32 = 1;
        let noise: Vec<u8> = (0..100_000)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (state >> 16) as u8
            })
            .collect();
        writer.write_all(&noise).unwrap();
        let mut bytes = writer.finish().unwrap().into_inner();
        // The uncompressed size, in the local header (offset 22) and the directory (offset 24).
        for (signature, offset) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
            let at = bytes.windows(4).position(|w| w == signature).unwrap() + offset;
            bytes[at..at + 4].copy_from_slice(&10u32.to_le_bytes());
        }
        let dir = std::env::temp_dir().join(format!("gljob-unzip-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let archive = dir.join("a.zip");
        fs::write(&archive, &bytes).unwrap();
        let out = dir.join("out");
        fs::create_dir_all(&out).unwrap();
        let result = unpack(File::open(&archive).unwrap(), &out, LIMITS);
        let listing: Vec<_> = fs::read_dir(&out).unwrap().collect();
        let _ = fs::remove_dir_all(&dir);
        match result {
            // The zip crate sees it first (its own check); ours is there for any reader that
            // would not.
            Err(Failure::Archive(why)) => assert!(
                why.contains("larger than its declared") || why.contains("more than the 10"),
                "{why}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(listing.is_empty(), "{listing:?}");
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
