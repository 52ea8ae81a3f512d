//! The custom resource definitions of `ImageSigningRequest` and
//! `ImageScanningRequest` (`cop.redhat.com/v1alpha2`), generated from the
//! request types by `kube`'s derive: a structural schema, the status
//! subresource, printer columns, and conditions as a list map keyed by `type`
//! so that server-side apply merges them per type.
//!
//! The YAML in the repository's `deploy/crds/` is [`crd_yaml`]'s output; a
//! test fails when it is out of date.
//!
//! ```
//! use imprimatur_service::crd;
//!
//! let crds = crd::crds();
//! assert_eq!(crds[0].metadata.name.as_deref(), Some("imagesigningrequests.cop.redhat.com"));
//! assert!(crd::crd_yaml(&crds[1]).unwrap().contains("kind: ImageScanningRequest"));
//! ```

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

pub use crate::request::{ImageScanningRequest, ImageSigningRequest};

/// Both CRDs: `ImageSigningRequest`, then `ImageScanningRequest`.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![ImageSigningRequest::crd(), ImageScanningRequest::crd()]
}

/// A CRD as the YAML committed under `deploy/crds/`: a comment saying where
/// it comes from, then the document.
pub fn crd_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_saphyr::ser::Error> {
    let body = serde_saphyr::to_string(crd)?;
    Ok(format!(
        "# Generated from the Rust types in crates/service (kube derive): do not edit.\n\
         # Regenerate: IMPRIMATUR_REGENERATE_CRDS=1 cargo test -p imprimatur-service --features kube crd::\n\
         {body}"
    ))
}

/// The file name of a CRD under `deploy/crds/` (`<plural>.<group>.yaml`).
pub fn crd_file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or("unnamed"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::path::PathBuf;

    fn crds_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds")
    }

    /// The committed YAML is exactly what the types generate. With
    /// `IMPRIMATUR_REGENERATE_CRDS=1` the files are written instead.
    #[test]
    fn committed_crds_are_up_to_date() {
        let regenerate = std::env::var_os("IMPRIMATUR_REGENERATE_CRDS").is_some();
        for crd in crds() {
            let path = crds_dir().join(crd_file_name(&crd));
            let want = crd_yaml(&crd).unwrap();
            if regenerate {
                std::fs::create_dir_all(crds_dir()).unwrap();
                std::fs::write(&path, &want).unwrap();
                continue;
            }
            let have = std::fs::read(&path).unwrap_or_default();
            assert!(
                have == want.as_bytes(),
                "{} is out of date with the Rust types: regenerate it with\n  \
                 IMPRIMATUR_REGENERATE_CRDS=1 cargo test -p imprimatur-service --features kube crd::\n\
                 and commit the result",
                path.display()
            );
        }
    }

    /// The committed YAML parses back to the same CRD (the YAML writer loses
    /// nothing).
    #[test]
    fn crd_yaml_round_trips() {
        for crd in crds() {
            let text = crd_yaml(&crd).unwrap();
            let back: CustomResourceDefinition = serde_saphyr::from_str(&text).unwrap();
            assert_eq!(back, crd);
        }
    }

    fn version(crd: &CustomResourceDefinition) -> Value {
        let v = serde_json::to_value(crd).unwrap();
        let versions = v["spec"]["versions"].as_array().unwrap().clone();
        assert_eq!(versions.len(), 1);
        versions[0].clone()
    }

    /// Kubernetes' structural schema rules (apiextensions v1): every node has
    /// a `type` (or preserves unknown fields), no `$ref`, no `definitions`,
    /// `properties` and `additionalProperties` never together, and the
    /// logical junctors carry no types, defaults or descriptions.
    fn structural_errors(schema: &Value, path: &str, errors: &mut Vec<String>) {
        let Some(obj) = schema.as_object() else {
            errors.push(format!("{path}: not an object"));
            return;
        };
        for forbidden in ["$ref", "$schema", "definitions", "$defs", "const"] {
            if obj.contains_key(forbidden) {
                errors.push(format!("{path}: {forbidden}"));
            }
        }
        let preserve = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true))
            || obj.get("x-kubernetes-int-or-string") == Some(&json!(true));
        match obj.get("type").and_then(Value::as_str) {
            Some("object" | "array" | "string" | "integer" | "number" | "boolean") => {}
            Some(other) => errors.push(format!("{path}: type {other:?}")),
            None if preserve => {}
            None => errors.push(format!("{path}: no type")),
        }
        if obj.get("type").is_some_and(|t| !t.is_string()) {
            errors.push(format!("{path}: type is not one string"));
        }
        if obj.contains_key("properties") && obj.contains_key("additionalProperties") {
            errors.push(format!("{path}: properties and additionalProperties"));
        }
        for junctor in ["anyOf", "oneOf", "allOf", "not"] {
            if let Some(j) = obj.get(junctor) {
                let text = j.to_string();
                for bad in ["\"type\"", "\"default\"", "\"description\"", "\"nullable\""] {
                    if text.contains(bad) {
                        errors.push(format!("{path}.{junctor}: {bad}"));
                    }
                }
            }
        }
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                structural_errors(v, &format!("{path}.{k}"), errors);
            }
        }
        if let Some(items) = obj.get("items") {
            structural_errors(items, &format!("{path}[]"), errors);
        }
        if let Some(ap) = obj.get("additionalProperties").filter(|v| v.is_object()) {
            structural_errors(ap, &format!("{path}{{}}"), errors);
        }
    }

    /// A small validator for what the schemas use (type, properties,
    /// required, enum, items, additionalProperties, minimum); unknown fields
    /// are errors (the apiserver would prune them: a field the predecessor
    /// set must never be dropped).
    fn validate(value: &Value, schema: &Value, path: &str, errors: &mut Vec<String>) {
        if value.is_null() && schema.get("nullable") == Some(&json!(true)) {
            return;
        }
        let ty = schema.get("type").and_then(Value::as_str).unwrap_or("any");
        let ok = match ty {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        if !ok {
            errors.push(format!("{path}: {value} is not {ty}"));
            return;
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array)
            && !values.contains(value)
        {
            errors.push(format!("{path}: {value} not in {values:?}"));
        }
        if let (Some(min), Some(n)) = (
            schema.get("minimum").and_then(Value::as_f64),
            value.as_f64(),
        ) && n < min
        {
            errors.push(format!("{path}: {n} < {min}"));
        }
        if let Some(map) = value.as_object() {
            for r in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let r = r.as_str().unwrap_or_default();
                if !map.contains_key(r) {
                    errors.push(format!("{path}: {r} is required"));
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            let extra = schema.get("additionalProperties");
            let preserve = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
            for (k, v) in map {
                let sub = format!("{path}.{k}");
                match (props.and_then(|p| p.get(k)), extra) {
                    (Some(s), _) => validate(v, s, &sub, errors),
                    (None, Some(s)) if s.is_object() => validate(v, s, &sub, errors),
                    _ if preserve => {}
                    _ => errors.push(format!("{sub}: unknown field (pruned)")),
                }
            }
        }
        if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
            for (i, v) in list.iter().enumerate() {
                validate(v, items, &format!("{path}[{i}]"), errors);
            }
        }
    }

    #[test]
    fn schemas_are_structural_with_status_subresource_and_list_map_conditions() {
        for crd in crds() {
            let v = serde_json::to_value(&crd).unwrap();
            let kind = v["spec"]["names"]["kind"].as_str().unwrap().to_owned();
            assert_eq!(v["apiVersion"], "apiextensions.k8s.io/v1");
            assert_eq!(v["spec"]["group"], "cop.redhat.com");
            assert_eq!(v["spec"]["scope"], "Namespaced");
            let version = version(&crd);
            assert_eq!(version["name"], "v1alpha2");
            assert_eq!(version["served"], true);
            assert_eq!(version["storage"], true);
            assert_eq!(version["subresources"]["status"], json!({}), "{kind}");
            let schema = &version["schema"]["openAPIV3Schema"];
            let mut errors = Vec::new();
            structural_errors(schema, &kind, &mut errors);
            assert!(errors.is_empty(), "{kind}: not structural: {errors:#?}");

            let conditions = &schema["properties"]["status"]["properties"]["conditions"];
            assert_eq!(conditions["type"], "array");
            assert_eq!(conditions["x-kubernetes-list-type"], "map");
            assert_eq!(conditions["x-kubernetes-list-map-keys"], json!(["type"]));
            let required = conditions["items"]["required"].as_array().unwrap();
            assert!(
                required.contains(&json!("type")),
                "a map key must be required"
            );

            let columns: Vec<&str> = version["additionalPrinterColumns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap())
                .collect();
            assert_eq!(
                columns,
                [
                    "Phase",
                    "ImageStreamTag",
                    "Image",
                    "Digest",
                    "Passed",
                    "Failed",
                    "Age"
                ]
            );
        }
    }

    /// Every example request (the predecessor's two included) validates
    /// against the schema with no field pruned, and a status with every
    /// field set does too.
    #[test]
    fn example_requests_and_a_full_status_validate() {
        use crate::status::{
            ConditionStatus, ConditionType, GateVerdict, Phase, RequestStatus, ScanCounts,
            SignatureRecord,
        };
        let schemas: Vec<(String, Value)> = crds()
            .iter()
            .map(|crd| {
                let v = version(crd);
                (
                    crd.spec.names.kind.clone(),
                    v["schema"]["openAPIV3Schema"].clone(),
                )
            })
            .collect();
        let schema_of = |kind: &str| {
            schemas
                .iter()
                .find(|(k, _)| k == kind)
                .map(|(_, s)| s.clone())
                .unwrap_or_else(|| panic!("no CRD for {kind}"))
        };

        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/requests");
        let mut predecessor = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let mut doc: Value = serde_saphyr::from_str(&text).unwrap();
            let kind = doc["kind"].as_str().unwrap().to_owned();
            // apiVersion, kind and metadata are the apiserver's, not the CRD schema's.
            for k in ["apiVersion", "kind", "metadata"] {
                doc.as_object_mut().unwrap().remove(k);
            }
            let mut errors = Vec::new();
            validate(&doc, &schema_of(&kind), "", &mut errors);
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
            if path.to_string_lossy().contains("predecessor") {
                predecessor += 1;
            }
        }
        assert_eq!(predecessor, 2, "both predecessor examples checked");

        // The predecessor's signing spec, field by field.
        let old = json!({
            "spec": {
                "imageStreamTag": "myapp:latest",
                "signingKeySecretName": "mygpgkey",
                "signingKeySignBy": "openshift@example.com"
            }
        });
        let mut errors = Vec::new();
        validate(&old, &schema_of("ImageSigningRequest"), "", &mut errors);
        assert!(errors.is_empty(), "{errors:#?}");

        let mut status = RequestStatus {
            phase: Some(Phase::Completed),
            start_time: Some("2026-11-29T08:00:00Z".into()),
            end_time: Some("2026-11-29T08:01:00Z".into()),
            unsigned_image: Some("r/a@sha256:00".into()),
            signed_image: Some("r/a@sha256:00".into()),
            image_digest: Some("sha256:00".into()),
            scan_result: Some(ScanCounts {
                total_rules: 3,
                passed_rules: 2,
                failed_rules: 1,
            }),
            failed_by_severity: [("high".to_owned(), 1)].into(),
            present_cves: vec!["CVE-1".into()],
            gate: Some(GateVerdict {
                passed: true,
                reasons: vec!["r".into()],
                waived: vec!["w".into()],
            }),
            scan_limitations: vec!["l".into()],
            report: Some("/r".into()),
            signature: Some(SignatureRecord {
                identity: "r/a:1".into(),
                fingerprint: "F".into(),
                store: "s".into(),
                location: "l".into(),
                created: true,
            }),
            ..RequestStatus::default()
        };
        status.set_condition(
            ConditionType::Ready,
            ConditionStatus::True,
            "Done",
            "done",
            Some(1),
            std::time::UNIX_EPOCH,
        );
        let status = serde_json::to_value(&status).unwrap();
        for kind in ["ImageSigningRequest", "ImageScanningRequest"] {
            let mut errors = Vec::new();
            validate(
                &status,
                &schema_of(kind)["properties"]["status"],
                ".status",
                &mut errors,
            );
            assert!(errors.is_empty(), "{kind}: {errors:#?}");
        }

        // And the validator does reject: a wrong type and an unknown field.
        let bad = json!({"spec": {"imageStreamTag": 1, "bogus": true}});
        let mut errors = Vec::new();
        validate(&bad, &schema_of("ImageSigningRequest"), "", &mut errors);
        assert_eq!(errors.len(), 2, "{errors:#?}");
    }

    /// The derived resource and the request file type agree: a request file
    /// parses as the custom resource and back with the same spec.
    #[test]
    fn request_files_parse_as_the_custom_resources() {
        let text = "apiVersion: cop.redhat.com/v1alpha2\nkind: ImageSigningRequest\n\
                    metadata: {name: sign-myapp, namespace: team}\n\
                    spec: {imageStreamTag: 'myapp:latest', signingKeySecretName: mygpgkey}\n";
        let cr: ImageSigningRequest = serde_saphyr::from_str(text).unwrap();
        let crate::Request::Signing(doc) = crate::Request::from_yaml(text).unwrap() else {
            panic!("not signing")
        };
        assert_eq!(cr.spec, doc.spec);
        assert_eq!(cr.metadata.namespace.as_deref(), Some("team"));
        assert_eq!(
            <ImageSigningRequest as kube::Resource>::api_version(&()),
            crate::request::API_VERSION
        );
    }
}
