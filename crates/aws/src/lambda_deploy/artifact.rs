//! The function's code as Lambda takes it: a zip holding an executable `bootstrap` for the
//! `provided.al2023` runtime. Its architecture is read from the ELF header, so the function is
//! declared as what was built, and its SHA-256 is Lambda's `CodeSha256`, so an unchanged build
//! is not uploaded again.

use std::io::{Cursor, Read};
use std::path::Path;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::AwsError;

/// Lambda's limit for a zip sent in the request (larger ones go through S3, which deploy does
/// not do).
pub const MAX_DIRECT_UPLOAD_BYTES: usize = 50 * 1024 * 1024;

/// The instruction set of `bootstrap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    X86_64,
    Arm64,
}

impl Architecture {
    /// The name Lambda uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }

    pub(crate) fn to_lambda(self) -> aws_sdk_lambda::types::Architecture {
        aws_sdk_lambda::types::Architecture::from(self.as_str())
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A checked deployment package.
#[derive(Clone)]
pub struct Artifact {
    pub bytes: Vec<u8>,
    /// Base64 of the zip's SHA-256, as Lambda reports `CodeSha256`.
    pub sha256: String,
    pub architecture: Architecture,
}

impl std::fmt::Debug for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifact")
            .field("size", &self.bytes.len())
            .field("sha256", &self.sha256)
            .field("architecture", &self.architecture)
            .finish()
    }
}

impl Artifact {
    pub fn read(path: &Path) -> Result<Self, AwsError> {
        let bytes = std::fs::read(path)
            .map_err(|e| AwsError::Invalid(format!("cannot read {}: {e}", path.display())))?;
        Self::from_zip(bytes)
            .map_err(|reason| AwsError::Invalid(format!("{}: {reason}", path.display())))
    }

    /// Checks `bytes` is a package Lambda can run; the reason when it is not.
    pub fn from_zip(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() > MAX_DIRECT_UPLOAD_BYTES {
            return Err(format!(
                "{} bytes is over Lambda's {MAX_DIRECT_UPLOAD_BYTES}-byte limit for a direct upload",
                bytes.len()
            ));
        }
        let architecture = bootstrap_architecture(&bytes)?;
        let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes));
        Ok(Self {
            bytes,
            sha256,
            architecture,
        })
    }

    pub fn size(&self) -> usize {
        self.bytes.len()
    }
}

/// The architecture of the zip's `bootstrap`, checked to be a program Lambda can start.
fn bootstrap_architecture(zip: &[u8]) -> Result<Architecture, String> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(zip)).map_err(|e| format!("not a zip archive ({e})"))?;
    let mut bootstrap = archive.by_name("bootstrap").map_err(|_| {
        "the zip holds no `bootstrap` at its top level, which provided.al2023 runs".to_owned()
    })?;
    // Lambda runs the file as it is unpacked: without an execute bit it cannot start.
    if let Some(mode) = bootstrap.unix_mode() {
        if mode & 0o111 == 0 {
            return Err(format!(
                "`bootstrap` is not executable in the zip (mode {mode:o}); Lambda could not start it"
            ));
        }
    }
    let mut header = [0_u8; 20];
    bootstrap
        .read_exact(&mut header)
        .map_err(|_| "`bootstrap` is too short to be a program".to_owned())?;
    elf_architecture(&header)
}

/// The machine of a 64-bit little-endian ELF executable, from the first 20 bytes of its header.
fn elf_architecture(header: &[u8; 20]) -> Result<Architecture, String> {
    const MAGIC: [u8; 4] = [0x7f, b'E', b'L', b'F'];
    const CLASS_64: u8 = 2;
    const LITTLE_ENDIAN: u8 = 1;
    const MACHINE_X86_64: u16 = 62;
    const MACHINE_AARCH64: u16 = 183;
    if header[..4] != MAGIC {
        return Err("`bootstrap` is not an ELF executable (Lambda's Linux runs only those)".into());
    }
    if header[4] != CLASS_64 || header[5] != LITTLE_ENDIAN {
        return Err("`bootstrap` is not a 64-bit little-endian ELF (x86_64 or arm64)".into());
    }
    match u16::from_le_bytes([header[18], header[19]]) {
        MACHINE_X86_64 => Ok(Architecture::X86_64),
        MACHINE_AARCH64 => Ok(Architecture::Arm64),
        other => Err(format!(
            "`bootstrap` is built for ELF machine {other}; Lambda runs x86_64 (62) or arm64 (183)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(name: &str, mode: u32, content: &[u8]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(mode);
        writer.start_file(name, options).unwrap();
        writer.write_all(content).unwrap();
        writer.finish().unwrap();
        out.into_inner()
    }

    fn elf(machine: u16) -> Vec<u8> {
        let mut header = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        header.resize(18, 0);
        header.extend_from_slice(&machine.to_le_bytes());
        header.resize(64, 0);
        header
    }

    #[test]
    fn this_test_binary_is_read_as_the_machine_it_runs_on() {
        let mut own = vec![0; 64];
        std::fs::File::open("/proc/self/exe")
            .unwrap()
            .read_exact(&mut own)
            .unwrap();
        let artifact = Artifact::from_zip(zip_of("bootstrap", 0o755, &own)).unwrap();
        let expected = match std::env::consts::ARCH {
            "x86_64" => Architecture::X86_64,
            "aarch64" => Architecture::Arm64,
            other => panic!("tests run on x86_64 or aarch64, not {other}"),
        };
        assert_eq!(artifact.architecture, expected);
    }

    #[test]
    fn the_hash_is_lambdas_code_sha256_of_the_whole_zip() {
        let bytes = zip_of("bootstrap", 0o755, &elf(183));
        let artifact = Artifact::from_zip(bytes.clone()).unwrap();
        assert_eq!(artifact.architecture, Architecture::Arm64);
        assert_eq!(
            artifact.sha256,
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes))
        );
        assert_eq!(artifact.size(), bytes.len());
    }

    #[test]
    fn packages_lambda_could_not_run_are_refused_with_the_reason() {
        let cases: [(Vec<u8>, &str); 5] = [
            (b"not a zip".to_vec(), "not a zip archive"),
            (zip_of("main", 0o755, &elf(62)), "no `bootstrap`"),
            (zip_of("bootstrap", 0o644, &elf(62)), "not executable"),
            (
                zip_of("bootstrap", 0o755, b"#!/bin/sh\necho hello from a script\n"),
                "not an ELF",
            ),
            (zip_of("bootstrap", 0o755, &elf(40)), "ELF machine 40"),
        ];
        for (bytes, reason) in cases {
            let error = Artifact::from_zip(bytes).unwrap_err();
            assert!(error.contains(reason), "{error} should say {reason}");
        }
    }
}
