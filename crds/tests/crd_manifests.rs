//! Checks of the generated CRDs: the committed YAML is current, and every schema is structural.

use std::path::Path;

use serde_json::Value;

const REGENERATE: &str = "cargo run -p ferry-crds --bin crdgen > crds/ferry-crds.yaml";

#[test]
fn committed_yaml_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ferry-crds.yaml");
    let generated = ferry_crds::crds_yaml().expect("render CRDs");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "one file is a prefix of the other".to_owned(),
                |i| format!("first difference at line {}", i + 1),
            );
        panic!(
            "{} is out of date with the types in crds/src ({first_difference}).\n\
             Regenerate it from the workspace root with:\n\n    {REGENERATE}\n",
            path.display()
        );
    }
}

#[test]
fn committed_yaml_parses_as_the_crds() {
    let generated = ferry_crds::crds_yaml().expect("render CRDs");
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&generated)
        .map(|d| serde::Deserialize::deserialize(d).expect("YAML document"))
        .collect();
    let names: Vec<&str> = docs
        .iter()
        .map(|d| d["metadata"]["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["connectclusters.ferry.dev", "connectors.ferry.dev"]);
}

fn crd_json(name: &str) -> Value {
    let crd = ferry_crds::crds()
        .into_iter()
        .find(|c| c.metadata.name.as_deref() == Some(name))
        .expect("CRD present");
    serde_json::to_value(crd).expect("CRD as JSON")
}

fn version(crd: &Value) -> &Value {
    let versions = crd["spec"]["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 1);
    &versions[0]
}

/// Collects every way `schema` (at `path`) breaks the rules of a structural schema, plus the
/// rules that would silently prune data (objects without fields).
/// See <https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema>.
fn structural_violations(schema: &Value, path: &str, out: &mut Vec<String>) {
    let Some(obj) = schema.as_object() else {
        out.push(format!("{path}: schema is not an object"));
        return;
    };
    let preserve = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let int_or_string = obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    if obj.contains_key("$ref") {
        out.push(format!("{path}: $ref is not allowed"));
    }
    for junctor in ["allOf", "anyOf", "oneOf", "not"] {
        if obj.contains_key(junctor) && !int_or_string {
            out.push(format!(
                "{path}: {junctor} is only allowed with x-kubernetes-int-or-string"
            ));
        }
    }
    match obj.get("type").and_then(Value::as_str) {
        Some("object") => {
            let props = obj.get("properties").and_then(Value::as_object);
            let additional = obj.get("additionalProperties");
            if props.is_some() && additional.is_some() {
                out.push(format!(
                    "{path}: properties and additionalProperties are exclusive"
                ));
            }
            if props.is_none() && additional.is_none() && !preserve {
                out.push(format!(
                    "{path}: object without properties, additionalProperties or \
                     x-kubernetes-preserve-unknown-fields (its content would be pruned)"
                ));
            }
            if let Some(props) = props {
                for (name, prop) in props {
                    structural_violations(prop, &format!("{path}.{name}"), out);
                }
                for required in obj
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = required.as_str().unwrap_or_default();
                    if !props.contains_key(name) {
                        out.push(format!("{path}: required field {name} is not a property"));
                    }
                }
            }
            match additional {
                Some(Value::Bool(_)) => out.push(format!(
                    "{path}: additionalProperties must be a typed schema"
                )),
                Some(schema) => {
                    structural_violations(schema, &format!("{path}[*]"), out);
                }
                None => {}
            }
        }
        Some("array") => match obj.get("items") {
            Some(items) => {
                structural_violations(items, &format!("{path}[]"), out);
                if obj.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map") {
                    let keys = obj
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let required = items["required"].as_array().cloned().unwrap_or_default();
                    for key in keys {
                        if !required.contains(&key) {
                            out.push(format!("{path}: list-map key {key} must be required"));
                        }
                    }
                }
            }
            None => out.push(format!("{path}: array without items")),
        },
        Some("string" | "integer" | "number" | "boolean") => {}
        Some(other) => out.push(format!("{path}: unknown type {other}")),
        None if int_or_string || preserve => {}
        None => out.push(format!("{path}: no type")),
    }
}

fn assert_structural(crd_name: &str) {
    let crd = crd_json(crd_name);
    let schema = &version(&crd)["schema"]["openAPIV3Schema"];
    let mut violations = Vec::new();
    structural_violations(schema, crd_name, &mut violations);
    assert!(
        violations.is_empty(),
        "{crd_name} is not a structural schema:\n  {}",
        violations.join("\n  ")
    );
}

#[test]
fn connect_cluster_schema_is_structural() {
    assert_structural("connectclusters.ferry.dev");
}

#[test]
fn connector_schema_is_structural() {
    assert_structural("connectors.ferry.dev");
}

#[test]
fn connect_cluster_crd_has_scale_status_and_columns() {
    let crd = crd_json("connectclusters.ferry.dev");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["group"], "ferry.dev");
    let v = version(&crd);
    assert_eq!(v["name"], "v1alpha1");
    assert_eq!(v["subresources"]["status"], serde_json::json!({}));
    assert_eq!(
        v["subresources"]["scale"],
        serde_json::json!({
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.labelSelector",
        })
    );
    let columns: Vec<(&str, &str)> = v["additionalPrinterColumns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("name"),
                c["jsonPath"].as_str().expect("jsonPath"),
            )
        })
        .collect();
    assert_eq!(
        columns,
        [
            ("Desired", ".spec.replicas"),
            ("Ready", ".status.readyReplicas"),
            ("Bootstrap", ".spec.bootstrapServers"),
            ("Age", ".metadata.creationTimestamp"),
        ]
    );
    let spec = &v["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(spec["required"], serde_json::json!(["bootstrapServers"]));
    assert_eq!(spec["properties"]["replicas"]["minimum"], 1.0);
    assert_eq!(spec["properties"]["replicas"]["default"], 1);
    assert_eq!(spec["properties"]["restPort"]["default"], 8083);
    assert_eq!(spec["properties"]["restPort"]["minimum"], 1.0);
    assert_eq!(spec["properties"]["restPort"]["maximum"], 65535.0);
}

#[test]
fn connector_crd_has_short_name_columns_enum_and_reserved_key_rule() {
    let crd = crd_json("connectors.ferry.dev");
    assert_eq!(
        crd["spec"]["names"]["shortNames"],
        serde_json::json!(["kctr"])
    );
    let v = version(&crd);
    assert_eq!(v["subresources"], serde_json::json!({"status": {}}));
    let columns: Vec<&str> = v["additionalPrinterColumns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["jsonPath"].as_str().expect("jsonPath"))
        .collect();
    assert_eq!(
        columns,
        [
            ".spec.clusterRef.name",
            ".spec.class",
            ".spec.tasksMax",
            ".status.connectorStatus.connector.state",
            r#".status.conditions[?(@.type=="Ready")].status"#,
            ".metadata.creationTimestamp",
        ]
    );
    let spec = &v["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(
        spec["properties"]["state"]["enum"],
        serde_json::json!(["running", "paused", "stopped"])
    );
    assert_eq!(spec["properties"]["state"]["default"], "running");
    assert_eq!(spec["properties"]["tasksMax"]["minimum"], 1.0);
    let rules = spec["x-kubernetes-validations"].as_array().expect("rules");
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0]["rule"],
        ferry_crds::connector::RESERVED_CONFIG_KEYS_RULE
    );
    assert!(
        rules[0]["message"]
            .as_str()
            .expect("message")
            .contains("connector.class")
    );
    let mut required: Vec<&str> = spec["required"]
        .as_array()
        .expect("required")
        .iter()
        .map(|r| r.as_str().expect("str"))
        .collect();
    required.sort_unstable();
    assert_eq!(required, ["class", "clusterRef"]);
}

#[test]
fn structural_check_catches_violations() {
    let bad = serde_json::json!({
        "type": "object",
        "properties": {
            "untyped": {"description": "no type"},
            "bare": {"type": "object"},
            "loose": {"type": "object", "additionalProperties": true},
            "list": {"type": "array"},
            "union": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "ok": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        },
    });
    let mut violations = Vec::new();
    structural_violations(&bad, "bad", &mut violations);
    assert_eq!(violations.len(), 6, "{violations:#?}");
}
