//! Kubernetes-described apps: the object store, manifests, the reconciler that runs pods as jube
//! containers, service proxies, and the Kubernetes REST API the daemon serves.

pub mod api;
pub mod client;
pub mod cluster_ip;
pub mod controller;
pub mod daemon;
pub mod deployment;
pub mod describe;
pub mod endpoints;
pub mod events;
pub mod fieldset;
pub mod gc;
pub mod hosts;
pub mod job;
pub mod kinds;
pub mod kubeconfig;
pub mod managed;
pub mod manifest;
pub mod metrics;
pub mod node;
pub mod patch;
pub mod podenv;
pub mod pods;
pub mod probes;
pub mod proxy;
pub mod reconcile;
pub mod rollout;
pub mod selector;
pub mod services;
pub mod status;
pub mod store;
pub mod table;
pub mod token;
pub mod volumes;
