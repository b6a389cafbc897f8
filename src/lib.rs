//! jube runs applications packaged as image zips from Maven repositories, and apps described as
//! Kubernetes manifests, as plain local processes.

pub mod cli;
pub mod container;
pub mod env_vars;
pub mod fsutil;
pub mod image;
pub mod kube;
pub mod layout;
pub mod maven;
pub mod oci;
pub mod pathpart;
pub mod properties;
pub mod registry;
pub mod reporter;
