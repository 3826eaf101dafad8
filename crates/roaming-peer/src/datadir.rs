//! The data directory is private to the endpoint's user (#12 item 18): the directory and every
//! directory below it 0700, every file 0600, whatever the umask the endpoint was started with.
//!
//! sled creates its files with the process umask, so [`secure`] first narrows the umask to at least
//! `077` for the whole process (new files are then private from the start, whoever creates them), then
//! tightens what an older version left readable to others. Symbolic links are not followed below the
//! data directory itself.

use std::path::Path;

/// Mode of the data directory and of every directory in it.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file in the data directory.
pub const FILE_MODE: u32 = 0o600;

/// Narrows the process umask to at least `077`, creates `dir` if needed, and removes every group and
/// other permission from `dir` and everything in it. Returns how many entries had to be changed
/// (files of an older version, a directory created by a package manager with 0755).
pub fn secure(dir: &Path) -> std::io::Result<usize> {
    private_umask();
    std::fs::create_dir_all(dir)?;
    let mut fixed = 0;
    tighten(dir, true, &mut fixed)?;
    Ok(fixed)
}

/// Makes files and directories created from now on by this process private to its user.
#[cfg(unix)]
pub fn private_umask() {
    use rustix::fs::Mode;
    let old = rustix::process::umask(Mode::from_raw_mode(0o077));
    // Keep anything stricter the operator asked for.
    rustix::process::umask(old | Mode::from_raw_mode(0o077));
}

/// Nothing to do where there are no Unix permissions.
#[cfg(not(unix))]
pub fn private_umask() {}

/// Refuses to go on with less than `min_bytes` free on the filesystem of `dir` (for the endpoint's
/// user): sled cannot write without space, and an endpoint that started on a full disk would only
/// stop again at its first write (#12 item 14).
#[cfg(unix)]
pub fn check_free_space(dir: &Path, min_bytes: u64) -> Result<(), String> {
    let st = rustix::fs::statvfs(dir).map_err(|e| format!("free space of {}: {e}", dir.display()))?;
    let free = st.f_bavail.saturating_mul(st.f_frsize);
    if free < min_bytes {
        return Err(format!(
            "only {} MiB free on the filesystem of {}; the store needs at least {} MiB (store.min_free_mb): free space there, then start again",
            free / (1024 * 1024),
            dir.display(),
            min_bytes / (1024 * 1024)
        ));
    }
    Ok(())
}

/// No free-space check where there is no `statvfs`.
#[cfg(not(unix))]
pub fn check_free_space(_dir: &Path, _min_bytes: u64) -> Result<(), String> {
    Ok(())
}

#[cfg(unix)]
fn tighten(path: &Path, follow: bool, fixed: &mut usize) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = if follow {
        std::fs::metadata(path)?
    } else {
        std::fs::symlink_metadata(path)?
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode() & 0o7777;
    let want = if kind.is_dir() {
        DIR_MODE
    } else {
        // The owner's bits as they are (0600 for what we write), nothing for group and others.
        mode & 0o700
    };
    if mode != want && (kind.is_dir() || mode & 0o077 != 0) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(want))?;
        *fixed += 1;
    }
    if kind.is_dir() {
        for entry in std::fs::read_dir(path)? {
            tighten(&entry?.path(), false, fixed)?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten(_path: &Path, _follow: bool, _fixed: &mut usize) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_older_world_readable_directory_becomes_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir_all(dir.join("db")).unwrap();
        std::fs::write(dir.join("db/conf"), "x").unwrap();
        std::fs::write(dir.join("operator.key"), "k").unwrap();
        for (p, m) in [
            (dir.clone(), 0o755),
            (dir.join("db"), 0o755),
            (dir.join("db/conf"), 0o644),
            (dir.join("operator.key"), 0o664),
        ] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
        }
        let fixed = secure(&dir).unwrap();
        assert_eq!(fixed, 4);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("db")), 0o700);
        assert_eq!(mode(&dir.join("db/conf")), 0o600);
        assert_eq!(mode(&dir.join("operator.key")), 0o600);
        // Files created from now on are private without anyone asking.
        std::fs::write(dir.join("new"), "n").unwrap();
        assert_eq!(mode(&dir.join("new")), 0o600);
        assert_eq!(secure(&dir).unwrap(), 0, "nothing left to fix");
    }
}
