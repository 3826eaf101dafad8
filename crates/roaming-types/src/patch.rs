//! The tri-state field of PATCH bodies (T-92): absent, `null`, or a value.
//!
//! Use it with `#[serde(default, skip_serializing_if = "Patch::is_absent")]` so that a field left out
//! of the JSON is [`Patch::Absent`] (unchanged), an explicit `null` is [`Patch::Null`], and anything else
//! is [`Patch::Value`]. OCPI says PATCH cannot remove data (T-92); [`Patch::apply_optional`] still
//! honours an explicit `null` on optional fields, as many peers send it, and [`Patch::apply_required`]
//! refuses `null` on required ones.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::TypeError;

/// A PATCH field: absent (leave unchanged), `null`, or a new value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    /// Not in the body: leave the field unchanged.
    #[default]
    Absent,
    /// An explicit `null`.
    Null,
    /// A new value.
    Value(T),
}

impl<T> Patch<T> {
    /// Whether the field was left out. Used by `skip_serializing_if`.
    pub fn is_absent(&self) -> bool {
        matches!(self, Self::Absent)
    }

    /// The new value, if one was given.
    pub fn value(&self) -> Option<&T> {
        match self {
            Self::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Applies the change to an optional field.
    pub fn apply_optional(self, field: &mut Option<T>) {
        match self {
            Self::Absent => {}
            Self::Null => *field = None,
            Self::Value(v) => *field = Some(v),
        }
    }

    /// Applies the change to a required field; `null` is refused with the field name.
    pub fn apply_required(self, field: &mut T, name: &'static str) -> Result<(), TypeError> {
        match self {
            Self::Absent => Ok(()),
            Self::Null => Err(TypeError::format(
                "PATCH",
                name,
                "a required field cannot be null",
            )),
            Self::Value(v) => {
                *field = v;
                Ok(())
            }
        }
    }

    /// Applies the change to a list field (`*` cardinality): `null` empties it.
    pub fn apply_list(self, field: &mut Vec<T::Item>)
    where
        T: IntoIterator,
    {
        match self {
            Self::Absent => {}
            Self::Null => field.clear(),
            Self::Value(v) => *field = v.into_iter().collect(),
        }
    }
}

impl<T> From<Option<T>> for Patch<T> {
    fn from(v: Option<T>) -> Self {
        match v {
            Some(v) => Self::Value(v),
            None => Self::Null,
        }
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Value(v) => serializer.serialize_some(v),
            Self::Absent | Self::Null => serializer.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(deserializer)?.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Body {
        #[serde(default, skip_serializing_if = "Patch::is_absent")]
        name: Patch<String>,
        #[serde(default, skip_serializing_if = "Patch::is_absent")]
        size: Patch<u32>,
    }

    #[test]
    fn t92_absent_null_and_value_are_distinct() {
        let b: Body = serde_json::from_str(r#"{"name": null}"#).unwrap();
        assert_eq!(b.name, Patch::Null);
        assert_eq!(b.size, Patch::Absent);
        let b: Body = serde_json::from_str(r#"{"size": 3}"#).unwrap();
        assert_eq!(b.size, Patch::Value(3));
        assert_eq!(serde_json::to_string(&b).unwrap(), r#"{"size":3}"#);
        let b = Body {
            name: Patch::Null,
            size: Patch::Absent,
        };
        assert_eq!(serde_json::to_string(&b).unwrap(), r#"{"name":null}"#);
    }

    #[test]
    fn apply_rules() {
        let mut opt = Some(1);
        Patch::Absent.apply_optional(&mut opt);
        assert_eq!(opt, Some(1));
        Patch::Null.apply_optional(&mut opt);
        assert_eq!(opt, None);
        let mut req = 1;
        assert!(Patch::Null.apply_required(&mut req, "kwh").is_err());
        Patch::Value(2).apply_required(&mut req, "kwh").unwrap();
        assert_eq!(req, 2);
        let mut list = vec![1, 2];
        Patch::Value(vec![3]).apply_list(&mut list);
        assert_eq!(list, vec![3]);
    }
}
