//! Fuzz the key file readers: cosign's encrypted private key (PEM + JSON +
//! scrypt + secretbox) and PEM public keys. No panics.

#![no_main]

use imprimatur::sigstore::{Passphrase, PrivateKey, PublicKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = PublicKey::from_pem(data);
    let _ = PublicKey::from_der(data);
    let _ = PrivateKey::from_pkcs8_der(data);
    // Only a well-formed document with cosign's exact scrypt parameters
    // reaches the (slow) key derivation.
    let _ = PrivateKey::from_encrypted_pem(data, &Passphrase::default());
});
