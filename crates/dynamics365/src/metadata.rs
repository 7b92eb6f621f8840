//! `$metadata`: the CSDL XML document, read with quick-xml into entity types
//! and entity sets.

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::error::Dynamics365Error;
use crate::types::{Column, EdmType};

/// The deepest `BaseType` chain followed (guards against cycles).
const MAX_INHERITANCE_DEPTH: usize = 32;

#[derive(Debug, Clone, Default)]
struct Property {
    name: String,
    type_name: String,
    precision: Option<String>,
    scale: Option<String>,
    nullable: bool,
}

#[derive(Debug, Clone, Default)]
struct EntityType {
    base_type: Option<String>,
    key: Vec<String>,
    properties: Vec<Property>,
}

/// The parts of a CSDL document the connector uses.
#[derive(Debug, Clone, Default)]
pub(crate) struct Metadata {
    /// Entity types by namespace-qualified name.
    types: HashMap<String, EntityType>,
    /// Schema alias to namespace.
    aliases: HashMap<String, String>,
    /// Entity set name to the qualified name of its entity type, in document order.
    sets: Vec<(String, String)>,
}

fn attrs(e: &BytesStart<'_>) -> Result<HashMap<String, String>, Dynamics365Error> {
    let mut out = HashMap::new();
    for a in e.attributes() {
        let a = a.map_err(|err| Dynamics365Error::Metadata(err.to_string()))?;
        let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
        let value = a
            .unescape_value()
            .map_err(|err| Dynamics365Error::Metadata(err.to_string()))?;
        out.insert(key, value.into_owned());
    }
    Ok(out)
}

/// `Namespace.name` → `name`.
fn local_name(qualified: &str) -> &str {
    qualified.rsplit_once('.').map_or(qualified, |(_, n)| n)
}

impl Metadata {
    /// Parses a CSDL XML document.
    pub(crate) fn parse(xml: &str) -> Result<Self, Dynamics365Error> {
        let mut reader = Reader::from_str(xml);
        reader.config_mut().trim_text(true);
        let mut md = Metadata::default();
        let mut namespace = String::new();
        // The entity type being read, with its qualified name.
        let mut current: Option<(String, EntityType)> = None;
        let mut in_key = false;
        let mut saw_edmx = false;
        loop {
            let event = reader.read_event().map_err(|e| {
                Dynamics365Error::Metadata(format!(
                    "not well-formed XML at byte {}: {e}",
                    reader.error_position()
                ))
            })?;
            let (e, empty) = match &event {
                Event::Start(e) => (e, false),
                Event::Empty(e) => (e, true),
                Event::End(e) => {
                    match e.local_name().as_ref() {
                        b"EntityType" => {
                            if let Some((name, t)) = current.take() {
                                md.types.insert(name, t);
                            }
                        }
                        b"Key" => in_key = false,
                        _ => {}
                    }
                    continue;
                }
                Event::Eof => break,
                _ => continue,
            };
            match e.local_name().as_ref() {
                b"Edmx" => saw_edmx = true,
                b"Schema" => {
                    let a = attrs(e)?;
                    namespace = a.get("Namespace").cloned().unwrap_or_default();
                    if let Some(alias) = a.get("Alias") {
                        md.aliases.insert(alias.clone(), namespace.clone());
                    }
                }
                b"EntityType" => {
                    let a = attrs(e)?;
                    let name = a.get("Name").ok_or_else(|| {
                        Dynamics365Error::Metadata("an EntityType has no Name".into())
                    })?;
                    let t = EntityType {
                        base_type: a.get("BaseType").cloned(),
                        ..Default::default()
                    };
                    let qualified = format!("{namespace}.{name}");
                    if empty {
                        md.types.insert(qualified, t);
                    } else {
                        current = Some((qualified, t));
                    }
                }
                b"Key" if current.is_some() => in_key = !empty,
                b"PropertyRef" if in_key => {
                    if let (Some((_, t)), Some(name)) = (current.as_mut(), attrs(e)?.remove("Name"))
                    {
                        t.key.push(name);
                    }
                }
                b"Property" => {
                    if let Some((_, t)) = current.as_mut() {
                        let mut a = attrs(e)?;
                        let (Some(name), Some(type_name)) = (a.remove("Name"), a.remove("Type"))
                        else {
                            return Err(Dynamics365Error::Metadata(
                                "a Property lacks Name or Type".into(),
                            ));
                        };
                        t.properties.push(Property {
                            name,
                            type_name,
                            precision: a.remove("Precision"),
                            scale: a.remove("Scale"),
                            nullable: a
                                .get("Nullable")
                                .is_none_or(|n| !n.eq_ignore_ascii_case("false")),
                        });
                    }
                }
                b"EntitySet" => {
                    let mut a = attrs(e)?;
                    if let (Some(name), Some(t)) = (a.remove("Name"), a.remove("EntityType")) {
                        md.sets.push((name, t));
                    }
                }
                _ => {}
            }
        }
        if !saw_edmx {
            return Err(Dynamics365Error::Metadata(
                "not a CSDL document (no edmx:Edmx element)".into(),
            ));
        }
        Ok(md)
    }

    /// The entity set names, in document order.
    pub(crate) fn entity_sets(&self) -> impl Iterator<Item = &str> {
        self.sets.iter().map(|(n, _)| n.as_str())
    }

    /// The entity set named `name`, with its canonical spelling: by entity
    /// set name (`accounts`), exactly then in any case, else by the logical
    /// name of its entity type (`account`), in any case.
    pub(crate) fn find_set(&self, name: &str) -> Option<&str> {
        self.sets
            .iter()
            .find(|(n, _)| n == name)
            .or_else(|| self.sets.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)))
            .or_else(|| {
                self.sets
                    .iter()
                    .find(|(_, t)| local_name(t).eq_ignore_ascii_case(name))
            })
            .map(|(n, _)| n.as_str())
    }

    /// The logical name of entity set `set`'s entity type (`accounts` →
    /// `account`): the type's name without its namespace.
    pub(crate) fn logical_name(&self, set: &str) -> Option<&str> {
        self.sets
            .iter()
            .find(|(n, _)| n == set)
            .map(|(_, t)| local_name(t))
    }

    fn resolve(&self, qualified: &str) -> Option<&EntityType> {
        if let Some(t) = self.types.get(qualified) {
            return Some(t);
        }
        let (prefix, name) = qualified.rsplit_once('.')?;
        let ns = self.aliases.get(prefix)?;
        self.types.get(&format!("{ns}.{name}"))
    }

    /// The columns of entity set `set` (canonical name): the structural
    /// properties of its entity type, inherited ones first; navigation
    /// properties are not columns.
    pub(crate) fn columns(&self, set: &str) -> Result<Vec<Column>, Dynamics365Error> {
        let (_, type_name) = self
            .sets
            .iter()
            .find(|(n, _)| n == set)
            .ok_or_else(|| Dynamics365Error::Metadata(format!("no entity set {set}")))?;
        let mut chain = Vec::new();
        let mut next = Some(type_name.as_str());
        while let Some(name) = next {
            if chain.len() == MAX_INHERITANCE_DEPTH {
                return Err(Dynamics365Error::Metadata(format!(
                    "entity type {type_name}: BaseType chain deeper than {MAX_INHERITANCE_DEPTH} (a cycle?)"
                )));
            }
            let t = self.resolve(name).ok_or_else(|| {
                Dynamics365Error::Metadata(format!(
                    "entity set {set}: entity type {name} is not defined"
                ))
            })?;
            chain.push(t);
            next = t.base_type.as_deref();
        }
        // The key is declared on the type itself or the nearest base that has one.
        let key: &[String] = chain
            .iter()
            .find(|t| !t.key.is_empty())
            .map(|t| t.key.as_slice())
            .unwrap_or_default();
        let mut columns: Vec<Column> = Vec::new();
        for t in chain.iter().rev() {
            for p in &t.properties {
                let column = Column {
                    name: p.name.clone(),
                    type_name: p.type_name.clone(),
                    edm: EdmType::from_csdl(
                        &p.type_name,
                        p.precision.as_deref(),
                        p.scale.as_deref(),
                    ),
                    nullable: p.nullable,
                    key: key.contains(&p.name),
                    annotation: None,
                };
                // A derived type may redeclare a property: the last one wins, in place.
                match columns.iter_mut().find(|c| c.name == p.name) {
                    Some(c) => *c = column,
                    None => columns.push(column),
                }
            }
        }
        Ok(columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSDL: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="crmbaseentity" Abstract="true"/>
      <EntityType Name="account" BaseType="mscrm.crmbaseentity">
        <Key><PropertyRef Name="accountid"/></Key>
        <Property Name="accountid" Type="Edm.Guid"/>
        <Property Name="name" Type="Edm.String" Nullable="false">
          <Annotation Term="Org.OData.Core.V1.Description" String="a &amp; b"/>
        </Property>
        <Property Name="revenue" Type="Edm.Decimal" Scale="Variable"/>
        <NavigationProperty Name="primarycontactid" Type="mscrm.contact"/>
      </EntityType>
      <ComplexType Name="address"><Property Name="city" Type="Edm.String"/></ComplexType>
      <EntityContainer Name="System">
        <EntitySet Name="accounts" EntityType="Microsoft.Dynamics.CRM.account"/>
        <EntitySet Name="broken" EntityType="mscrm.nosuch"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

    #[test]
    fn reads_sets_types_keys_and_skips_navigation() {
        let md = Metadata::parse(CSDL).unwrap();
        assert_eq!(md.entity_sets().collect::<Vec<_>>(), ["accounts", "broken"]);
        assert_eq!(md.find_set("ACCOUNTS"), Some("accounts"));
        assert_eq!(md.find_set("Account"), Some("accounts"));
        assert_eq!(md.logical_name("accounts"), Some("account"));
        assert_eq!(md.find_set("crmbaseentity"), None);
        let cols = md.columns("accounts").unwrap();
        let names: Vec<_> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["accountid", "name", "revenue"]);
        assert!(cols[0].key && !cols[1].key);
        assert!(!cols[1].nullable && cols[2].nullable);
        let err = md.columns("broken").unwrap_err();
        assert!(err.to_string().contains("mscrm.nosuch"), "{err}");
    }

    #[test]
    fn rejects_what_is_not_csdl() {
        assert!(Metadata::parse("{\"$Version\":\"4.01\"}").is_err());
        assert!(Metadata::parse("<a><b></a>").is_err());
    }

    #[test]
    fn inheritance_cycles_are_errors() {
        let xml = r#"<edmx:Edmx xmlns:edmx="x"><Schema Namespace="n">
            <EntityType Name="a" BaseType="n.b"/><EntityType Name="b" BaseType="n.a"/>
            <EntityContainer Name="c"><EntitySet Name="as" EntityType="n.a"/></EntityContainer>
            </Schema></edmx:Edmx>"#;
        let md = Metadata::parse(xml).unwrap();
        assert!(md.columns("as").unwrap_err().to_string().contains("cycle"));
    }
}
