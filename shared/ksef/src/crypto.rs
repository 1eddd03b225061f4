//! KSeF's encryption: RSA-OAEP (SHA-256, MGF1-SHA-256, no label) for the token and the
//! session key, AES-256-CBC with PKCS#7 for the invoices (IV not prepended), SHA-256 in base64
//! for the hashes.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Oaep, RsaPublicKey};
use sha2::{Digest, Sha256};
use x509_cert::der::{Decode, Encode};

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn unb64(s: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(s.trim())
        .map_err(|e| format!("not base64: {e}"))
}

/// `b64(sha256(bytes))`, KSeF's hash form.
pub fn sha256_b64(bytes: &[u8]) -> String {
    b64(&Sha256::digest(bytes))
}

/// The RSA public key of a DER X.509 certificate, and the DER of its SPKI.
pub fn public_key_of(cert_der: &[u8]) -> Result<(RsaPublicKey, Vec<u8>), String> {
    let cert = x509_cert::Certificate::from_der(cert_der)
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| format!("the certificate's public key: {e}"))?;
    let key = RsaPublicKey::from_public_key_der(&spki)
        .map_err(|e| format!("not an RSA public key: {e}"))?;
    Ok((key, spki))
}

pub fn rsa_oaep(key: &RsaPublicKey, plain: &[u8]) -> Result<Vec<u8>, String> {
    key.encrypt(&mut rand::thread_rng(), Oaep::new::<Sha256>(), plain)
        .map_err(|e| format!("RSA-OAEP encryption failed: {e}"))
}

pub fn aes_encrypt(key: &[u8; 32], iv: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<aes::Aes256>::new(key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plain)
}

pub fn aes_decrypt(key: &[u8; 32], iv: &[u8; 16], cipher: &[u8]) -> Result<Vec<u8>, String> {
    cbc::Decryptor::<aes::Aes256>::new(key.into(), iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(cipher)
        .map_err(|_| "AES-256-CBC: wrong key, IV or padding".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_round_trip_pads_to_the_next_block() {
        let (key, iv) = ([7u8; 32], [9u8; 16]);
        let plain = vec![b'x'; 6480];
        let c = aes_encrypt(&key, &iv, &plain);
        // The OpenAPI example: 6480 B of XML → 6496 B encrypted (IV not prepended).
        assert_eq!(c.len(), 6496);
        assert_eq!(aes_decrypt(&key, &iv, &c).unwrap(), plain);
        assert!(
            aes_decrypt(&[8u8; 32], &iv, &c).is_err()
                || aes_decrypt(&[8u8; 32], &iv, &c).unwrap() != plain
        );
    }
}
