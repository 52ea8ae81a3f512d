//! Evaluating an image against a policy (§5.5, §3.4), with an explanation
//! of every decision. No I/O: key files are read through a caller-supplied
//! [`KeyLoader`] (once per [`Evaluator`], then cached).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use imprimatur_signature::{
    Clock, ErrorChain, Fingerprint, KeyError, ManifestError, Payload, PayloadError, StoredFormat,
    SubkeyAttribution, SystemClock, TrustedKeys, Verifier, classify_stored_blob, digest_matches,
};
use serde_json::{Value, json};

use crate::identity::identity_matches;
use crate::key_loader::{KeyFileError, KeyLoader};
use crate::model::{
    IdentityMatch, KeySource, KeyType, Policy, Requirement, SignedBy, SigstoreKeySource,
    SigstoreSigned, SigstoreTrust,
};
use crate::scope::PolicyImage;
use imprimatur_sigstore::{PublicKey as SigstorePublicKey, SigstorePayload, SigstoreSignature};

/// Why the keys of a `signedBy` requirement could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeysError {
    /// The [`KeyLoader`] could not read a key file: the path and the I/O
    /// error (`open /x: no such file or directory`, as containers/image
    /// words it, when printed as a chain).
    #[error(transparent)]
    Load(#[from] KeyFileError),
    /// Key data could not be used (too large).
    #[error("key data")]
    KeyData(#[source] KeyError),
    /// Every key source was read, and none held a public key.
    #[error("No public keys imported")]
    NoKeys,
    /// A `sigstoreSigned` public key is not a PEM ECDSA P-256 key.
    #[error("parsing public key")]
    SigstoreKey(#[source] imprimatur_sigstore::KeyError),
}

/// An image to evaluate: who it is, its manifest and its signature blobs
/// (as stored: binary OpenPGP, or the tagged `\0format\n` form).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Image<'a> {
    /// Transport, identity and scopes.
    pub target: PolicyImage,
    /// The (instance) manifest bytes, if they could be read.
    pub manifest: Option<&'a [u8]>,
    /// Signature blobs in storage order (`signature-1`, …).
    pub signatures: Vec<&'a [u8]>,
}

impl<'a> Image<'a> {
    /// An image with its manifest and signatures.
    pub fn new(
        target: PolicyImage,
        manifest: Option<&'a [u8]>,
        signatures: Vec<&'a [u8]>,
    ) -> Image<'a> {
        Image {
            target,
            manifest,
            signatures,
        }
    }
}

/// Why one signature was not accepted by one requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The requirement is `reject`.
    RejectedByPolicy {
        /// `transport:reference`.
        image: String,
    },
    /// `keyType` other than `GPGKeys`.
    UnimplementedKeyType(String),
    /// The keys could not be loaded (missing file, no keys in it, …).
    Keys(KeysError),
    /// The blob is not a valid signature, or the crypto check failed
    /// (unknown key, corrupt, expired, revoked, …).
    Crypto(imprimatur_signature::VerifyError),
    /// Signed by a key that this requirement does not trust.
    KeyNotAccepted {
        /// The key that signed.
        signer: Fingerprint,
        /// Its primary key.
        primary: Fingerprint,
    },
    /// The signed payload is not a valid simple-signing payload.
    Payload(PayloadError),
    /// The image has no manifest to compare the signed digest with.
    ManifestMissing,
    /// The manifest digest can't be computed.
    ManifestDigest(ManifestError),
    /// The signed digest is not the manifest's.
    DigestMismatch {
        /// Digest in the signature.
        signed: String,
    },
    /// The signed identity is not accepted by `signedIdentity`.
    IdentityMismatch {
        /// `docker-reference` in the signature.
        signed: String,
        /// The image's own docker identity, if any.
        image: Option<String>,
        /// The rule, rendered.
        rule: String,
    },
    /// A sigstore signature failed its cryptographic checks: no or a
    /// malformed signature annotation, or not signed by a trusted key over
    /// this payload.
    SigstoreCrypto(imprimatur_sigstore::VerifyError),
    /// A sigstore signature's payload is not a valid cosign payload.
    SigstorePayload(imprimatur_sigstore::PayloadError),
    /// The `sigstoreSigned` requirement needs what can't be verified
    /// offline here (`fulcio`, `pki`, `rekorPublicKey*`): never accepted.
    NotVerifiableOffline(String),
    /// A requirement type that never accepts this kind of signature.
    NotApplicable(String),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::RejectedByPolicy { image } => {
                write!(
                    f,
                    "Any signatures for image {image} are rejected by policy."
                )
            }
            Rejection::UnimplementedKeyType(t) => {
                write!(f, "Unimplemented \"keyType\" value {t:?}")
            }
            Rejection::Keys(e) => write!(f, "{}", ErrorChain(e)),
            Rejection::Crypto(e) => write!(f, "{}", ErrorChain(e)),
            Rejection::KeyNotAccepted { signer, primary } => {
                if signer == primary {
                    write!(f, "Signature by key {signer} is not accepted")
                } else {
                    write!(
                        f,
                        "Signature by key {signer} (subkey of {primary}) is not accepted"
                    )
                }
            }
            Rejection::Payload(e) => write!(f, "invalid signature payload: {}", ErrorChain(e)),
            Rejection::ManifestMissing => {
                f.write_str("error computing manifest digest: the image manifest is not available")
            }
            Rejection::ManifestDigest(e) => {
                write!(f, "error computing manifest digest: {}", ErrorChain(e))
            }
            Rejection::DigestMismatch { signed } => {
                write!(f, "Signature for digest {signed} does not match")
            }
            Rejection::IdentityMismatch {
                signed,
                image,
                rule,
            } => write!(
                f,
                "Signature for identity {signed} is not accepted (image identity {}, rule {rule})",
                image
                    .as_deref()
                    .unwrap_or("<none: the transport has no docker identity>")
            ),
            Rejection::SigstoreCrypto(e) => write!(f, "{}", ErrorChain(e)),
            Rejection::SigstorePayload(e) => {
                write!(f, "invalid signature payload: {}", ErrorChain(e))
            }
            Rejection::NotVerifiableOffline(m) => {
                write!(f, "{m}: not verifiable offline, never accepted")
            }
            Rejection::NotApplicable(m) => write!(f, "{m}"),
        }
    }
}

/// The verdict on one signature under one requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureVerdict {
    /// Accepted: the author is trusted and digest and identity match.
    Accepted {
        /// The key that signed.
        signer: Fingerprint,
        /// The signed `docker-reference`.
        identity: String,
        /// The signed digest.
        digest: String,
    },
    /// A sigstore signature accepted: trusted key, digest and identity match.
    AcceptedSigstore {
        /// The key that verified it ([`imprimatur_sigstore::PublicKey::key_id`]).
        key: String,
        /// The signed `docker-reference`.
        identity: String,
        /// The signed digest.
        digest: String,
    },
    /// Rejected, with the reason.
    Rejected(Rejection),
    /// The requirement neither accepts nor rejects signatures
    /// (`insecureAcceptAnything`, `signedBaseLayer`).
    Unknown,
}

/// One signature's outcome under one requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignatureOutcome {
    /// 1-based position in the image's signature list.
    pub index: usize,
    /// The verdict.
    pub verdict: SignatureVerdict,
}

/// One requirement's outcome.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RequirementOutcome {
    /// The requirement.
    pub requirement: Requirement,
    /// Whether it allows the image.
    pub allowed: bool,
    /// The reason, in the reference implementation's words.
    pub message: String,
    /// Per-signature verdicts (for signature-based requirements).
    pub signatures: Vec<SignatureOutcome>,
}

/// The decision on an image with its explanation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Decision {
    /// Allowed (every requirement allows).
    pub allowed: bool,
    /// `transport:reference`.
    pub image: String,
    /// The chosen scope (`default` or `transports.<t>["<scope>"]`).
    pub scope: String,
    /// Every requirement of the chosen list, in order (all are evaluated,
    /// although the first denial decides).
    pub requirements: Vec<RequirementOutcome>,
    /// The reason of the first denial (the message skopeo prints).
    pub reason: Option<String>,
}

impl Decision {
    /// The decision as JSON (for `--json` output).
    pub fn to_json(&self) -> Value {
        json!({
            "allowed": self.allowed,
            "image": self.image,
            "scope": self.scope,
            "reason": self.reason,
            "requirements": self.requirements.iter().map(|r| json!({
                "type": requirement_type(&r.requirement),
                "requirement": describe_requirement(&r.requirement),
                "allowed": r.allowed,
                "message": r.message,
                "signatures": r.signatures.iter().map(|s| match &s.verdict {
                    SignatureVerdict::Accepted { signer, identity, digest } => json!({
                        "index": s.index, "verdict": "accepted", "signer": signer.as_str(),
                        "identity": identity, "digest": digest,
                    }),
                    SignatureVerdict::Rejected(why) => json!({
                        "index": s.index, "verdict": "rejected", "reason": why.to_string(),
                    }),
                    SignatureVerdict::AcceptedSigstore { key, identity, digest } => json!({
                        "index": s.index, "verdict": "accepted", "key": key,
                        "identity": identity, "digest": digest,
                    }),
                    SignatureVerdict::Unknown => json!({"index": s.index, "verdict": "unknown"}),
                }).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {}",
            self.image,
            if self.allowed { "allowed" } else { "denied" }
        )?;
        if let Some(r) = &self.reason {
            writeln!(f, "  reason: {r}")?;
        }
        writeln!(f, "  scope: {}", self.scope)?;
        for (i, r) in self.requirements.iter().enumerate() {
            writeln!(
                f,
                "  requirement {}: {} -> {}: {}",
                i + 1,
                describe_requirement(&r.requirement),
                if r.allowed { "allows" } else { "denies" },
                r.message
            )?;
            for s in &r.signatures {
                match &s.verdict {
                    SignatureVerdict::Accepted {
                        signer,
                        identity,
                        digest,
                    } => writeln!(
                        f,
                        "    signature {}: accepted (key {signer}, identity {identity}, digest {digest})",
                        s.index
                    )?,
                    SignatureVerdict::AcceptedSigstore {
                        key,
                        identity,
                        digest,
                    } => writeln!(
                        f,
                        "    signature {}: accepted (sigstore key {key}, identity {identity}, digest {digest})",
                        s.index
                    )?,
                    SignatureVerdict::Rejected(why) => {
                        writeln!(f, "    signature {}: rejected: {why}", s.index)?
                    }
                    SignatureVerdict::Unknown => {
                        writeln!(f, "    signature {}: no opinion", s.index)?
                    }
                }
            }
        }
        Ok(())
    }
}

fn requirement_type(r: &Requirement) -> &'static str {
    match r {
        Requirement::InsecureAcceptAnything => "insecureAcceptAnything",
        Requirement::Reject => "reject",
        Requirement::SignedBy(_) => "signedBy",
        Requirement::SignedBaseLayer { .. } => "signedBaseLayer",
        Requirement::SigstoreSigned(_) => "sigstoreSigned",
    }
}

/// A one-line description of an identity rule.
pub fn describe_identity(id: &IdentityMatch) -> String {
    match id {
        IdentityMatch::ExactReference(r) => format!("exactReference {r}"),
        IdentityMatch::ExactRepository(r) => format!("exactRepository {r}"),
        IdentityMatch::RemapIdentity {
            prefix,
            signed_prefix,
        } => {
            format!("remapIdentity {prefix} -> {signed_prefix}")
        }
        other => other.type_name().to_owned(),
    }
}

/// A one-line description of a requirement.
pub fn describe_requirement(r: &Requirement) -> String {
    match r {
        Requirement::SignedBy(sb) => {
            let keys = match &sb.keys {
                KeySource::Path(p) => format!("keyPath {p}"),
                KeySource::Paths(ps) => format!("keyPaths [{}]", ps.join(", ")),
                KeySource::Data(d) => format!("keyData ({} bytes)", d.len()),
            };
            format!(
                "signedBy {} {keys}, signedIdentity {}",
                sb.key_type.as_str(),
                describe_identity(sb.identity())
            )
        }
        Requirement::SignedBaseLayer {
            base_layer_identity,
        } => {
            format!("signedBaseLayer {}", describe_identity(base_layer_identity))
        }
        Requirement::SigstoreSigned(ss) => {
            let keys = match ss.trust() {
                SigstoreTrust::Keys(SigstoreKeySource::Path(p)) => format!("keyPath {p}"),
                SigstoreTrust::Keys(SigstoreKeySource::Paths(ps)) => {
                    format!("keyPaths [{}]", ps.join(", "))
                }
                SigstoreTrust::Keys(SigstoreKeySource::Data(d)) => {
                    format!("keyData ({} bytes)", d.len())
                }
                SigstoreTrust::Keys(SigstoreKeySource::Datas(ds)) => {
                    format!("keyDatas ({} keys)", ds.len())
                }
                SigstoreTrust::Unverifiable(m) => m,
            };
            format!(
                "sigstoreSigned {keys}, signedIdentity {}",
                describe_identity(ss.identity())
            )
        }
        other => requirement_type(other).to_owned(),
    }
}

/// A signature kept by [`Evaluator::accepted_signatures`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AcceptedSignature {
    /// 1-based position in the image's signature list.
    pub index: usize,
    /// The verified payload.
    pub payload: Payload,
    /// The key that signed.
    pub signer: Fingerprint,
}

type LoadedKeys = Result<Arc<TrustedKeys>, KeysError>;
type LoadedSigstoreKeys = Result<Arc<Vec<SigstorePublicKey>>, KeysError>;

/// Evaluates images against one policy. Keys are loaded on first use and
/// cached for the evaluator's lifetime, so evaluating many images does not
/// re-read or re-parse key files. `Sync`: share it between threads.
pub struct Evaluator<L: KeyLoader> {
    policy: Policy,
    loader: L,
    cache: Mutex<HashMap<KeySource, LoadedKeys>>,
    sigstore_cache: Mutex<HashMap<SigstoreKeySource, LoadedSigstoreKeys>>,
    loads: Mutex<usize>,
    attribution: SubkeyAttribution,
    clock: Arc<dyn Clock>,
}

impl<L: KeyLoader> fmt::Debug for Evaluator<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Evaluator")
            .field("policy", &self.policy)
            .field("attribution", &self.attribution)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// Evaluates one image (a fresh evaluator: no cache shared with other calls).
pub fn evaluate<L: KeyLoader>(policy: &Policy, image: &Image<'_>, loader: L) -> Decision {
    Evaluator::new(policy.clone(), loader).evaluate(image)
}

/// The signatures of an image as the evaluation sees them.
struct Classified<'a> {
    simple: Vec<(usize, &'a [u8])>,
    /// Sigstore signatures (simple-signing MIME type), parsed.
    sigstore: Vec<(usize, SigstoreSignature)>,
    /// Sigstore attachments of other MIME types.
    sigstore_other: usize,
    error: Option<String>,
}

fn classify<'a>(sigs: &[&'a [u8]]) -> Classified<'a> {
    let mut out = Classified {
        simple: Vec::new(),
        sigstore: Vec::new(),
        sigstore_other: 0,
        error: None,
    };
    for (i, blob) in sigs.iter().enumerate() {
        match classify_stored_blob(blob) {
            Ok(StoredFormat::SimpleSigning) => out.simple.push((i + 1, blob)),
            Ok(StoredFormat::Tagged { format_id, payload }) => match format_id {
                "simple-signing" => out.simple.push((i + 1, payload)),
                "sigstore-json" => match SigstoreSignature::from_blob(blob) {
                    Ok(s) if s.is_signature() => out.sigstore.push((i + 1, s)),
                    Ok(_) => out.sigstore_other += 1,
                    Err(e) => out.error = Some(format!("signature-{}: {e}", i + 1)),
                },
                other => {
                    out.error = Some(format!(
                        "signature-{}: unsupported signature format {other:?}",
                        i + 1
                    ));
                }
            },
            Ok(_) => out.error = Some(format!("signature-{}: unsupported signature format", i + 1)),
            Err(e) => out.error = Some(format!("signature-{}: {e}", i + 1)),
        }
        if out.error.is_some() {
            break;
        }
    }
    out
}

impl<L: KeyLoader> Evaluator<L> {
    /// An evaluator for `policy`, reading key files through `loader`.
    /// Subkey signatures are attributed to their primary key (newer
    /// containers/image); the clock is [`SystemClock`] (see
    /// [`clock`](Self::clock)).
    pub fn new(policy: Policy, loader: L) -> Evaluator<L> {
        Evaluator {
            policy,
            loader,
            cache: Mutex::new(HashMap::new()),
            sigstore_cache: Mutex::new(HashMap::new()),
            loads: Mutex::new(0),
            attribution: SubkeyAttribution::Primary,
            clock: Arc::new(SystemClock),
        }
    }

    /// Subkey attribution: [`SubkeyAttribution::Strict`] behaves like
    /// skopeo 1.9.3 (a subkey signature is not accepted for its primary key).
    pub fn subkey_attribution(mut self, mode: SubkeyAttribution) -> Self {
        self.attribution = mode;
        self
    }

    /// Evaluates at a fixed time (key validity, signature expiry).
    pub fn reference_time(self, t: SystemTime) -> Self {
        self.clock(t)
    }

    /// The clock asked for the time of each signature check (key validity,
    /// signature expiry); a fixed `SystemTime` is a clock too.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// How many key sources were loaded so far (each at most once).
    pub fn key_loads(&self) -> usize {
        self.loads.lock().map(|g| *g).unwrap_or(0)
    }

    fn keys(&self, source: &KeySource) -> LoadedKeys {
        if let Ok(cache) = self.cache.lock()
            && let Some(k) = cache.get(source)
        {
            return k.clone();
        }
        let loaded = self.load_keys(source);
        if let Ok(mut n) = self.loads.lock() {
            *n += 1;
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(source.clone(), loaded.clone());
        }
        loaded
    }

    fn load_keys(&self, source: &KeySource) -> LoadedKeys {
        let mut keys = TrustedKeys::new();
        let mut add = |bytes: &[u8]| {
            keys.add_bytes(bytes)
                .map(|_| ())
                .map_err(KeysError::KeyData)
        };
        let load = |path: &String| self.loader.load(path).map_err(KeysError::Load);
        match source {
            KeySource::Path(p) => add(&load(p)?)?,
            KeySource::Paths(ps) => {
                for p in ps {
                    add(&load(p)?)?;
                }
            }
            KeySource::Data(d) => add(d)?,
        }
        if keys.is_empty() {
            return Err(KeysError::NoKeys);
        }
        Ok(Arc::new(keys))
    }

    /// Is the image allowed? All requirements of the selected scope must
    /// allow; the explanation covers every requirement and signature.
    pub fn evaluate(&self, image: &Image<'_>) -> Decision {
        let choice = self.policy.select(&image.target);
        let sigs = classify(&image.signatures);
        let mut outcomes = Vec::new();
        let mut reason = None;
        if choice.requirements.is_empty() {
            reason = Some("List of verification policy requirements must not be empty".to_owned());
        }
        for req in choice.requirements {
            let outcome = self.requirement_outcome(req, image, &sigs);
            if !outcome.allowed && reason.is_none() {
                reason = Some(outcome.message.clone());
            }
            outcomes.push(outcome);
        }
        Decision {
            allowed: reason.is_none(),
            image: image.target.display_name(),
            scope: choice.describe(),
            requirements: outcomes,
            reason,
        }
    }

    fn requirement_outcome(
        &self,
        req: &Requirement,
        image: &Image<'_>,
        sigs: &Classified<'_>,
    ) -> RequirementOutcome {
        let mk = |allowed: bool, message: String, signatures: Vec<SignatureOutcome>| {
            RequirementOutcome {
                requirement: req.clone(),
                allowed,
                message,
                signatures,
            }
        };
        match req {
            Requirement::InsecureAcceptAnything => {
                mk(true, "accepts anything".to_owned(), Vec::new())
            }
            Requirement::Reject => mk(
                false,
                format!(
                    "Running image {} is rejected by policy.",
                    image.target.display_name()
                ),
                Vec::new(),
            ),
            Requirement::SignedBaseLayer { .. } => mk(
                false,
                "signedBaseLayer not implemented yet!".to_owned(),
                Vec::new(),
            ),
            Requirement::SigstoreSigned(ss) => {
                if let Some(e) = &sigs.error {
                    return mk(false, format!("error reading signatures: {e}"), Vec::new());
                }
                if sigs.sigstore.is_empty() {
                    let message = if sigs.simple.is_empty() && sigs.sigstore_other == 0 {
                        "A signature was required, but no signature exists".to_owned()
                    } else {
                        format!(
                            "A signature was required, but no signature exists ({} non-sigstore signatures, {} sigstore non-signature attachments)",
                            sigs.simple.len(),
                            sigs.sigstore_other
                        )
                    };
                    return mk(false, message, Vec::new());
                }
                let outcomes: Vec<SignatureOutcome> = sigs
                    .sigstore
                    .iter()
                    .map(|(index, sig)| SignatureOutcome {
                        index: *index,
                        verdict: match self.sigstore_check(ss, image, sig) {
                            Ok((key, payload)) => SignatureVerdict::AcceptedSigstore {
                                key,
                                identity: payload.docker_reference,
                                digest: payload.docker_manifest_digest,
                            },
                            Err(r) => SignatureVerdict::Rejected(r),
                        },
                    })
                    .collect();
                let (allowed, message) = summarize(&outcomes);
                mk(allowed, message, outcomes)
            }
            Requirement::SignedBy(sb) => {
                if let Some(e) = &sigs.error {
                    return mk(false, format!("error reading signatures: {e}"), Vec::new());
                }
                if sigs.simple.is_empty() {
                    return mk(
                        false,
                        "A signature was required, but no signature exists".to_owned(),
                        Vec::new(),
                    );
                }
                let outcomes: Vec<SignatureOutcome> = sigs
                    .simple
                    .iter()
                    .map(|(index, blob)| SignatureOutcome {
                        index: *index,
                        verdict: self.signed_by_verdict(sb, image, blob),
                    })
                    .collect();
                let rejections: Vec<String> = outcomes
                    .iter()
                    .filter_map(|o| match &o.verdict {
                        SignatureVerdict::Rejected(r) => Some(r.to_string()),
                        _ => None,
                    })
                    .collect();
                let accepted = outcomes
                    .iter()
                    .find(|o| matches!(o.verdict, SignatureVerdict::Accepted { .. }));
                match accepted {
                    Some(o) => mk(true, format!("signature {} accepted", o.index), outcomes),
                    None if rejections.len() == 1 => mk(false, rejections[0].clone(), outcomes),
                    None => mk(
                        false,
                        format!(
                            "None of the signatures were accepted, reasons: {}",
                            rejections.join("; ")
                        ),
                        outcomes,
                    ),
                }
            }
        }
    }

    /// §3.4 for one simple-signing blob (already unwrapped from storage format).
    fn signed_by_verdict(&self, sb: &SignedBy, image: &Image<'_>, blob: &[u8]) -> SignatureVerdict {
        match self.signed_by_check(sb, image, blob) {
            Ok((signer, payload)) => SignatureVerdict::Accepted {
                signer,
                identity: payload.docker_reference,
                digest: payload.docker_manifest_digest,
            },
            Err(r) => SignatureVerdict::Rejected(r),
        }
    }

    fn signed_by_check(
        &self,
        sb: &SignedBy,
        image: &Image<'_>,
        blob: &[u8],
    ) -> Result<(Fingerprint, Payload), Rejection> {
        if sb.key_type != KeyType::GpgKeys {
            return Err(Rejection::UnimplementedKeyType(
                sb.key_type.as_str().to_owned(),
            ));
        }
        let keys = self.keys(&sb.keys).map_err(Rejection::Keys)?;
        let verifier = Verifier::new(&keys)
            .subkey_attribution(self.attribution)
            .allow_armor(false)
            .reference_time(self.clock.now());
        // 1. crypto
        let v = verifier.verify(blob).map_err(Rejection::Crypto)?;
        // 2. key identity
        if !v.is_accepted(keys.primary_fingerprints(), self.attribution) {
            return Err(Rejection::KeyNotAccepted {
                signer: v.signer,
                primary: v.primary,
            });
        }
        // 3. strict payload
        let payload = Payload::parse(&v.payload).map_err(Rejection::Payload)?;
        // 4. digest
        let Some(manifest) = image.manifest else {
            return Err(Rejection::ManifestMissing);
        };
        match digest_matches(manifest, &payload.docker_manifest_digest) {
            Err(e) => return Err(Rejection::ManifestDigest(e)),
            Ok(false) => {
                return Err(Rejection::DigestMismatch {
                    signed: payload.docker_manifest_digest,
                });
            }
            Ok(true) => {}
        }
        // 5. identity
        let rule = sb.identity();
        if !identity_matches(
            rule,
            image.target.docker_reference.as_ref(),
            &payload.docker_reference,
        ) {
            return Err(Rejection::IdentityMismatch {
                signed: payload.docker_reference,
                image: image
                    .target
                    .docker_reference
                    .as_ref()
                    .map(ToString::to_string),
                rule: describe_identity(rule),
            });
        }
        Ok((v.signer, payload))
    }

    fn sigstore_keys(&self, source: &SigstoreKeySource) -> LoadedSigstoreKeys {
        if let Ok(cache) = self.sigstore_cache.lock()
            && let Some(k) = cache.get(source)
        {
            return k.clone();
        }
        let loaded = self.load_sigstore_keys(source);
        if let Ok(mut n) = self.loads.lock() {
            *n += 1;
        }
        if let Ok(mut cache) = self.sigstore_cache.lock() {
            cache.insert(source.clone(), loaded.clone());
        }
        loaded
    }

    fn load_sigstore_keys(&self, source: &SigstoreKeySource) -> LoadedSigstoreKeys {
        let parse =
            |bytes: &[u8]| SigstorePublicKey::from_pem(bytes).map_err(KeysError::SigstoreKey);
        let load = |path: &String| self.loader.load(path).map_err(KeysError::Load);
        let keys = match source {
            SigstoreKeySource::Path(p) => vec![parse(&load(p)?)?],
            SigstoreKeySource::Paths(ps) => ps
                .iter()
                .map(|p| parse(&load(p)?))
                .collect::<Result<Vec<_>, _>>()?,
            SigstoreKeySource::Data(d) => vec![parse(d)?],
            SigstoreKeySource::Datas(ds) => {
                ds.iter().map(|d| parse(d)).collect::<Result<Vec<_>, _>>()?
            }
        };
        if keys.is_empty() {
            return Err(KeysError::NoKeys);
        }
        Ok(Arc::new(keys))
    }

    /// containers/image's `prSigstoreSigned.isSignatureAccepted` for one
    /// sigstore signature: keys, signature annotation, ECDSA over the
    /// payload, strict payload, digest, identity.
    fn sigstore_check(
        &self,
        ss: &SigstoreSigned,
        image: &Image<'_>,
        sig: &SigstoreSignature,
    ) -> Result<(String, SigstorePayload), Rejection> {
        let source = match ss.trust() {
            SigstoreTrust::Keys(source) => source,
            SigstoreTrust::Unverifiable(m) => return Err(Rejection::NotVerifiableOffline(m)),
        };
        let keys = self.sigstore_keys(&source).map_err(Rejection::Keys)?;
        let verified = imprimatur_sigstore::verify(&keys, sig).map_err(|e| match e {
            imprimatur_sigstore::VerifyError::Payload(p) => Rejection::SigstorePayload(p),
            other => Rejection::SigstoreCrypto(other),
        })?;
        let payload = verified.payload;
        let Some(manifest) = image.manifest else {
            return Err(Rejection::ManifestMissing);
        };
        match digest_matches(manifest, &payload.docker_manifest_digest) {
            Err(e) => return Err(Rejection::ManifestDigest(e)),
            Ok(false) => {
                return Err(Rejection::DigestMismatch {
                    signed: payload.docker_manifest_digest,
                });
            }
            Ok(true) => {}
        }
        let rule = ss.identity();
        if !identity_matches(
            rule,
            image.target.docker_reference.as_ref(),
            &payload.docker_reference,
        ) {
            return Err(Rejection::IdentityMismatch {
                signed: payload.docker_reference,
                image: image
                    .target
                    .docker_reference
                    .as_ref()
                    .map(ToString::to_string),
                rule: describe_identity(rule),
            });
        }
        let key = keys
            .get(verified.key_index)
            .map(SigstorePublicKey::key_id)
            .unwrap_or_default();
        Ok((key, payload))
    }

    /// The "signatures with an accepted author" query: a signature is kept
    /// if no requirement rejects it and at least one accepts it.
    pub fn accepted_signatures(&self, image: &Image<'_>) -> Vec<AcceptedSignature> {
        let choice = self.policy.select(&image.target);
        let sigs = classify(&image.signatures);
        if sigs.error.is_some() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (index, blob) in &sigs.simple {
            let mut rejected = false;
            let mut accepted: Option<(Fingerprint, Payload)> = None;
            for req in choice.requirements {
                match req {
                    Requirement::InsecureAcceptAnything | Requirement::SignedBaseLayer { .. } => {}
                    Requirement::Reject | Requirement::SigstoreSigned(_) => rejected = true,
                    Requirement::SignedBy(sb) => match self.signed_by_check(sb, image, blob) {
                        // All accepting requirements must agree on the contents
                        // (they verify the same blob, so they do).
                        Ok(found) => {
                            accepted.get_or_insert(found);
                        }
                        Err(_) => rejected = true,
                    },
                }
                if rejected {
                    break;
                }
            }
            if rejected {
                continue;
            }
            if let Some((signer, payload)) = accepted {
                out.push(AcceptedSignature {
                    index: *index,
                    payload,
                    signer,
                });
            }
        }
        out
    }
}

/// A signature requirement's outcome from its per-signature verdicts: the
/// first accepted signature allows; one rejection is the reason; several
/// are listed (containers/image's wording).
fn summarize(outcomes: &[SignatureOutcome]) -> (bool, String) {
    if let Some(o) = outcomes.iter().find(|o| {
        matches!(
            o.verdict,
            SignatureVerdict::Accepted { .. } | SignatureVerdict::AcceptedSigstore { .. }
        )
    }) {
        return (true, format!("signature {} accepted", o.index));
    }
    let rejections: Vec<String> = outcomes
        .iter()
        .filter_map(|o| match &o.verdict {
            SignatureVerdict::Rejected(r) => Some(r.to_string()),
            _ => None,
        })
        .collect();
    match rejections.as_slice() {
        [one] => (false, one.clone()),
        _ => (
            false,
            format!(
                "None of the signatures were accepted, reasons: {}",
                rejections.join("; ")
            ),
        ),
    }
}
