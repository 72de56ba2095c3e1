//! The output folder: which names a package writes (and so may replace), the refusal to replace
//! anything else, the hidden `.NAME.partial` folder the run writes into, and the final rename.

use super::{DESCRIPTOR_NAME, HLS_NAME, INIT_SEGMENT_PREFIX, MEDIA_SEGMENT_PREFIX, MPD_NAME};
use crate::error::MediaError;
use std::path::{Path, PathBuf};

/// True for the names a package writes (and so may replace): the descriptor, the manifests,
/// init and media segments.
fn is_package_file(name: &str) -> bool {
    name == DESCRIPTOR_NAME
        || name == MPD_NAME
        || name == HLS_NAME
        || (name.starts_with("media_") && name.ends_with(".m3u8"))
        || name.starts_with(INIT_SEGMENT_PREFIX)
        || name.starts_with(MEDIA_SEGMENT_PREFIX)
}

/// Refuses to replace a folder that holds anything a package does not write (the whole folder
/// is swapped for the new package, so such files would be lost), and an input inside it.
pub(super) fn check_out_dir(out: &Path, input: Option<&Path>) -> Result<(), MediaError> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        return Err(MediaError::option(
            "--out",
            format!("{} exists and is not a folder", out.display()),
        ));
    }
    if let Some(input) = input {
        if let (Ok(i), Ok(o)) = (input.canonicalize(), out.canonicalize()) {
            if i.starts_with(&o) {
                return Err(MediaError::option(
                    "--out",
                    format!(
                        "the input {} lies inside {}, which packaging replaces as a whole; choose another --out",
                        input.display(),
                        out.display()
                    ),
                ));
            }
        }
    }
    let mut foreign = Vec::new();
    for entry in std::fs::read_dir(out).map_err(|e| MediaError::io(out, e))? {
        let entry = entry.map_err(|e| MediaError::io(out, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_package_file(&name) {
            foreign.push(name);
        }
    }
    if !foreign.is_empty() {
        foreign.sort();
        let shown = foreign
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let more = if foreign.len() > 3 {
            format!(" and {} more", foreign.len() - 3)
        } else {
            String::new()
        };
        return Err(MediaError::option(
            "--out",
            format!(
                "{} holds files a package does not write ({shown}{more}); packaging replaces the whole folder, so it refuses. Move them or choose a new folder",
                out.display()
            ),
        ));
    }
    Ok(())
}

/// Creates a fresh `.NAME.partial` folder beside `out` (deleting a stale one).
pub(super) fn partial_dir(out: &Path) -> Result<PathBuf, MediaError> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| MediaError::io(&parent, e))?;
    let name = out.file_name().unwrap_or_default().to_string_lossy();
    let work = parent.join(format!(".{name}.partial"));
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(|e| MediaError::io(&work, e))?;
    }
    std::fs::create_dir(&work).map_err(|e| MediaError::io(&work, e))?;
    std::path::absolute(&work).map_err(|e| MediaError::io(&work, e))
}

/// Replaces `out` by `work` (renames; the old package, if any, is deleted afterwards).
pub(super) fn move_into_place(work: &Path, out: &Path) -> Result<(), MediaError> {
    let old = work.with_file_name(format!(
        ".{}.old",
        out.file_name().unwrap_or_default().to_string_lossy()
    ));
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| MediaError::io(&old, e))?;
    }
    if out.exists() {
        std::fs::rename(out, &old).map_err(|e| MediaError::io(out, e))?;
    }
    std::fs::rename(work, out).map_err(|e| MediaError::io(out, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| MediaError::io(&old, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_dir_rules() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("pkg");
        check_out_dir(&out, None).unwrap();
        std::fs::create_dir(&out).unwrap();
        check_out_dir(&out, None).unwrap();
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        let e = check_out_dir(&out, None).unwrap_err().to_string();
        assert!(e.contains("(notes.txt)") && e.contains("refuses"), "{e}");
        // A package beside a foreign file is still refused: the file would go with the folder.
        for name in [
            DESCRIPTOR_NAME,
            MPD_NAME,
            "media_0.m3u8",
            "init-0.m4s",
            "chunk-0-00001.m4s",
        ] {
            std::fs::write(out.join(name), "x").unwrap();
        }
        let e = check_out_dir(&out, None).unwrap_err().to_string();
        assert!(e.contains("(notes.txt)"), "{e}");
        std::fs::remove_file(out.join("notes.txt")).unwrap();
        check_out_dir(&out, None).unwrap();
        // An input inside the folder would be deleted with it.
        let input = out.join("clip.mp4");
        std::fs::write(&input, "v").unwrap();
        let e = check_out_dir(&out, Some(&input)).unwrap_err().to_string();
        assert!(e.contains("lies inside"), "{e}");
        std::fs::remove_file(&input).unwrap();
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        // A stale partial folder is replaced; the move swaps in the new content.
        let work = partial_dir(&out).unwrap();
        std::fs::write(work.join("new"), "1").unwrap();
        let again = partial_dir(&out).unwrap();
        assert!(!again.join("new").exists());
        std::fs::write(again.join(MPD_NAME), "x").unwrap();
        move_into_place(&again, &out).unwrap();
        assert!(out.join(MPD_NAME).is_file() && !out.join("notes.txt").exists());
        assert!(!again.exists());
    }
}
