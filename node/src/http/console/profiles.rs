//! The registered profiles as the console lists them: who asks, how answers are released, and
//! which queries with which parameters.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::http::admin::AdminState;
use crate::profile::{Profile, ProfileQuery, Release};

/// One registered profile version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileView {
    /// Profile IRI.
    pub iri: String,
    /// Version.
    pub version: String,
    /// Title.
    pub title: String,
    /// Who asks.
    pub consumer: String,
    /// Purpose of the exchange.
    pub purpose: String,
    /// Legal basis.
    pub legal_basis: String,
    /// Ontologies the queries are written against.
    pub ontologies: Vec<String>,
    /// `auto` or `manual`.
    pub release: String,
    /// For manual release, the hours the operator has to decide.
    pub deadline_hours: Option<u64>,
    /// Whether the node serves it.
    pub active: bool,
    /// Its queries.
    pub queries: Vec<QueryView>,
}

/// One query of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryView {
    /// Id as numbered by the Afsprakenset.
    pub id: String,
    /// Title.
    pub title: String,
    /// Declared parameters.
    pub parameters: Vec<ParameterView>,
}

/// One declared parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterView {
    /// The SPARQL variable, without `?`.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether the consumer must supply it.
    pub required: bool,
}

impl From<&Profile> for ProfileView {
    fn from(profile: &Profile) -> Self {
        let (release, deadline_hours) = match profile.release {
            Release::Auto => ("auto", None),
            Release::Manual { deadline } => ("manual", Some(deadline.as_secs() / 3600)),
        };
        Self {
            iri: profile.iri.clone(),
            version: profile.version.clone(),
            title: profile.title.clone(),
            consumer: profile.consumer.clone(),
            purpose: profile.purpose.clone(),
            legal_basis: profile.legal_basis.clone(),
            ontologies: profile.ontologies.clone(),
            release: release.to_owned(),
            deadline_hours,
            active: profile.active,
            queries: profile.queries.iter().map(QueryView::from).collect(),
        }
    }
}

impl From<&ProfileQuery> for QueryView {
    fn from(query: &ProfileQuery) -> Self {
        Self {
            id: query.id.clone(),
            title: query.title.clone(),
            parameters: query
                .parameters
                .iter()
                .map(|p| ParameterView {
                    name: p.name.clone(),
                    kind: p.kind.to_string(),
                    required: p.required,
                })
                .collect(),
        }
    }
}

/// `GET /admin/profiles`: `{"profiles": [ProfileView…]}` in file name order.
pub(super) async fn list(State(state): State<AdminState>) -> Json<serde_json::Value> {
    let index = state.console.profiles.get();
    let profiles: Vec<ProfileView> = index
        .registry()
        .profiles()
        .iter()
        .map(ProfileView::from)
        .collect();
    Json(serde_json::json!({ "profiles": profiles }))
}
