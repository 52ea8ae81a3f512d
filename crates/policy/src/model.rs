//! The `policy.json` model, its strict parser and its canonical writer.

use std::collections::BTreeMap;

use base64::Engine as _;
use imprimatur_reference::Reference;

use crate::error::{Error, PolicyRule};
use imprimatur_signature::json::{self, Value as JValue};

/// A whole `policy.json` (containers-policy.json(5)).
///
/// Scopes and transports are kept in sorted maps, so the written file is
/// stable. Transports this crate does not know are kept as they are.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Policy {
    /// The global default requirement list (`default`).
    pub default: Vec<Requirement>,
    /// `transports`: transport name → scope → requirement list (empty when
    /// the file has no `transports` key).
    pub transports: BTreeMap<String, BTreeMap<String, Vec<Requirement>>>,
}

/// One policy requirement.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Requirement {
    /// `insecureAcceptAnything`: allows every image.
    InsecureAcceptAnything,
    /// `reject`: denies every image.
    Reject,
    /// `signedBy`: a simple-signing signature by one of the keys is required.
    SignedBy(SignedBy),
    /// `signedBaseLayer` (parsed; denies at evaluation, like the reference).
    SignedBaseLayer {
        /// `baseLayerIdentity`.
        base_layer_identity: IdentityMatch,
    },
    /// `sigstoreSigned` (parsed and kept; evaluated as "no sigstore
    /// signature present", since this crate reads simple signatures only).
    SigstoreSigned(SigstoreSigned),
}

/// The `signedBy` requirement.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SignedBy {
    /// `keyType`.
    pub key_type: KeyType,
    /// Exactly one of `keyPath`, `keyPaths`, `keyData`.
    pub keys: KeySource,
    /// `signedIdentity`; `None` means absent (= `matchRepoDigestOrExact`).
    pub signed_identity: Option<IdentityMatch>,
}

impl SignedBy {
    /// A `GPGKeys` requirement with the given keys and identity rule.
    pub fn gpg(keys: KeySource, signed_identity: Option<IdentityMatch>) -> SignedBy {
        SignedBy {
            key_type: KeyType::GpgKeys,
            keys,
            signed_identity,
        }
    }

    /// The identity rule in force (absent = `matchRepoDigestOrExact`).
    pub fn identity(&self) -> &IdentityMatch {
        self.signed_identity
            .as_ref()
            .unwrap_or(&IdentityMatch::MatchRepoDigestOrExact)
    }
}

/// `keyType` of `signedBy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// `GPGKeys`: the only type that works at evaluation.
    GpgKeys,
    /// `signedByGPGKeys` (parsed, unimplemented at evaluation).
    SignedByGpgKeys,
    /// `X509Certificates` (parsed, unimplemented at evaluation).
    X509Certificates,
    /// `signedByX509CAs` (parsed, unimplemented at evaluation).
    SignedByX509Cas,
}

impl KeyType {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::GpgKeys => "GPGKeys",
            KeyType::SignedByGpgKeys => "signedByGPGKeys",
            KeyType::X509Certificates => "X509Certificates",
            KeyType::SignedByX509Cas => "signedByX509CAs",
        }
    }

    fn parse(s: &str) -> Option<KeyType> {
        Some(match s {
            "GPGKeys" => KeyType::GpgKeys,
            "signedByGPGKeys" => KeyType::SignedByGpgKeys,
            "X509Certificates" => KeyType::X509Certificates,
            "signedByX509CAs" => KeyType::SignedByX509Cas,
            _ => return None,
        })
    }
}

/// Where the keys of a `signedBy` requirement come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeySource {
    /// `keyPath`: one keyring file.
    Path(String),
    /// `keyPaths`: several keyring files; a signature by any of their keys is accepted.
    Paths(Vec<String>),
    /// `keyData`: keyring bytes inline (base64 in the file).
    Data(Vec<u8>),
}

/// A reference match rule (`signedIdentity`, `baseLayerIdentity`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdentityMatch {
    /// `matchExact`.
    MatchExact,
    /// `matchRepoDigestOrExact` (the default).
    MatchRepoDigestOrExact,
    /// `matchRepository`.
    MatchRepository,
    /// `exactReference` with `dockerReference` (kept as written).
    ExactReference(String),
    /// `exactRepository` with `dockerRepository` (kept as written).
    ExactRepository(String),
    /// `remapIdentity`.
    RemapIdentity {
        /// `prefix`.
        prefix: String,
        /// `signedPrefix`.
        signed_prefix: String,
    },
}

impl IdentityMatch {
    /// The JSON `type` value.
    pub fn type_name(&self) -> &'static str {
        match self {
            IdentityMatch::MatchExact => "matchExact",
            IdentityMatch::MatchRepoDigestOrExact => "matchRepoDigestOrExact",
            IdentityMatch::MatchRepository => "matchRepository",
            IdentityMatch::ExactReference(_) => "exactReference",
            IdentityMatch::ExactRepository(_) => "exactRepository",
            IdentityMatch::RemapIdentity { .. } => "remapIdentity",
        }
    }

    /// `exactReference`, validated like the reference does at load (must
    /// parse and carry a tag or digest).
    pub fn exact_reference(docker_reference: &str) -> Result<IdentityMatch, PolicyRule> {
        validate_exact_reference(docker_reference)?;
        Ok(IdentityMatch::ExactReference(docker_reference.to_owned()))
    }

    /// `exactRepository`, validated (must parse).
    pub fn exact_repository(docker_repository: &str) -> Result<IdentityMatch, PolicyRule> {
        validate_exact_repository(docker_repository)?;
        Ok(IdentityMatch::ExactRepository(docker_repository.to_owned()))
    }

    /// `remapIdentity`, with both prefixes validated (§3.3).
    pub fn remap_identity(prefix: &str, signed_prefix: &str) -> Result<IdentityMatch, PolicyRule> {
        if !is_valid_remap_prefix(prefix) {
            return Err(PolicyRule::InvalidPrefix(prefix.to_owned()));
        }
        if !is_valid_remap_prefix(signed_prefix) {
            return Err(PolicyRule::InvalidSignedPrefix(signed_prefix.to_owned()));
        }
        Ok(IdentityMatch::RemapIdentity {
            prefix: prefix.to_owned(),
            signed_prefix: signed_prefix.to_owned(),
        })
    }
}

/// The `sigstoreSigned` requirement, kept field by field (newer key options
/// included: `keyPaths`, `keyDatas`, `fulcio`, `pki`, `rekorPublicKey*`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SigstoreSigned {
    /// All members except `type` and `signedIdentity`, in document order,
    /// as JSON values.
    pub fields: Vec<(String, serde_json::Value)>,
    /// `signedIdentity`, if present.
    pub signed_identity: Option<IdentityMatch>,
}

/// Where the public keys of a `sigstoreSigned` requirement come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigstoreKeySource {
    /// `keyPath`: one PEM public key file.
    Path(String),
    /// `keyPaths` (containers/image ≥ 5.33): several files; any key verifies.
    Paths(Vec<String>),
    /// `keyData`: PEM bytes inline (base64 in the file).
    Data(Vec<u8>),
    /// `keyDatas` (containers/image ≥ 5.33): several inline keys.
    Datas(Vec<Vec<u8>>),
}

/// What a `sigstoreSigned` requirement trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigstoreTrust {
    /// Public keys, verifiable offline.
    Keys(SigstoreKeySource),
    /// Something this crate cannot verify offline (`fulcio`, `pki`, or a
    /// `rekorPublicKey*` requirement): named, never accepted.
    Unverifiable(String),
}

/// Options of `sigstoreSigned` that containers/image 5.23.1 (skopeo 1.9.3)
/// knows; any other option makes it refuse the whole policy file.
pub const SIGSTORE_OPTIONS_5_23: &[&str] = &["keyPath", "keyData", "signedIdentity"];

impl SigstoreSigned {
    /// A requirement with one key file (`keyPath`, which containers/image
    /// 5.23.1 loads) and an optional identity rule.
    pub fn with_key_path(path: &str, signed_identity: Option<IdentityMatch>) -> SigstoreSigned {
        SigstoreSigned {
            fields: vec![(
                "keyPath".to_owned(),
                serde_json::Value::String(path.to_owned()),
            )],
            signed_identity,
        }
    }

    /// A requirement with several key files: `keyPath` for one (loadable
    /// by containers/image 5.23.1), `keyPaths` (≥ 5.33) for more.
    pub fn with_key_paths(
        paths: &[String],
        signed_identity: Option<IdentityMatch>,
    ) -> SigstoreSigned {
        match paths {
            [one] => SigstoreSigned::with_key_path(one, signed_identity),
            _ => SigstoreSigned {
                fields: vec![(
                    "keyPaths".to_owned(),
                    serde_json::Value::Array(
                        paths
                            .iter()
                            .map(|p| serde_json::Value::String(p.clone()))
                            .collect(),
                    ),
                )],
                signed_identity,
            },
        }
    }

    /// `signedIdentity`, or the default `matchRepoDigestOrExact`.
    pub fn identity(&self) -> &IdentityMatch {
        self.signed_identity
            .as_ref()
            .unwrap_or(&IdentityMatch::MatchRepoDigestOrExact)
    }

    fn field(&self, key: &str) -> Option<&serde_json::Value> {
        self.fields
            .iter()
            .find(|(k, v)| k == key && !v.is_null())
            .map(|(_, v)| v)
    }

    /// What the requirement trusts. The parser guarantees exactly one key
    /// source; `rekorPublicKey*` (a transparency log requirement) and
    /// `fulcio`/`pki` make the requirement unverifiable offline.
    pub fn trust(&self) -> SigstoreTrust {
        use base64::Engine as _;
        let b64 = |v: &serde_json::Value| {
            v.as_str()
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .unwrap_or_default()
        };
        fn strings(v: &serde_json::Value) -> Vec<&serde_json::Value> {
            v.as_array().map(|a| a.iter().collect()).unwrap_or_default()
        }
        for unverifiable in ["fulcio", "pki"] {
            if self.field(unverifiable).is_some() {
                return SigstoreTrust::Unverifiable(format!(
                    "{unverifiable} certificates can't be verified offline here (no Fulcio/PKI support)"
                ));
            }
        }
        if let Some(k) = [
            "rekorPublicKeyPath",
            "rekorPublicKeyPaths",
            "rekorPublicKeyData",
            "rekorPublicKeyDatas",
        ]
        .into_iter()
        .find(|k| self.field(k).is_some())
        {
            return SigstoreTrust::Unverifiable(format!(
                "{k}: Rekor transparency log proofs are not verified here (offline, key-based sigstore only)"
            ));
        }
        if let Some(v) = self.field("keyPath") {
            return SigstoreTrust::Keys(SigstoreKeySource::Path(
                v.as_str().unwrap_or_default().to_owned(),
            ));
        }
        if let Some(v) = self.field("keyPaths") {
            return SigstoreTrust::Keys(SigstoreKeySource::Paths(
                strings(v)
                    .into_iter()
                    .map(|p| p.as_str().unwrap_or_default().to_owned())
                    .collect(),
            ));
        }
        if let Some(v) = self.field("keyData") {
            return SigstoreTrust::Keys(SigstoreKeySource::Data(b64(v)));
        }
        if let Some(v) = self.field("keyDatas") {
            return SigstoreTrust::Keys(SigstoreKeySource::Datas(
                strings(v).into_iter().map(b64).collect(),
            ));
        }
        SigstoreTrust::Unverifiable("no key source".to_owned())
    }

    /// The options present that containers/image 5.23.1 (skopeo 1.9.3)
    /// does not know: with any of them it refuses the whole policy file.
    pub fn options_newer_than_5_23(&self) -> Vec<&str> {
        self.fields
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !SIGSTORE_OPTIONS_5_23.contains(k))
            .collect()
    }
}

const SIGSTORE_KEY_SOURCES: &[&str] = &[
    "keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki",
];
const SIGSTORE_KEYS: &[&str] = &[
    "type",
    "keyPath",
    "keyPaths",
    "keyData",
    "keyDatas",
    "fulcio",
    "pki",
    "rekorPublicKeyPath",
    "rekorPublicKeyPaths",
    "rekorPublicKeyData",
    "rekorPublicKeyDatas",
    "signedIdentity",
];

/// Largest `policy.json` accepted by [`Policy::from_json`] (the reference
/// has no limit; real files are a few KiB).
pub const MAX_POLICY_BYTES: usize = 4 * 1024 * 1024;

/// Transports whose scopes this crate validates; all others are kept
/// unvalidated, as the reference does for transports it does not know.
pub const KNOWN_TRANSPORTS: &[&str] = &[
    "docker",
    "atomic",
    "dir",
    "oci",
    "oci-archive",
    "sif",
    "docker-daemon",
    "docker-archive",
    "tarball",
    "containers-storage",
];

/// Validates a non-empty scope for a transport (§5.3). Unknown transports
/// accept everything. `""` is always valid.
pub fn validate_scope(transport: &str, scope: &str) -> Result<(), String> {
    if scope.is_empty() {
        return Ok(());
    }
    match transport {
        "docker" | "containers-storage" => Ok(()),
        "atomic" => {
            if atomic_scope_ok(scope) {
                Ok(())
            } else {
                Err("invalid atomic scope syntax".to_owned())
            }
        }
        "dir" | "oci" | "oci-archive" | "sif" => validate_path_scope(scope),
        "docker-daemon" => {
            if imprimatur_reference::Digest::parse(scope).is_ok() {
                Err(format!(
                    "can not use algo:digest value {scope} as a namespace"
                ))
            } else {
                Ok(())
            }
        }
        "docker-archive" | "tarball" => Err(format!(
            "{transport}: does not support any scopes except the default \"\" one"
        )),
        _ => Ok(()),
    }
}

fn validate_path_scope(scope: &str) -> Result<(), String> {
    if !scope.starts_with('/') {
        return Err(format!("Invalid scope {scope}: Must be an absolute path"));
    }
    if scope == "/" {
        return Err("Invalid scope /: Use the generic default scope \"\"".to_owned());
    }
    let clean = scope.len() > 1
        && !scope.ends_with('/')
        && scope[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if !clean {
        return Err(format!("Invalid scope {scope}: Uses non-canonical format"));
    }
    Ok(())
}

/// `^[^/]*(/[^:/]*(/[^:/]*(:[^:/]*)?)?)?$`
fn atomic_scope_ok(scope: &str) -> bool {
    let mut parts = scope.splitn(3, '/');
    let _host = parts.next();
    let Some(ns) = parts.next() else { return true };
    if ns.contains(':') {
        return false;
    }
    let Some(rest) = parts.next() else {
        return true;
    };
    if rest.contains('/') {
        return false;
    }
    rest.matches(':').count() <= 1
}

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// One domain component: `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
fn is_domain_component(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// The reference domain grammar: components separated by `.`, optional
/// `:port` (digits), or a bracketed IPv6 literal with optional port.
pub(crate) fn is_domain(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return false;
        };
        let ip_ok = !ip.is_empty()
            && ip
                .bytes()
                .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.');
        let port_ok = after.is_empty()
            || after
                .strip_prefix(':')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
        return ip_ok && port_ok;
    }
    let (host, port) = match s.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()))
    {
        return false;
    }
    !host.is_empty() && host.split('.').all(is_domain_component)
}

/// One path component: `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
pub(crate) fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !is_alnum_lower(b[0]) || !is_alnum_lower(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum_lower(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let start = i;
        while i < b.len() && !is_alnum_lower(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `remapIdentity` prefix validation (§3.3).
pub fn is_valid_remap_prefix(s: &str) -> bool {
    if is_domain(s) {
        return true;
    }
    match s.split_once('/') {
        Some((domain, path)) => is_domain(domain) && path.split('/').all(is_path_component),
        None => false,
    }
}

fn validate_exact_reference(v: &str) -> Result<(), PolicyRule> {
    match Reference::parse_normalized(v) {
        Err(e) => Err(PolicyRule::InvalidDockerReference {
            value: v.to_owned(),
            reason: e.to_string(),
        }),
        Ok(r) if r.is_name_only() => Err(PolicyRule::ReferenceNameOnly(v.to_owned())),
        Ok(_) => Ok(()),
    }
}

fn validate_exact_repository(v: &str) -> Result<(), PolicyRule> {
    Reference::parse_normalized(v)
        .map(|_| ())
        .map_err(|e| PolicyRule::InvalidDockerRepository {
            value: v.to_owned(),
            reason: e.to_string(),
        })
}

// ---------------------------------------------------------------------------
// Parsing

struct Ctx<'f> {
    file: &'f str,
}

impl Ctx<'_> {
    fn err(&self, path: &str, rule: PolicyRule) -> Error {
        Error::InvalidPolicy {
            file: self.file.to_owned(),
            path: path.to_owned(),
            rule,
        }
    }

    fn wrong_type(&self, path: &str, expected: &'static str, found: &JValue) -> Error {
        self.err(
            path,
            PolicyRule::WrongType {
                expected,
                found: found.type_name(),
            },
        )
    }

    /// The "paranoid" object walk: rejects non-objects, duplicate keys and
    /// keys not in `allowed`, in document order.
    fn object<'v>(
        &self,
        path: &str,
        v: &'v JValue,
        allowed: &[&str],
    ) -> Result<Vec<(&'v str, &'v JValue)>, Error> {
        let JValue::Object(members) = v else {
            return Err(self.wrong_type(path, "an object", v));
        };
        let mut out: Vec<(&str, &JValue)> = Vec::with_capacity(members.len());
        for (k, val) in members {
            if out.iter().any(|(seen, _)| *seen == k.as_str()) {
                return Err(self.err(path, PolicyRule::DuplicateKey(k.clone())));
            }
            if !allowed.contains(&k.as_str()) {
                return Err(self.err(path, PolicyRule::UnknownKey(k.clone())));
            }
            out.push((k.as_str(), val));
        }
        Ok(out)
    }

    fn string<'v>(&self, path: &str, v: &'v JValue) -> Result<&'v str, Error> {
        match v {
            JValue::String(s) => Ok(s),
            other => Err(self.wrong_type(path, "a string", other)),
        }
    }
}

fn get<'v>(fields: &[(&str, &'v JValue)], key: &str) -> Option<&'v JValue> {
    fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// `.key` or `["key"]` appended to a JSON path.
pub(crate) fn child(path: &str, key: &str) -> String {
    let simple = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !key.as_bytes()[0].is_ascii_digit();
    if simple {
        format!("{path}.{key}")
    } else {
        let mut s = String::from(path);
        s.push('[');
        json::write_string(&mut s, key);
        s.push(']');
        s
    }
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

impl Policy {
    /// A policy with only a global default.
    pub fn with_default(default: Vec<Requirement>) -> Policy {
        Policy {
            default,
            transports: BTreeMap::new(),
        }
    }

    /// Parses `policy.json` bytes as strictly as the reference implementation.
    /// `file` is used in error messages only.
    pub fn from_json(bytes: &[u8], file: &str) -> Result<Policy, Error> {
        let ctx = Ctx { file };
        let root = json::parse_with(bytes, &json::Limits::default().max_bytes(MAX_POLICY_BYTES))
            .map_err(|e| ctx.err("$", PolicyRule::Syntax(e)))?;
        let fields = ctx.object("$", &root, &["default", "transports"])?;
        let mut policy = Policy::default();
        let mut have_default = false;
        for (k, v) in fields {
            match k {
                "default" => {
                    policy.default = parse_requirements(&ctx, "$.default", v)?;
                    have_default = true;
                }
                _ => policy.transports = parse_transports(&ctx, "$.transports", v)?,
            }
        }
        if !have_default {
            return Err(ctx.err("$", PolicyRule::DefaultMissing));
        }
        Ok(policy)
    }

    /// The canonical file text: sorted transports and scopes, 4-space
    /// indentation, trailing newline.
    pub fn to_json(&self) -> String {
        let mut root = vec![(
            "default".to_owned(),
            JValue::Array(self.default.iter().map(requirement_to_json).collect()),
        )];
        if !self.transports.is_empty() {
            let transports = self
                .transports
                .iter()
                .map(|(t, scopes)| {
                    let scopes = scopes
                        .iter()
                        .map(|(s, reqs)| {
                            (
                                s.clone(),
                                JValue::Array(reqs.iter().map(requirement_to_json).collect()),
                            )
                        })
                        .collect();
                    (t.clone(), JValue::Object(scopes))
                })
                .collect();
            root.push(("transports".to_owned(), JValue::Object(transports)));
        }
        json::to_pretty(&JValue::Object(root))
    }

    /// The requirement list of one scope, if present.
    pub fn scope(&self, transport: &str, scope: &str) -> Option<&Vec<Requirement>> {
        self.transports.get(transport).and_then(|m| m.get(scope))
    }

    /// Sets (replaces) one scope's requirement list; `scope` must be valid
    /// for the transport.
    pub fn set_scope(
        &mut self,
        transport: &str,
        scope: &str,
        requirements: Vec<Requirement>,
    ) -> Result<(), Error> {
        if let Err(reason) = validate_scope(transport, scope) {
            return Err(Error::InvalidPolicy {
                file: "<builder>".to_owned(),
                path: child(&child("$.transports", transport), scope),
                rule: PolicyRule::InvalidScope {
                    scope: scope.to_owned(),
                    reason,
                },
            });
        }
        if requirements.is_empty() {
            return Err(Error::InvalidPolicy {
                file: "<builder>".to_owned(),
                path: child(&child("$.transports", transport), scope),
                rule: PolicyRule::EmptyRequirements,
            });
        }
        self.transports
            .entry(transport.to_owned())
            .or_default()
            .insert(scope.to_owned(), requirements);
        Ok(())
    }

    /// Removes one scope; drops the transport when it becomes empty.
    pub fn remove_scope(&mut self, transport: &str, scope: &str) -> Option<Vec<Requirement>> {
        let scopes = self.transports.get_mut(transport)?;
        let removed = scopes.remove(scope);
        if scopes.is_empty() {
            self.transports.remove(transport);
        }
        removed
    }
}

fn parse_transports(
    ctx: &Ctx<'_>,
    path: &str,
    v: &JValue,
) -> Result<BTreeMap<String, BTreeMap<String, Vec<Requirement>>>, Error> {
    let JValue::Object(members) = v else {
        return Err(ctx.wrong_type(path, "an object", v));
    };
    let mut out = BTreeMap::new();
    for (transport, scopes_v) in members {
        if out.contains_key(transport) {
            return Err(ctx.err(path, PolicyRule::DuplicateKey(transport.clone())));
        }
        let tpath = child(path, transport);
        let JValue::Object(scopes) = scopes_v else {
            return Err(ctx.wrong_type(&tpath, "an object", scopes_v));
        };
        let mut scope_map = BTreeMap::new();
        for (scope, reqs) in scopes {
            if scope_map.contains_key(scope) {
                return Err(ctx.err(&tpath, PolicyRule::DuplicateKey(scope.clone())));
            }
            if let Err(reason) = validate_scope(transport, scope) {
                return Err(ctx.err(
                    &tpath,
                    PolicyRule::InvalidScope {
                        scope: scope.clone(),
                        reason,
                    },
                ));
            }
            let list = parse_requirements(ctx, &child(&tpath, scope), reqs)?;
            scope_map.insert(scope.clone(), list);
        }
        out.insert(transport.clone(), scope_map);
    }
    Ok(out)
}

fn parse_requirements(ctx: &Ctx<'_>, path: &str, v: &JValue) -> Result<Vec<Requirement>, Error> {
    let items = match v {
        JValue::Null => return Err(ctx.err(path, PolicyRule::EmptyRequirements)),
        JValue::Array(items) => items,
        other => return Err(ctx.wrong_type(path, "an array", other)),
    };
    if items.is_empty() {
        return Err(ctx.err(path, PolicyRule::EmptyRequirements));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_requirement(ctx, &index(path, i), item))
        .collect()
}

/// The `type` member as Go's lenient first pass sees it (case-insensitive
/// key match; last match wins; non-strings count as "").
fn lenient_type(v: &JValue) -> Option<String> {
    let JValue::Object(members) = v else {
        return None;
    };
    let mut found = String::new();
    for (k, val) in members {
        if k.eq_ignore_ascii_case("type")
            && let JValue::String(s) = val
        {
            found = s.clone();
        }
    }
    Some(found)
}

fn parse_requirement(ctx: &Ctx<'_>, path: &str, v: &JValue) -> Result<Requirement, Error> {
    let Some(ty) = lenient_type(v) else {
        return Err(ctx.wrong_type(path, "an object", v));
    };
    match ty.as_str() {
        "insecureAcceptAnything" => {
            ctx.object(path, v, &["type"])?;
            Ok(Requirement::InsecureAcceptAnything)
        }
        "reject" => {
            ctx.object(path, v, &["type"])?;
            Ok(Requirement::Reject)
        }
        "signedBy" => parse_signed_by(ctx, path, v).map(Requirement::SignedBy),
        "signedBaseLayer" => {
            let f = ctx.object(path, v, &["type", "baseLayerIdentity"])?;
            check_type_value(ctx, path, &f, "signedBaseLayer")?;
            let Some(id) = get(&f, "baseLayerIdentity") else {
                return Err(ctx.err(path, PolicyRule::MissingKey("baseLayerIdentity".to_owned())));
            };
            let base_layer_identity = parse_identity(ctx, &child(path, "baseLayerIdentity"), id)?;
            Ok(Requirement::SignedBaseLayer {
                base_layer_identity,
            })
        }
        "sigstoreSigned" => parse_sigstore(ctx, path, v).map(Requirement::SigstoreSigned),
        other => Err(ctx.err(path, PolicyRule::UnknownRequirementType(other.to_owned()))),
    }
}

fn check_type_value(
    ctx: &Ctx<'_>,
    path: &str,
    f: &[(&str, &JValue)],
    want: &str,
) -> Result<(), Error> {
    match get(f, "type") {
        Some(JValue::String(s)) if s == want => Ok(()),
        Some(JValue::String(s)) => {
            Err(ctx.err(path, PolicyRule::UnknownRequirementType(s.clone())))
        }
        Some(other) => Err(ctx.wrong_type(&child(path, "type"), "a string", other)),
        None => Err(ctx.err(path, PolicyRule::MissingKey("type".to_owned()))),
    }
}

fn parse_string_array(ctx: &Ctx<'_>, path: &str, v: &JValue) -> Result<Vec<String>, Error> {
    let JValue::Array(items) = v else {
        return Err(ctx.wrong_type(path, "an array of strings", v));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, s)| ctx.string(&index(path, i), s).map(str::to_owned))
        .collect()
}

fn decode_base64(ctx: &Ctx<'_>, path: &str, s: &str) -> Result<Vec<u8>, Error> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| {
            let at = match e {
                base64::DecodeError::InvalidByte(i, _) => i,
                base64::DecodeError::InvalidLastSymbol(i, _) => i,
                base64::DecodeError::InvalidLength(n) => n,
                base64::DecodeError::InvalidPadding => s.len(),
            };
            ctx.err(path, PolicyRule::IllegalBase64(at))
        })
}

fn parse_signed_by(ctx: &Ctx<'_>, path: &str, v: &JValue) -> Result<SignedBy, Error> {
    let f = ctx.object(
        path,
        v,
        &[
            "type",
            "keyType",
            "keyPath",
            "keyPaths",
            "keyData",
            "signedIdentity",
        ],
    )?;
    check_type_value(ctx, path, &f, "signedBy")?;
    // Values are decoded in document order, like the reference.
    let mut key_type: Option<KeyType> = None;
    let mut key_type_raw = String::new();
    let mut key_path: Option<String> = None;
    let mut key_paths: Option<Option<Vec<String>>> = None;
    let mut key_data: Option<Option<Vec<u8>>> = None;
    let mut identity: Option<IdentityMatch> = None;
    for (k, val) in &f {
        let p = child(path, k);
        match *k {
            "keyType" => {
                let s = ctx.string(&p, val)?;
                key_type_raw = s.to_owned();
                key_type =
                    Some(KeyType::parse(s).ok_or_else(|| {
                        ctx.err(&p, PolicyRule::UnrecognizedKeyType(s.to_owned()))
                    })?);
            }
            "keyPath" => key_path = Some(ctx.string(&p, val)?.to_owned()),
            "keyPaths" => {
                key_paths = Some(match val {
                    JValue::Null => None,
                    other => Some(parse_string_array(ctx, &p, other)?),
                })
            }
            "keyData" => {
                key_data = Some(match val {
                    JValue::Null => None,
                    other => Some(decode_base64(ctx, &p, ctx.string(&p, other)?)?),
                })
            }
            "signedIdentity" => identity = Some(parse_identity(ctx, &p, val)?),
            _ => {}
        }
    }
    let present = usize::from(key_path.is_some())
        + usize::from(key_paths.is_some())
        + usize::from(key_data.is_some());
    if present > 1 {
        return Err(ctx.err(path, PolicyRule::KeySourcesMoreThanOne));
    }
    if present == 0 {
        return Err(ctx.err(path, PolicyRule::KeySourcesNone));
    }
    let Some(key_type) = key_type else {
        return Err(ctx.err(path, PolicyRule::InvalidKeyType(key_type_raw)));
    };
    let keys = match (key_path, key_paths, key_data) {
        (Some(p), _, _) if !p.is_empty() => KeySource::Path(p),
        (_, Some(Some(ps)), _) => KeySource::Paths(ps),
        (_, _, Some(Some(d))) => KeySource::Data(d),
        _ => return Err(ctx.err(path, PolicyRule::KeySourcesNotExactlyOne)),
    };
    Ok(SignedBy {
        key_type,
        keys,
        signed_identity: identity,
    })
}

fn parse_sigstore(ctx: &Ctx<'_>, path: &str, v: &JValue) -> Result<SigstoreSigned, Error> {
    let f = ctx.object(path, v, SIGSTORE_KEYS)?;
    check_type_value(ctx, path, &f, "sigstoreSigned")?;
    let mut fields = Vec::new();
    let mut signed_identity = None;
    let mut sources = 0;
    for (k, val) in &f {
        let p = child(path, k);
        match *k {
            "type" => {}
            "signedIdentity" => signed_identity = Some(parse_identity(ctx, &p, val)?),
            "keyPath" | "rekorPublicKeyPath" => {
                ctx.string(&p, val)?;
            }
            "keyPaths" | "rekorPublicKeyPaths" => {
                parse_string_array(ctx, &p, val)?;
            }
            "keyData" | "rekorPublicKeyData" => {
                decode_base64(ctx, &p, ctx.string(&p, val)?)?;
            }
            "keyDatas" | "rekorPublicKeyDatas" => {
                for (i, s) in parse_string_array(ctx, &p, val)?.iter().enumerate() {
                    decode_base64(ctx, &index(&p, i), s)?;
                }
            }
            _ => {
                if !matches!(val, JValue::Object(_)) {
                    return Err(ctx.wrong_type(&p, "an object", val));
                }
            }
        }
        if SIGSTORE_KEY_SOURCES.contains(k) && !matches!(val, JValue::Null) {
            sources += 1;
        }
        if *k != "type" && *k != "signedIdentity" {
            if let Some(n) = out_of_range_number(val) {
                return Err(ctx.err(
                    &p,
                    PolicyRule::Sigstore(format!("number {n} is out of range")),
                ));
            }
            fields.push(((*k).to_owned(), val.to_serde()));
        }
    }
    if sources != 1 {
        return Err(ctx.err(
            path,
            PolicyRule::Sigstore(
                "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki must be specified"
                    .to_owned(),
            ),
        ));
    }
    Ok(SigstoreSigned {
        fields,
        signed_identity,
    })
}

/// A number `serde_json` cannot hold (out of `f64` range), if any.
fn out_of_range_number(v: &JValue) -> Option<&json::Number> {
    match v {
        JValue::Number(n) if n.to_serde().is_none() => Some(n),
        JValue::Array(a) => a.iter().find_map(out_of_range_number),
        JValue::Object(m) => m.iter().find_map(|(_, v)| out_of_range_number(v)),
        _ => None,
    }
}

fn parse_identity(ctx: &Ctx<'_>, path: &str, v: &JValue) -> Result<IdentityMatch, Error> {
    let ty = match v {
        JValue::Null => String::new(),
        other => match lenient_type(other) {
            Some(t) => t,
            None => return Err(ctx.wrong_type(path, "an object", other)),
        },
    };
    let need = |f: &[(&str, &JValue)], key: &str| -> Result<String, Error> {
        match get(f, key) {
            Some(val) => ctx.string(&child(path, key), val).map(str::to_owned),
            None => Err(ctx.err(path, PolicyRule::MissingKey(key.to_owned()))),
        }
    };
    let rule_err = |key: &str, rule: PolicyRule| ctx.err(&child(path, key), rule);
    match ty.as_str() {
        "matchExact" | "matchRepoDigestOrExact" | "matchRepository" => {
            ctx.object(path, v, &["type"])?;
            Ok(match ty.as_str() {
                "matchExact" => IdentityMatch::MatchExact,
                "matchRepository" => IdentityMatch::MatchRepository,
                _ => IdentityMatch::MatchRepoDigestOrExact,
            })
        }
        "exactReference" => {
            let f = ctx.object(path, v, &["type", "dockerReference"])?;
            let r = need(&f, "dockerReference")?;
            IdentityMatch::exact_reference(&r).map_err(|e| rule_err("dockerReference", e))
        }
        "exactRepository" => {
            let f = ctx.object(path, v, &["type", "dockerRepository"])?;
            let r = need(&f, "dockerRepository")?;
            IdentityMatch::exact_repository(&r).map_err(|e| rule_err("dockerRepository", e))
        }
        "remapIdentity" => {
            let f = ctx.object(path, v, &["type", "prefix", "signedPrefix"])?;
            let prefix = need(&f, "prefix")?;
            let signed = need(&f, "signedPrefix")?;
            IdentityMatch::remap_identity(&prefix, &signed).map_err(|e| {
                let key = if matches!(e, PolicyRule::InvalidPrefix(_)) {
                    "prefix"
                } else {
                    "signedPrefix"
                };
                rule_err(key, e)
            })
        }
        other => Err(ctx.err(path, PolicyRule::UnknownMatchType(other.to_owned()))),
    }
}

// ---------------------------------------------------------------------------
// Writing

fn s(v: &str) -> JValue {
    JValue::String(v.to_owned())
}

fn requirement_to_json(r: &Requirement) -> JValue {
    let mut m: Vec<(String, JValue)> = Vec::new();
    match r {
        Requirement::InsecureAcceptAnything => m.push(("type".into(), s("insecureAcceptAnything"))),
        Requirement::Reject => m.push(("type".into(), s("reject"))),
        Requirement::SignedBy(sb) => {
            m.push(("type".into(), s("signedBy")));
            m.push(("keyType".into(), s(sb.key_type.as_str())));
            match &sb.keys {
                KeySource::Path(p) => m.push(("keyPath".into(), s(p))),
                KeySource::Paths(ps) => m.push((
                    "keyPaths".into(),
                    JValue::Array(ps.iter().map(|p| s(p)).collect()),
                )),
                KeySource::Data(d) => m.push((
                    "keyData".into(),
                    s(&base64::engine::general_purpose::STANDARD.encode(d)),
                )),
            }
            if let Some(id) = &sb.signed_identity {
                m.push(("signedIdentity".into(), identity_to_json(id)));
            }
        }
        Requirement::SignedBaseLayer {
            base_layer_identity,
        } => {
            m.push(("type".into(), s("signedBaseLayer")));
            m.push((
                "baseLayerIdentity".into(),
                identity_to_json(base_layer_identity),
            ));
        }
        Requirement::SigstoreSigned(ss) => {
            m.push(("type".into(), s("sigstoreSigned")));
            for (k, v) in &ss.fields {
                m.push((k.clone(), JValue::from_serde(v)));
            }
            if let Some(id) = &ss.signed_identity {
                m.push(("signedIdentity".into(), identity_to_json(id)));
            }
        }
    }
    JValue::Object(m)
}

fn identity_to_json(id: &IdentityMatch) -> JValue {
    let mut m = vec![("type".to_owned(), s(id.type_name()))];
    match id {
        IdentityMatch::ExactReference(r) => m.push(("dockerReference".into(), s(r))),
        IdentityMatch::ExactRepository(r) => m.push(("dockerRepository".into(), s(r))),
        IdentityMatch::RemapIdentity {
            prefix,
            signed_prefix,
        } => {
            m.push(("prefix".into(), s(prefix)));
            m.push(("signedPrefix".into(), s(signed_prefix)));
        }
        _ => {}
    }
    JValue::Object(m)
}
