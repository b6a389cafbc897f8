//! jube's integration tests: the real binary against real servers on 127.0.0.1, in one test
//! binary (one link; the tests run in parallel threads). `common` is the harness.

mod common;

#[cfg(unix)]
mod api;
#[cfg(unix)] // server-side apply through the real kubectl
mod api_apply;
#[cfg(unix)] // file modes, curl and kubectl
mod api_guard;
#[cfg(unix)]
mod api_kubectl;
#[cfg(unix)]
mod api_logs;
#[cfg(unix)] // the real kubectl: explain and strict validation
mod api_schemas;
#[cfg(unix)] // the Kubernetes API of a real daemon; pods run the ticker image
mod api_support;
#[cfg(unix)] // the real kubectl: nodes and `top`, pods whose process trees burn CPU
mod api_top;
#[cfg(unix)]
mod api_watch;
#[cfg(unix)]
mod apply;
#[cfg(unix)]
mod build;
#[cfg(unix)] // image folders with modes and symlinks, real shells
mod build_helpers;
#[cfg(unix)]
mod commit;
#[cfg(unix)] // the real kubectl against a daemon, file modes
mod config;
#[cfg(unix)]
mod containers;
#[cfg(unix)]
mod containers_env;
#[cfg(unix)]
mod containers_regressions;
#[cfg(unix)] // container tests: real shells, signals, process groups and /proc
mod containers_support;
#[cfg(unix)] // the daemon supervising pods of the ticker image
mod daemon;
#[cfg(target_os = "linux")] // SIGKILL, tmpfs mounts and /proc
mod faults;
#[cfg(unix)] // modes, owners and real shells
mod files;
#[cfg(unix)] // the README's example, on the Java image
mod guestbook;
#[cfg(unix)] // real shells, signals and process groups
mod harness;
#[cfg(unix)] // probes: the real kubectl, perl servers, signals
mod health;
mod images;
#[cfg(unix)] // init containers and pods of several containers, with the real kubectl
mod init;
#[cfg(unix)]
mod install;
#[cfg(unix)] // the real kubectl into running pods: exec, cp, attach, port-forward
mod kubectl_exec;
#[cfg(unix)] // pods run the ticker image
mod kubectl_like;
#[cfg(unix)]
mod kubectl_like_pods;
#[cfg(unix)]
mod lifecycle;
#[cfg(unix)]
mod logs;
#[cfg(unix)] // pods run shell loops; the real kubectl follows them
mod logs_rotation;
#[cfg(unix)] // pods run shell scripts that crash and print by the clock; the real kubectl
mod logs_runs;
#[cfg(target_os = "linux")] // skopeo, umoci and runc read and run the exported archives
mod oci_archive;
#[cfg(target_os = "linux")] // runc runs the exported bundle
mod oci_bundle;
#[cfg(target_os = "linux")] // skopeo and umoci make the images; hostile archives by hand
mod oci_import;
#[cfg(target_os = "linux")] // runc, namespaces and /proc
mod oci_isolated;
#[cfg(target_os = "linux")]
mod oci_support;
#[cfg(unix)]
mod ports;
mod pull;
mod pull_cache;
mod pull_checksums;
mod pull_concurrency;
mod pull_faults;
mod pull_hostile;
mod pull_hostile_xml;
mod pull_maven;
mod pull_progress;
mod pull_snapshots;
#[cfg(unix)]
mod push;
mod repo_server;
#[cfg(unix)] // /proc for the processes' arguments
mod secrets;
#[cfg(unix)] // pods run Perl HTTP servers and clients
mod service_names;
#[cfg(unix)] // pods run a Perl TCP server
mod services;
mod settings;
#[cfg(unix)]
mod stock;
#[cfg(unix)] // `jube top`: built images, a daemon, and its screen driven in tmux
mod top;
#[cfg(target_os = "linux")] // jube.exe under wine: the Windows build's suite
mod windows_wine;
#[cfg(unix)] // Deployments, ReplicaSets and Jobs through the real kubectl; pods run Perl and the ticker
mod workloads;
