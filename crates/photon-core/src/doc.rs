//! Settings kept as the API gave them: a model shape turned into a store [`Doc`] and back.
//!
//! The way back goes through the model's own decoder, so a stored setting is served only if it
//! is still a valid value of its shape; one that is not is reported as an internal error rather
//! than sent half-read.

use std::collections::BTreeMap;

use photon_store::Doc;
use photon_types::{Decode, Decoder, Encode, Key, Value};

use crate::CoreError;

/// The document of a model shape.
pub(crate) fn to_doc<T: Encode>(shape: T) -> Doc {
    from_value(shape.encode())
}

/// The model shape a document holds.
pub(crate) fn from_doc<T: Decode>(doc: &Doc, what: &str) -> Result<T, CoreError> {
    let mut d = Decoder::default();
    let out = T::decode(to_value(doc), &mut d, what)
        .map_err(|e| CoreError::Internal(format!("stored {what} does not decode: {}", e.0)))?;
    if !d.violations.is_empty() {
        return Err(CoreError::Internal(format!(
            "stored {what} breaks the model's constraints"
        )));
    }
    Ok(out)
}

/// The list of model shapes a document holds.
pub(crate) fn from_doc_list<T: Decode>(doc: &Doc, what: &str) -> Result<Vec<T>, CoreError> {
    match doc {
        Doc::List(items) => items.iter().map(|d| from_doc(d, what)).collect(),
        _ => Err(CoreError::Internal(format!("stored {what} is not a list"))),
    }
}

fn from_value(v: Value) -> Doc {
    match v {
        // Absent members are never encoded; a null has no meaning in a setting.
        Value::Null => Doc::Map(BTreeMap::new()),
        Value::Bool(b) => Doc::Bool(b),
        Value::Integer(i) => Doc::Int(i),
        Value::Float(f) => Doc::Float(f),
        Value::String(s) => Doc::Str(s),
        Value::Timestamp(t) => Doc::Int(t.millis()),
        Value::List(items) => Doc::List(items.into_iter().map(from_value).collect()),
        Value::Map(m) => Doc::Map(
            m.into_iter()
                .map(|(k, v)| (k.into_owned(), from_value(v)))
                .collect(),
        ),
        Value::Struct(members) => Doc::Map(
            members
                .into_iter()
                .map(|(k, v)| (k.to_owned(), from_value(v)))
                .collect(),
        ),
    }
}

fn to_value(d: &Doc) -> Value {
    match d {
        Doc::Bool(b) => Value::Bool(*b),
        Doc::Int(i) => Value::Integer(*i),
        Doc::Float(f) => Value::Float(*f),
        Doc::Str(s) => Value::String(s.clone()),
        Doc::List(items) => Value::List(items.iter().map(to_value).collect()),
        Doc::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (Key::Owned(k.clone()), to_value(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use photon_types::{StorageConnector, StorageConnectorType};

    #[test]
    fn a_shape_comes_back_as_it_went_in() {
        let c = StorageConnector {
            connector_type: StorageConnectorType::OneDrive,
            resource_identifier: None,
            domains: Some(vec!["example.com".into()]),
            domains_require_admin_consent: None,
        };
        let back: StorageConnector =
            from_doc(&to_doc(c.clone()), "StorageConnector").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(back, c);
    }
}
