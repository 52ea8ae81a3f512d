//! JSON schemas schemars cannot derive: the gate (an `imprimatur-arf` type,
//! which does not depend on schemars) and the conditions list, which
//! Kubernetes merges by `type` under server-side apply.

use schemars::{Schema, SchemaGenerator, json_schema};

/// The gate of `imprimatur arf gate`: thresholds per severity, waivers.
pub(crate) fn gate(_: &mut SchemaGenerator) -> Schema {
    let severities = json_schema!({
        "type": "object",
        "properties": {
            "high": {"type": "integer", "minimum": 0},
            "medium": {"type": "integer", "minimum": 0},
            "low": {"type": "integer", "minimum": 0},
            "info": {"type": "integer", "minimum": 0},
            "unknown": {"type": "integer", "minimum": 0}
        },
        "additionalProperties": false
    });
    json_schema!({
        "type": "object",
        "description": "Thresholds per severity and waivers (the format of `imprimatur arf gate`).",
        "properties": {
            "maxFailed": severities,
            "maxFailedTotal": {"type": "integer", "minimum": 0},
            "errorAsFailed": {"type": "boolean"},
            "unknownAsFailed": {"type": "boolean"},
            "requireResults": {"type": "boolean"},
            "testResults": {"type": "string", "enum": ["all", "last"]},
            "waivers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "rule": {"type": "string"},
                        "cve": {"type": "string"},
                        "reason": {"type": "string"},
                        "author": {"type": "string"},
                        "expires": {"type": "string"}
                    },
                    "required": ["reason"]
                }
            }
        }
    })
}

/// Conditions: a list map keyed by `type`.
pub(crate) fn conditions(generator: &mut SchemaGenerator) -> Schema {
    let item = generator.subschema_for::<crate::status::Condition>();
    json_schema!({
        "type": "array",
        "items": item,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"]
    })
}

/// A duration as `crate::freshness::parse_duration` reads it (`24h`,
/// `90m`, `1h30m`, `3600s`): checked at admission, and again by the
/// controller (which says what is wrong in the status).
pub(crate) fn duration(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "description": "A duration: hours, minutes and seconds in that order, each an integer with its unit (24h, 90m, 1h30m, 3600s).",
        "pattern": "^([0-9]+h)?([0-9]+m)?([0-9]+s)?$",
        "minLength": 2,
        "maxLength": 32
    })
}
