//! `workflow:` (Maestro's): the profile a workflow follows, as written. What it means is in
//! `workflow::profile`.

use super::nullable;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkflowSection {
    pub profile: Option<ProfileSection>,
}

/// `workflow.profile`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileSection {
    /// The profile kind; unset: `coding_pr_delivery`.
    pub kind: Option<String>,
    /// Route key → the tracker states that mean it.
    #[serde(deserialize_with = "nullable")]
    pub routes: BTreeMap<String, RouteStates>,
    /// The host tools the agent is offered (see `workflow::host_tools`); unset: the
    /// profile's default list.
    pub tools: Option<Vec<String>>,
}

/// One state name or a list of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteStates(pub Vec<String>);

impl<'de> Deserialize<'de> for RouteStates {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct States;
        impl<'de> Visitor<'de> for States {
            type Value = RouteStates;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a state name or a list of state names")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<RouteStates, E> {
                Ok(RouteStates(vec![value.to_owned()]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RouteStates, A::Error> {
                let mut states = Vec::new();
                while let Some(state) = seq.next_element::<String>()? {
                    states.push(state);
                }
                Ok(RouteStates(states))
            }
        }
        deserializer.deserialize_any(States)
    }
}
