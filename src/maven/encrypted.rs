//! Passwords encrypted with Maven's master password, decrypted as Maven 3 does
//! (plexus-sec-dispatcher with plexus-cipher's `PBECipher`).
//!
//! A settings.xml password `{BASE64}` is encrypted with the master password, which
//! `settings-security.xml` holds as `<master>{BASE64}</master>`, itself encrypted with the literal
//! passphrase `settings.security`. The base64 payload is an 8-byte salt, one byte giving the length
//! of random padding at the end, then AES-128-CBC ciphertext (PKCS#5 padding). Key and IV are the
//! two halves of SHA-256(passphrase as UTF-8, salt).

use std::path::{Path, PathBuf};

use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine;
use sha2::{Digest, Sha256};

/// The passphrase the master password itself is encrypted with.
const MASTER_PASSPHRASE: &str = "settings.security";
const SALT_SIZE: usize = 8;
/// `<relocation>` may point at another file; a chain longer than this is a loop.
const MAX_RELOCATIONS: usize = 8;

type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// Why an encrypted password could not be decrypted. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error(
        "there is no {} holding Maven's master password (create it with `mvn --encrypt-master-password`, \
         or point JUBE_MAVEN_SETTINGS_SECURITY at it)",
        path.display()
    )]
    NoSecurityFile { path: PathBuf },
    #[error("{} cannot be read: {message}", path.display())]
    Unreadable { path: PathBuf, message: String },
    #[error("{} has no <master> password", path.display())]
    NoMaster { path: PathBuf },
    #[error(
        "the master password in {} does not decrypt (it must be the `{{...}}` value that \
         `mvn --encrypt-master-password` prints)",
        path.display()
    )]
    BadMaster { path: PathBuf },
    #[error(
        "it does not decrypt with the master password of {} (encrypted with another master password, or \
         damaged); encrypt it again with `mvn --encrypt-password`",
        path.display()
    )]
    WrongMaster { path: PathBuf },
    #[error("it is in Maven 4's format (`{{[name=...]...}}`), which jube does not decrypt")]
    Maven4,
}

/// The base64 inside `{...}`, or `None` when `value` is not in braces.
fn undecorate(value: &str) -> Option<&str> {
    value.trim().strip_prefix('{')?.strip_suffix('}')
}

/// Decrypts one `{...}` value (braces included) with `passphrase`; `None` when it does not
/// decrypt to UTF-8 text.
pub fn decrypt_decorated(value: &str, passphrase: &str) -> Option<String> {
    decrypt_payload(undecorate(value)?, passphrase)
}

/// plexus-cipher's `PBECipher.decrypt64`.
fn decrypt_payload(base64_text: &str, passphrase: &str) -> Option<String> {
    let all = base64::engine::general_purpose::STANDARD
        .decode(base64_text.trim())
        .ok()?;
    let salt = all.get(..SALT_SIZE)?;
    let pad = usize::from(*all.get(SALT_SIZE)?);
    let end = all.len().checked_sub(pad)?;
    let ciphertext = all.get(SALT_SIZE + 1..end)?;
    let digest = Sha256::new()
        .chain_update(passphrase.as_bytes())
        .chain_update(salt)
        .finalize();
    let (key, iv) = digest.split_at(16);
    let clear = Aes128CbcDec::new_from_slices(key, iv)
        .ok()?
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .ok()?;
    String::from_utf8(clear).ok()
}

/// Where Maven looks for the master password: `JUBE_MAVEN_SETTINGS_SECURITY` (jube's
/// `-Dsettings.security`), else `~/.m2/settings-security.xml`.
pub fn security_file(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    env(crate::env_vars::EnvVars::JUBE_MAVEN_SETTINGS_SECURITY)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            dirs::home_dir()
                .unwrap_or_else(|| PathBuf::from("."))
                .join(".m2")
                .join("settings-security.xml")
        })
}

#[derive(serde::Deserialize, Default)]
struct SettingsSecurity {
    master: Option<String>,
    relocation: Option<String>,
}

/// The clear master password from `path` (following `<relocation>` as Maven does).
pub fn master_password(path: &Path) -> Result<String, DecryptError> {
    let mut path = path.to_owned();
    for _ in 0..MAX_RELOCATIONS {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DecryptError::NoSecurityFile { path });
            }
            Err(e) => {
                return Err(DecryptError::Unreadable {
                    path,
                    message: e.to_string(),
                });
            }
        };
        let sec: SettingsSecurity = quick_xml::de::from_str(&text).map_err(|e| DecryptError::Unreadable {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if let Some(master) = sec.master.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
            return decrypt_decorated(master, MASTER_PASSPHRASE).ok_or(DecryptError::BadMaster { path });
        }
        match sec.relocation.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            Some(next) => path = PathBuf::from(next),
            None => return Err(DecryptError::NoMaster { path }),
        }
    }
    Err(DecryptError::Unreadable {
        path,
        message: "too many <relocation>s (a loop?)".to_owned(),
    })
}

/// Decrypts a settings.xml `{...}` password with the master password of `security`.
pub fn decrypt_password(value: &str, security: &Path) -> Result<String, DecryptError> {
    if undecorate(value).is_some_and(|inner| inner.starts_with('[')) {
        return Err(DecryptError::Maven4);
    }
    let master = master_password(security)?;
    decrypt_decorated(value, &master).ok_or_else(|| DecryptError::WrongMaster {
        path: security.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by Maven 3.8.7: `mvn --encrypt-master-password SECRET`, then, with that master
    // password in settings-security.xml, `mvn --encrypt-password 'p@ss wörd'`.
    const MASTER: &str = "{6HJ+lQAP2vYHse853w6Bn2gb/PsTfJb0fhglgU/D4jE=}";
    const PASSWORD: &str = "{UH0+SwttX28Hn34jnIPWJZ/nzofJvnxnv3e6XvEiK0U=}";

    fn security_xml(dir: &Path, body: &str) -> PathBuf {
        let path = dir.join("settings-security.xml");
        std::fs::write(&path, format!("<settingsSecurity>{body}</settingsSecurity>")).unwrap();
        path
    }

    #[test]
    fn decrypts_what_maven_encrypted() {
        assert_eq!(
            decrypt_decorated(MASTER, MASTER_PASSPHRASE).as_deref(),
            Some("SECRET")
        );
        assert_eq!(
            decrypt_decorated(PASSWORD, "SECRET").as_deref(),
            Some("p@ss wörd")
        );
        let dir = tempfile::tempdir().unwrap();
        let sec = security_xml(dir.path(), &format!("<master>{MASTER}</master>"));
        assert_eq!(decrypt_password(PASSWORD, &sec).unwrap(), "p@ss wörd");
    }

    #[test]
    fn relocation_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.xml");
        std::fs::write(
            &real,
            format!("<settingsSecurity><master>{MASTER}</master></settingsSecurity>"),
        )
        .unwrap();
        let sec = security_xml(
            dir.path(),
            &format!("<relocation>{}</relocation>", real.display()),
        );
        assert_eq!(decrypt_password(PASSWORD, &sec).unwrap(), "p@ss wörd");
    }

    #[test]
    fn what_does_not_decrypt_is_an_error_that_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.xml");
        assert!(matches!(
            decrypt_password(PASSWORD, &missing),
            Err(DecryptError::NoSecurityFile { .. })
        ));
        // Another master password: AES with the wrong key fails the padding check (or yields
        // bytes that are no text).
        let other = security_xml(
            dir.path(),
            "<master>{ZmFrZW1hc3RlcnBhc3N3b3JkMTIzNDU2Nzg5MA==}</master>",
        );
        assert!(matches!(
            decrypt_password(PASSWORD, &other),
            Err(DecryptError::BadMaster { .. })
        ));
        let sec = security_xml(dir.path(), &format!("<master>{MASTER}</master>"));
        for damaged in [
            "{UH0+SwttX28Hn34jnIPWJZ/nzofJvnxnv3e6XvEiK0X=}",
            "{AAAA}",
            "{!!}",
            "{}",
        ] {
            let e = decrypt_password(damaged, &sec).unwrap_err();
            assert!(matches!(e, DecryptError::WrongMaster { .. }), "{damaged}: {e}");
        }
        assert_eq!(
            decrypt_password("{[name=master,version=4.0]abcd}", &sec),
            Err(DecryptError::Maven4)
        );
        let empty = security_xml(dir.path(), "");
        assert!(matches!(
            decrypt_password(PASSWORD, &empty),
            Err(DecryptError::NoMaster { .. })
        ));
        let e = DecryptError::WrongMaster { path: sec }.to_string();
        assert!(!e.contains("SECRET") && !e.contains("UH0+"), "{e}");
    }
}
