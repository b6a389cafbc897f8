//! jube's integration tests: the real binary against real servers on 127.0.0.1, in one test
//! binary (one link; the tests run in parallel threads). `common` is the harness.

mod common;

#[cfg(unix)] // real shells, signals and process groups
mod harness;
mod repo_server;
mod pull;
mod pull_cache;
#[cfg(unix)] // image folders with modes and symlinks, real shells
mod build_helpers;
#[cfg(unix)]
mod stock;
#[cfg(unix)]
mod build;
#[cfg(unix)]
mod push;
#[cfg(unix)]
mod commit;
mod pull_faults;
mod pull_snapshots;
mod pull_checksums;
mod pull_concurrency;
mod settings;
mod images;
mod pull_maven;
mod pull_progress;
#[cfg(unix)] // container tests: real shells, signals, process groups and /proc
mod containers_support;
#[cfg(unix)]
mod install;
#[cfg(unix)]
mod ports;
#[cfg(unix)]
mod containers_env;
#[cfg(unix)]
mod lifecycle;
#[cfg(unix)]
mod containers;
#[cfg(unix)]
mod logs;
#[cfg(unix)]
mod containers_regressions;
#[cfg(unix)] // pods run the ticker image
mod kubectl_like;
#[cfg(unix)]
mod kubectl_like_pods;
#[cfg(unix)]
mod apply;
#[cfg(unix)] // the Kubernetes API of a real daemon; pods run the ticker image
mod api_support;
#[cfg(unix)]
mod api;
#[cfg(unix)]
mod api_watch;
#[cfg(unix)]
mod api_logs;
#[cfg(unix)]
mod api_kubectl;
#[cfg(unix)] // the README's example, on the Java image
mod guestbook;
#[cfg(unix)] // pods run a Perl TCP server
mod services;
#[cfg(unix)] // the daemon supervising pods of the ticker image
mod daemon;
