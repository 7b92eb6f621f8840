//! Private keys that sign JWTs (client assertions and the JWT bearer grant):
//! read from PEM (PKCS#8, encrypted PKCS#8, PKCS#1, SEC1) or PKCS#12 (`.pfx`/`.p12`) files, with
//! the certificate's thumbprints for the `x5t` and `x5t#S256` headers.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::error::Error;

/// The property that names the key store in messages.
pub(crate) const KEY_STORE_PROPERTY: &str = "JWTCertStore";

/// The signature algorithm of a JWT signed with a private key (`JWTAlgorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RSA keys; the default for them).
    RS256,
    /// RSASSA-PSS with SHA-256 (RSA keys; what Microsoft Entra documents).
    PS256,
    /// ECDSA on P-256 with SHA-256 (EC keys on P-256; the default for them).
    ES256,
}

impl SigningAlgorithm {
    pub(crate) fn jose(self) -> Algorithm {
        match self {
            Self::RS256 => Algorithm::RS256,
            Self::PS256 => Algorithm::PS256,
            Self::ES256 => Algorithm::ES256,
        }
    }
}

impl FromStr for SigningAlgorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_uppercase().as_str() {
            "RS256" => Ok(Self::RS256),
            "PS256" => Ok(Self::PS256),
            "ES256" => Ok(Self::ES256),
            _ => Err(Error::config(
                "JWTAlgorithm",
                format!(
                    "one of RS256, PS256, ES256, found {:?}",
                    connectkit_core::client::escape_controls(s)
                ),
            )),
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
        })
    }
}

/// How the key's DER is laid out, which decides how jsonwebtoken reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyForm {
    RsaPkcs1,
    RsaPkcs8,
    EcP256Pkcs8,
}

impl KeyForm {
    fn is_rsa(self) -> bool {
        matches!(self, Self::RsaPkcs1 | Self::RsaPkcs8)
    }
}

/// A private key (RSA, or EC on P-256) that signs JWTs, with the
/// thumbprints of its certificate when one came with it.
///
/// The key is a secret: `Debug` shows only its algorithm, where it came
/// from and the certificate thumbprint.
pub struct SigningKey {
    der: SecretBox<Vec<u8>>,
    form: KeyForm,
    algorithm: SigningAlgorithm,
    x5t: Option<String>,
    x5t_s256: Option<String>,
    kid: Option<String>,
    origin: String,
}

impl Clone for SigningKey {
    fn clone(&self) -> Self {
        Self {
            der: SecretBox::new(Box::new(self.der.expose_secret().clone())),
            form: self.form,
            algorithm: self.algorithm,
            x5t: self.x5t.clone(),
            x5t_s256: self.x5t_s256.clone(),
            kid: self.kid.clone(),
            origin: self.origin.clone(),
        }
    }
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl SigningKey {
    /// Reads a key (and its certificate, when the file holds one) from a
    /// PEM file (a PKCS#8 `PRIVATE KEY`, an encrypted PKCS#8 `ENCRYPTED
    /// PRIVATE KEY` opened with `password`, a PKCS#1 `RSA PRIVATE KEY` or a
    /// SEC1 `EC PRIVATE KEY` block, optionally beside a `CERTIFICATE`
    /// block) or a PKCS#12 file (`.pfx`/`.p12`, opened with `password`;
    /// `alias` picks an entry by its friendly name). Errors name the file
    /// and never its contents or the password.
    pub fn from_file(
        path: impl AsRef<Path>,
        password: Option<&SecretString>,
        alias: Option<&str>,
    ) -> Result<Self, Error> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let bytes = std::fs::read(path)
            .map_err(|e| file_error(&shown, &format!("cannot be read ({e})")))?;
        Self::from_bytes(&bytes, &shown, password, alias)
    }

    /// [`from_file`](Self::from_file) for bytes already read; `origin`
    /// names them in messages.
    pub(crate) fn from_bytes(
        bytes: &[u8],
        origin: &str,
        password: Option<&SecretString>,
        alias: Option<&str>,
    ) -> Result<Self, Error> {
        if bytes.starts_with(&[0xFE, 0xED, 0xFE, 0xED]) {
            return Err(file_error(
                origin,
                "is a Java keystore (JKS), which connectkit does not read: convert it to PKCS#12 with `keytool -importkeystore -srckeystore <file> -destkeystore client.pfx -deststoretype PKCS12` and name the .pfx file",
            ));
        }
        let text = std::str::from_utf8(bytes).ok();
        if let Some(text) = text.filter(|t| t.contains("-----BEGIN ")) {
            return Self::from_pem_text(text, origin, password);
        }
        if text.is_some_and(|t| t.trim_start().starts_with('{')) {
            return Err(file_error(
                origin,
                "is JSON, not a key: a service-account key file is read by ServiceAccountKey",
            ));
        }
        Self::from_pkcs12(bytes, origin, password, alias)
    }

    /// Reads a PEM text: a private key (PKCS#8, encrypted PKCS#8 opened
    /// with `password`, PKCS#1 RSA or SEC1 EC), optionally with its
    /// certificate. `origin` names the text in messages (a file, or a JSON field).
    pub(crate) fn from_pem_text(
        text: &str,
        origin: &str,
        password: Option<&SecretString>,
    ) -> Result<Self, Error> {
        if text.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(file_error(origin, LEGACY_ENCRYPTED));
        }
        let (der, form) = if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            let der = decrypt_pkcs8(text, origin, password)?;
            let form = classify_pkcs8(der.expose_secret(), origin)?;
            (der, form)
        } else {
            match PrivateKeyDer::from_pem_slice(text.as_bytes()) {
                Ok(PrivateKeyDer::Pkcs1(k)) => {
                    let der = SecretBox::new(Box::new(k.secret_pkcs1_der().to_vec()));
                    RsaKeyPair::from_der(der.expose_secret()).map_err(|e| {
                        file_error(origin, &format!("holds an RSA key that cannot sign ({e})"))
                    })?;
                    (der, KeyForm::RsaPkcs1)
                }
                Ok(PrivateKeyDer::Pkcs8(k)) => {
                    let der = SecretBox::new(Box::new(k.secret_pkcs8_der().to_vec()));
                    let form = classify_pkcs8(der.expose_secret(), origin)?;
                    (der, form)
                }
                Ok(PrivateKeyDer::Sec1(k)) => {
                    let der = sec1_to_pkcs8(k.secret_sec1_der(), origin)?;
                    let form = classify_pkcs8(der.expose_secret(), origin)?;
                    (der, form)
                }
                Ok(_) => return Err(file_error(origin, "holds a private key of an unknown form")),
                Err(_) => {
                    return Err(file_error(
                        origin,
                        "holds no PEM private key (expected a `BEGIN PRIVATE KEY`, `BEGIN ENCRYPTED PRIVATE KEY`, `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY` block)",
                    ));
                }
            }
        };
        let certificate = CertificateDer::pem_slice_iter(text.as_bytes())
            .next()
            .transpose()
            .map_err(|_| file_error(origin, "holds a CERTIFICATE block that is not valid PEM"))?;
        Self::new(der, form, certificate.as_deref(), origin)
    }

    fn from_pkcs12(
        bytes: &[u8],
        origin: &str,
        password: Option<&SecretString>,
        alias: Option<&str>,
    ) -> Result<Self, Error> {
        let password = password.map(|p| p.expose_secret()).unwrap_or_default();
        let store = p12_keystore::KeyStore::from_pkcs12(
            bytes,
            password,
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .map_err(|e| {
            file_error(
                origin,
                &format!(
                    "is neither PEM nor a PKCS#12 file that opens with {} ({e})",
                    if password.is_empty() {
                        "no JWTCertPassword"
                    } else {
                        "the JWTCertPassword given"
                    }
                ),
            )
        })?;
        let chain = match alias {
            Some(alias) => match store.entry(alias) {
                Some(p12_keystore::KeyStoreEntry::PrivateKeyChain(c)) => c,
                _ => {
                    let aliases: Vec<&str> = store
                        .entries()
                        .filter(|(_, e)| {
                            matches!(e, p12_keystore::KeyStoreEntry::PrivateKeyChain(_))
                        })
                        .map(|(a, _)| a.as_str())
                        .collect();
                    return Err(Error::config(
                        "JWTCertAlias",
                        format!(
                            "a private key entry of {origin}; its private key entries are: {}",
                            if aliases.is_empty() {
                                "none".to_owned()
                            } else {
                                aliases.join(", ")
                            }
                        ),
                    ));
                }
            },
            None => store
                .private_key_chain()
                .map(|(_, c)| c)
                .ok_or_else(|| file_error(origin, "holds no private key"))?,
        };
        let der = SecretBox::new(Box::new(chain.key().as_der().to_vec()));
        let form = classify_pkcs8(der.expose_secret(), origin)?;
        let certificate = chain.certs().first().map(|c| c.as_der().to_vec());
        Self::new(der, form, certificate.as_deref(), origin)
    }

    fn new(
        der: SecretBox<Vec<u8>>,
        form: KeyForm,
        certificate: Option<&[u8]>,
        origin: &str,
    ) -> Result<Self, Error> {
        let (x5t, x5t_s256) = match certificate {
            Some(c) => (
                Some(b64url(
                    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, c).as_ref(),
                )),
                Some(b64url(
                    ring::digest::digest(&ring::digest::SHA256, c).as_ref(),
                )),
            ),
            None => (None, None),
        };
        let key = Self {
            der,
            form,
            algorithm: if form.is_rsa() {
                SigningAlgorithm::RS256
            } else {
                SigningAlgorithm::ES256
            },
            x5t,
            x5t_s256,
            kid: None,
            origin: origin.to_owned(),
        };
        key.probe()?;
        Ok(key)
    }

    /// Signs with `algorithm` (RS256 or PS256 for RSA keys, ES256 for EC
    /// keys); the default is RS256 for RSA and ES256 for EC keys.
    pub fn with_algorithm(mut self, algorithm: SigningAlgorithm) -> Result<Self, Error> {
        let fits = match algorithm {
            SigningAlgorithm::RS256 | SigningAlgorithm::PS256 => self.form.is_rsa(),
            SigningAlgorithm::ES256 => !self.form.is_rsa(),
        };
        if !fits {
            return Err(Error::config(
                "JWTAlgorithm",
                format!(
                    "an algorithm for the {} key in {}: {}",
                    if self.form.is_rsa() { "RSA" } else { "EC" },
                    self.origin,
                    if self.form.is_rsa() {
                        "RS256 or PS256"
                    } else {
                        "ES256"
                    }
                ),
            ));
        }
        self.algorithm = algorithm;
        Ok(self)
    }

    /// The `kid` header of every JWT this key signs.
    pub fn with_key_id(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The algorithm the key signs with.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The base64url SHA-256 thumbprint of the certificate's DER (the
    /// `x5t#S256` header), when a certificate came with the key.
    pub fn x5t_s256(&self) -> Option<&str> {
        self.x5t_s256.as_deref()
    }

    /// The base64url SHA-1 thumbprint of the certificate's DER (the `x5t`
    /// header), when a certificate came with the key.
    pub fn x5t(&self) -> Option<&str> {
        self.x5t.as_deref()
    }

    /// The JOSE header of a JWT this key signs: alg, typ JWT, kid, x5t and x5t#S256.
    pub(crate) fn header(&self) -> jsonwebtoken::Header {
        let mut h = jsonwebtoken::Header::new(self.algorithm.jose());
        h.kid = self.kid.clone();
        h.x5t = self.x5t.clone();
        h.x5t_s256 = self.x5t_s256.clone();
        h
    }

    /// jsonwebtoken's key, made for one signature (the DER stays secret).
    pub(crate) fn encoding_key(&self) -> Result<EncodingKey, Error> {
        let der = self.der.expose_secret();
        match self.form {
            KeyForm::RsaPkcs1 => Ok(EncodingKey::from_rsa_der(der)),
            KeyForm::EcP256Pkcs8 => Ok(EncodingKey::from_ec_der(der)),
            KeyForm::RsaPkcs8 => {
                let pem =
                    SecretString::from(pem::encode(&pem::Pem::new("PRIVATE KEY", der.clone())));
                EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes()).map_err(|e| {
                    file_error(
                        &self.origin,
                        &format!("holds an RSA key jsonwebtoken cannot read ({e})"),
                    )
                })
            }
        }
    }

    /// Signs a test message, so that a key that cannot sign is reported
    /// when the flow is built, naming the file.
    fn probe(&self) -> Result<(), Error> {
        let key = self.encoding_key()?;
        jsonwebtoken::crypto::sign(b"connectkit key check", &key, self.algorithm.jose())
            .map(drop)
            .map_err(|e| {
                file_error(
                    &self.origin,
                    &format!("holds a key that cannot sign with {} ({e})", self.algorithm),
                )
            })
    }
}

/// OpenSSL's legacy PEM encryption (RFC 1421 headers inside a PKCS#1 or
/// SEC1 block), which no maintained Rust crate decrypts; the command turns
/// it into encrypted PKCS#8 (OpenSSL 3 asks for the old pass phrase, then
/// for the new password, and encrypts with PBES2, AES-256-CBC).
const LEGACY_ENCRYPTED: &str = "holds a key in OpenSSL's legacy encrypted PEM form (`Proc-Type: 4,ENCRYPTED`), which connectkit does not read: convert it to encrypted PKCS#8 with `openssl pkcs8 -topk8 -in key.pem -out key-pkcs8.pem` (it asks for the old pass phrase, then for a new password), name the new file in JWTCertStore and give the new password in JWTCertPassword";

/// The DER of an encrypted PKCS#8 key (RFC 5208 section 6), decrypted with
/// `password` (PBES2 with PBKDF2 or scrypt, and AES: what OpenSSL 1.1 and 3 write).
fn decrypt_pkcs8(
    text: &str,
    origin: &str,
    password: Option<&SecretString>,
) -> Result<SecretBox<Vec<u8>>, Error> {
    let block = pem::parse_many(text)
        .ok()
        .and_then(|all| all.into_iter().find(|p| p.tag() == "ENCRYPTED PRIVATE KEY"))
        .ok_or_else(|| {
            file_error(
                origin,
                "holds an ENCRYPTED PRIVATE KEY block that is not valid PEM",
            )
        })?;
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(block.contents()).map_err(|e| {
        match scheme_oid(block.contents()) {
            // pkcs5 refuses schemes it does not know while decoding.
            Some(oid) => unsupported_scheme(origin, &oid.to_string()),
            None => file_error(
                origin,
                &format!("holds an ENCRYPTED PRIVATE KEY block that is not PKCS#8 ({e})"),
            ),
        }
    })?;
    let Some(password) = password else {
        return Err(file_error(
            origin,
            "holds an encrypted PKCS#8 key (`BEGIN ENCRYPTED PRIVATE KEY`): give its password in JWTCertPassword",
        ));
    };
    let doc = info
        .decrypt(password.expose_secret().as_bytes())
        .map_err(|e| match e {
            // A wrong password shows as a bad padding, or as a plaintext
            // that is not DER.
            pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::DecryptFailed)
            | pkcs8::Error::Asn1(_)
            | pkcs8::Error::KeyMalformed(_) => file_error(
                origin,
                "holds an encrypted PKCS#8 key that does not open with the JWTCertPassword given",
            ),
            other => unsupported_scheme(
                origin,
                &format!("{}: {other}", info.encryption_algorithm.oid()),
            ),
        })?;
    Ok(SecretBox::new(Box::new(doc.as_bytes().to_vec())))
}

/// The OID of an `EncryptedPrivateKeyInfo`'s encryption algorithm, read
/// without knowing the algorithm.
fn scheme_oid(der: &[u8]) -> Option<pkcs8::ObjectIdentifier> {
    use pkcs8::der::asn1::OctetStringRef;
    use pkcs8::der::{Decode, Reader, SliceReader};
    let mut reader = SliceReader::new(der).ok()?;
    reader
        .sequence(|r| {
            let algorithm = pkcs8::AlgorithmIdentifierRef::decode(r)?;
            <&OctetStringRef>::decode(r)?;
            Ok::<_, pkcs8::der::Error>(algorithm.oid)
        })
        .ok()
}

/// An encryption scheme other than PBES2 with AES (PKCS#12's 3DES, PBES1,
/// DES): OpenSSL re-encrypts with its default, PBES2 and AES-256-CBC.
fn unsupported_scheme(origin: &str, scheme: &str) -> Error {
    file_error(
        origin,
        &format!(
            "holds a PKCS#8 key encrypted with a scheme connectkit does not read ({scheme}): re-encrypt it with PBES2 and AES by `openssl pkcs8 -topk8 -in key.pem -out key-pkcs8.pem` (it asks for the old password, then for a new one for JWTCertPassword)"
        ),
    )
}

/// `id-ecPublicKey` (RFC 5480), the algorithm of an EC key in PKCS#8.
const EC_PUBLIC_KEY: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `secp256r1` (P-256), the one curve ES256 signs on.
const P256: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// A SEC1 `ECPrivateKey` (RFC 5915) wrapped in PKCS#8 (RFC 5958), the form
/// ring and jsonwebtoken read, with the curve its parameters name (P-256
/// when they name none).
fn sec1_to_pkcs8(sec1_der: &[u8], origin: &str) -> Result<SecretBox<Vec<u8>>, Error> {
    use pkcs8::der::asn1::{AnyRef, OctetStringRef};
    use pkcs8::der::{Decode, Encode};
    let unreadable = |e: pkcs8::der::Error| {
        file_error(
            origin,
            &format!("holds a SEC1 EC key (`BEGIN EC PRIVATE KEY`) that cannot be read ({e})"),
        )
    };
    let key = sec1::EcPrivateKey::from_der(sec1_der).map_err(unreadable)?;
    if key.public_key.is_none() {
        // ring needs it; OpenSSL computes it when it converts the key.
        return Err(file_error(
            origin,
            "holds a SEC1 EC key without its public key: convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem`",
        ));
    }
    let curve = key.parameters.and_then(|p| p.named_curve()).unwrap_or(P256);
    let info = pkcs8::PrivateKeyInfoRef {
        algorithm: pkcs8::AlgorithmIdentifierRef {
            oid: EC_PUBLIC_KEY,
            parameters: Some(AnyRef::from(&curve)),
        },
        private_key: OctetStringRef::new(sec1_der).map_err(unreadable)?,
        public_key: None,
    };
    Ok(SecretBox::new(Box::new(info.to_der().map_err(unreadable)?)))
}

/// RSA or EC P-256, told apart by ring (which also checks the key).
fn classify_pkcs8(der: &[u8], origin: &str) -> Result<KeyForm, Error> {
    if RsaKeyPair::from_pkcs8(der).is_ok() {
        return Ok(KeyForm::RsaPkcs8);
    }
    let rng = ring::rand::SystemRandom::new();
    if EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng).is_ok() {
        return Ok(KeyForm::EcP256Pkcs8);
    }
    Err(file_error(
        origin,
        "holds a private key that is neither RSA (2048 bits or more) nor EC on P-256",
    ))
}

fn file_error(origin: &str, problem: &str) -> Error {
    Error::config(KEY_STORE_PROPERTY, format!("{origin} {problem}"))
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("origin", &self.origin)
            .field("kid", &self.kid)
            .field("x5t#S256", &self.x5t_s256)
            .finish_non_exhaustive()
    }
}
