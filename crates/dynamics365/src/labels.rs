//! Labels (`IncludeFormattedValues=true`): the server's formatted values and
//! lookup targets as columns beside the value columns.
//!
//! Which columns are choices, yes/no, lookups or multi-select choices is not
//! in `$metadata` (a choice is an `Edm.Int32`, a multi-select choice an
//! `Edm.String`), so the table's attribute definitions are read once:
//! `EntityDefinitions(LogicalName='<name>')/Attributes`.

use std::collections::HashMap;

use serde::Deserialize;
use url::Url;

use crate::error::Dynamics365Error;
use crate::odata::{FORMATTED_VALUE, encode_component};
use crate::types::{Annotation, Column, EdmType};

/// The annotation naming the table a lookup points at.
pub(crate) const LOOKUP_LOGICAL_NAME: &str = "Microsoft.Dynamics.CRM.lookuplogicalname";
/// The preference that makes the server send both annotations.
pub(crate) const PREFER_ANNOTATIONS: &str = "odata.include-annotations=\"OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname\"";
/// The suffix of a label column: `statuscode` → `statuscode_label`.
pub const LABEL_SUFFIX: &str = "_label";
/// The suffix of a lookup's target-table column: `_ownerid_value` →
/// `_ownerid_value_entity` (`systemuser` or `team`).
pub const ENTITY_SUFFIX: &str = "_entity";

/// What an attribute is, as far as labels go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Choice, status, status reason, yes/no: one label.
    Choice,
    /// Choices (multi-select): a list of values and a list of labels.
    MultiChoice,
    /// Lookup, customer, owner: the related row's name and table.
    Lookup,
}

/// The request for the attribute definitions of the table `logical`.
pub(crate) fn attributes_url(base: &Url, logical: &str) -> Result<Url, Dynamics365Error> {
    let escaped = logical.replace('\'', "''");
    let mut url = base
        .join(&format!(
            "EntityDefinitions(LogicalName='{}')/Attributes",
            encode_component(&escaped)
        ))
        .map_err(|e| {
            Dynamics365Error::config(
                "ServiceURL",
                format!("cannot address EntityDefinitions: {e}"),
            )
        })?;
    url.set_query(Some("$select=LogicalName,AttributeType,AttributeTypeName"));
    Ok(url)
}

#[derive(Deserialize)]
struct Attributes {
    value: Vec<Attribute>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Attribute {
    logical_name: String,
    #[serde(default)]
    attribute_type: Option<String>,
    #[serde(default)]
    attribute_type_name: Option<TypeName>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TypeName {
    value: Option<String>,
}

/// The labelled attributes of a table, by the name of their Web API
/// property (`_<name>_value` for lookups).
pub(crate) fn parse_attributes(
    table: &str,
    body: &str,
) -> Result<HashMap<String, Kind>, Dynamics365Error> {
    let doc: Attributes =
        serde_json::from_str(body).map_err(|e| Dynamics365Error::InvalidResponse {
            what: format!("attribute definitions of table {table}"),
            message: format!("expected {{\"value\": [...]}}: {e}"),
        })?;
    let mut kinds = HashMap::new();
    for a in doc.value {
        let type_name = a.attribute_type_name.and_then(|t| t.value);
        let kind = match (a.attribute_type.as_deref(), type_name.as_deref()) {
            (_, Some("MultiSelectPicklistType")) => Kind::MultiChoice,
            (Some("Picklist" | "State" | "Status" | "Boolean"), _) => Kind::Choice,
            (Some("Lookup" | "Customer" | "Owner"), _) => {
                kinds.insert(format!("_{}_value", a.logical_name), Kind::Lookup);
                continue;
            }
            _ => continue,
        };
        kinds.insert(a.logical_name, kind);
    }
    Ok(kinds)
}

fn label(of: &Column, suffix: &str, term: &'static str, edm: EdmType, type_name: &str) -> Column {
    Column {
        name: format!("{}{suffix}", of.name),
        type_name: type_name.to_owned(),
        edm,
        nullable: true,
        key: false,
        annotation: Some(Annotation {
            property: of.name.clone(),
            term,
        }),
    }
}

/// `columns` with each labelled column followed by its label columns; a
/// multi-select choice becomes a list of its option values. A label whose
/// name a property already has is left out.
pub(crate) fn with_labels(columns: Vec<Column>, kinds: &HashMap<String, Kind>) -> Vec<Column> {
    let taken: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let mut out = Vec::with_capacity(columns.len());
    for mut c in columns {
        let extra = match kinds.get(&c.name) {
            None => Vec::new(),
            Some(Kind::Choice) => vec![label(
                &c,
                LABEL_SUFFIX,
                FORMATTED_VALUE,
                EdmType::String,
                "Edm.String",
            )],
            Some(Kind::MultiChoice) => {
                c.edm = EdmType::IntList;
                c.type_name = "Collection(Edm.Int32)".into();
                vec![label(
                    &c,
                    LABEL_SUFFIX,
                    FORMATTED_VALUE,
                    EdmType::StringList,
                    "Collection(Edm.String)",
                )]
            }
            Some(Kind::Lookup) => vec![
                label(
                    &c,
                    LABEL_SUFFIX,
                    FORMATTED_VALUE,
                    EdmType::String,
                    "Edm.String",
                ),
                label(
                    &c,
                    ENTITY_SUFFIX,
                    LOOKUP_LOGICAL_NAME,
                    EdmType::String,
                    "Edm.String",
                ),
            ],
        };
        out.push(c);
        out.extend(extra.into_iter().filter(|l| !taken.contains(&l.name)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_kinds_from_entity_definitions() {
        let body = r#"{"@odata.context":"x","value":[
            {"LogicalName":"name","AttributeType":"String","AttributeTypeName":{"Value":"StringType"}},
            {"LogicalName":"statuscode","AttributeType":"Status","AttributeTypeName":{"Value":"StatusType"}},
            {"LogicalName":"new_colors","AttributeType":"Virtual","AttributeTypeName":{"Value":"MultiSelectPicklistType"}},
            {"LogicalName":"ownerid","AttributeType":"Owner","AttributeTypeName":{"Value":"OwnerType"}}]}"#;
        let kinds = parse_attributes("accounts", body).unwrap();
        assert_eq!(kinds.len(), 3);
        assert_eq!(kinds["statuscode"], Kind::Choice);
        assert_eq!(kinds["new_colors"], Kind::MultiChoice);
        assert_eq!(kinds["_ownerid_value"], Kind::Lookup);
        let err = parse_attributes("accounts", "[]").unwrap_err();
        assert!(err.to_string().contains("table accounts"), "{err}");
    }

    #[test]
    fn attribute_urls_quote_the_name() {
        let base = Url::parse("https://h/api/data/v9.2/").unwrap();
        let u = attributes_url(&base, "account").unwrap();
        assert_eq!(
            u.as_str(),
            "https://h/api/data/v9.2/EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName,AttributeType,AttributeTypeName"
        );
    }
}
