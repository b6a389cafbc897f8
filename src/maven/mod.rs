//! Maven repositories: coordinates, versions, metadata, settings, and the resolver that turns an
//! image reference into a verified zip in the local repository.

pub mod builtin;
pub mod checksum;
pub mod coordinates;
pub mod deploy;
pub mod download;
pub mod encrypted;
pub mod http;
pub mod install;
pub mod local;
pub mod metadata;
pub mod repository;
pub mod resolver;
pub mod secret;
pub mod settings;
pub mod transport;
pub mod version;
