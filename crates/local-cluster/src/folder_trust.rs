//! Which folders the cluster may live in. Run as root, we `chown` folders to the server user
//! and write files there, so a folder someone else controls is a way to make root hand them any
//! directory: its owner (or anyone who may write to it, or to a folder above it) can swap an
//! entry for a link between our checks and our use. So we use only folders that nobody but root
//! and us can change.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

use super::EmbeddedError;

/// The sticky bit: in such a folder (`/tmp`) only an entry's owner may rename or remove it.
const STICKY: u32 = 0o1000;

/// Why `meta`, the metadata of a folder we would trust, does not deserve it; `None` when it does.
/// `sticky_is_enough`: for the folders above ours, where a shared folder with the sticky bit is
/// safe (nobody can move what we made in it).
fn distrust(meta: &fs::Metadata, sticky_is_enough: bool) -> Option<String> {
    let me = nix::unistd::Uid::effective().as_raw();
    let my_group = nix::unistd::Gid::effective().as_raw();
    let mode = meta.mode();
    let sticky = sticky_is_enough && mode & STICKY != 0;
    if meta.file_type().is_symlink() {
        Some("it is a symbolic link".to_owned())
    } else if !meta.is_dir() {
        Some("it is not a directory".to_owned())
    } else if meta.uid() != me && meta.uid() != 0 {
        Some(format!(
            "it is owned by uid {}, neither root nor us (uid {me})",
            meta.uid()
        ))
    } else if mode & 0o002 != 0 && !sticky {
        Some(format!("anyone may write to it (mode {:o})", mode & 0o7777))
    } else if mode & 0o020 != 0 && !sticky && meta.gid() != my_group && meta.gid() != 0 {
        Some(format!(
            "group {} may write to it (mode {:o})",
            meta.gid(),
            mode & 0o7777
        ))
    } else {
        None
    }
}

/// Refuses `home` (which exists) unless it, and every folder above it, can be changed by nobody
/// but root and us.
pub(crate) fn refuse_untrusted_home(home: &Path) -> Result<(), EmbeddedError> {
    let refuse = |folder: &Path, why: String| {
        EmbeddedError::Unsafe(format!(
            "refusing to keep the cluster in {}: {} {why}, so another user could swap its contents for links to folders of their choosing; use a folder only root or you can change (CRUDDUR_HOME)",
            home.display(),
            if folder == home {
                "that folder:".to_owned()
            } else {
                format!("{} above it:", folder.display())
            },
        ))
    };
    let meta = fs::symlink_metadata(home)
        .map_err(|e| EmbeddedError::io(format!("inspect {}", home.display()), e))?;
    if let Some(why) = distrust(&meta, false) {
        return Err(refuse(home, why));
    }
    let real = fs::canonicalize(home)
        .map_err(|e| EmbeddedError::io(format!("resolve {}", home.display()), e))?;
    for above in real.ancestors().skip(1) {
        let meta = fs::metadata(above)
            .map_err(|e| EmbeddedError::io(format!("inspect {}", above.display()), e))?;
        if let Some(why) = distrust(&meta, true) {
            return Err(refuse(above, why));
        }
    }
    Ok(())
}

/// Makes `folder` (its parent must exist), or accepts it if it already is a real directory
/// owned by us that nobody else may write to; refuses anything else, saying why.
pub(crate) fn own_private_folder(folder: &Path) -> Result<(), EmbeddedError> {
    match fs::DirBuilder::new().mode(0o755).create(folder) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(EmbeddedError::io(format!("create {}", folder.display()), e)),
    }
    let meta = fs::symlink_metadata(folder)
        .map_err(|e| EmbeddedError::io(format!("inspect {}", folder.display()), e))?;
    let me = nix::unistd::Uid::effective().as_raw();
    let problem = if meta.file_type().is_symlink() {
        Some("it is a symbolic link".to_owned())
    } else if !meta.is_dir() {
        Some("it is not a directory".to_owned())
    } else if meta.uid() != me {
        Some(format!(
            "it is owned by uid {}, not by us (uid {me})",
            meta.uid()
        ))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!(
            "others may write to it (mode {:o})",
            meta.mode() & 0o7777
        ))
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(why) => Err(EmbeddedError::Unsafe(format!(
            "refusing to use {} for the cluster: {why}, so someone else may have prepared it; remove it, or set CRUDDUR_HOME to a folder the server user can reach",
            folder.display()
        ))),
    }
}
