//! Maven repositories: coordinates, versions, metadata, settings, and the resolver that turns an
//! image reference into a verified zip in the local repository.

pub mod coordinates;
