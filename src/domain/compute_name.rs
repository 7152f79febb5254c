//! Azure ML compute names. Rule from the REST spec (2025-12-01 TypeSpec):
//! `^[a-zA-Z](?![a-zA-Z0-9-]*-\d+$)[a-zA-Z0-9\-]{2,23}$`.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A compute name the Azure ML RP will accept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComputeName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComputeNameError {
    #[error("compute name must be 3 to 24 characters long; got {len}")]
    Length { len: usize },
    #[error("compute name must start with a letter; got '{first}'")]
    FirstChar { first: char },
    #[error(
        "compute name may contain only letters, digits and hyphens; found '{found}' at position {position}"
    )]
    InvalidChar { found: char, position: usize },
    #[error("compute name must not end with a hyphen followed by digits (like '-1'); got '{name}'")]
    TrailingHyphenDigits { name: String },
}

impl ComputeName {
    pub fn parse(s: &str) -> Result<Self, ComputeNameError> {
        let len = s.chars().count();
        if !(3..=24).contains(&len) {
            return Err(ComputeNameError::Length { len });
        }
        let mut chars = s.chars();
        if let Some(first) = chars.next()
            && !first.is_ascii_alphabetic()
        {
            return Err(ComputeNameError::FirstChar { first });
        }
        if let Some((position, found)) = s
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(ComputeNameError::InvalidChar {
                found,
                position: position + 1,
            });
        }
        // All ASCII from here on, so byte indexing is char indexing.
        let digits = s.bytes().rev().take_while(u8::is_ascii_digit).count();
        if digits > 0 && s.as_bytes()[s.len() - digits - 1] == b'-' {
            return Err(ComputeNameError::TrailingHyphenDigits { name: s.to_owned() });
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ComputeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ComputeName {
    type Err = ComputeNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for ComputeName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for ComputeName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ComputeName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_spec_examples() {
        for ok in [
            "abc",
            "sparkpool1",
            "my-spark-pool",
            "A1-b2-c",
            "a--b",
            "abcdefghijklmnopqrstuvwx",
            "pool-1a",
        ] {
            assert_eq!(ComputeName::parse(ok).unwrap().to_string(), ok);
        }
    }

    #[test]
    fn each_rule_has_its_own_message() {
        assert_eq!(
            ComputeName::parse("ab").unwrap_err().to_string(),
            "compute name must be 3 to 24 characters long; got 2"
        );
        assert_eq!(
            ComputeName::parse(&"a".repeat(25)).unwrap_err(),
            ComputeNameError::Length { len: 25 }
        );
        assert_eq!(
            ComputeName::parse("1abc").unwrap_err().to_string(),
            "compute name must start with a letter; got '1'"
        );
        assert_eq!(
            ComputeName::parse("spark_pool").unwrap_err().to_string(),
            "compute name may contain only letters, digits and hyphens; found '_' at position 6"
        );
        assert_eq!(
            ComputeName::parse("pool-12").unwrap_err().to_string(),
            "compute name must not end with a hyphen followed by digits (like '-1'); got 'pool-12'"
        );
        assert!(matches!(
            ComputeName::parse("a-1").unwrap_err(),
            ComputeNameError::TrailingHyphenDigits { .. }
        ));
        assert!(matches!(
            ComputeName::parse("éabc").unwrap_err(),
            ComputeNameError::FirstChar { first: 'é' }
        ));
        assert!(matches!(
            ComputeName::parse("abcé").unwrap_err(),
            ComputeNameError::InvalidChar {
                found: 'é',
                position: 4
            }
        ));
    }

    #[test]
    fn serde_goes_through_parse() {
        let n: ComputeName = serde_json::from_str("\"sparkpool1\"").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"sparkpool1\"");
        let err = serde_json::from_str::<ComputeName>("\"ab\"").unwrap_err();
        assert!(err.to_string().contains("3 to 24"), "{err}");
    }
}
