//! `pods/{name}/log`: the log of the jube container that runs one of a pod's containers (the
//! container labelled with the pod and the container name), as `jube logs` shows it: the console
//! log, then the app's own log files. `previous` shows the console log of the run before the last
//! restart; `sinceSeconds`/`sinceTime` and `timestamps` work on the console log, the one with a
//! time for each line. `follow` streams until the client goes away, the container is removed or
//! the daemon stops.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::container::lifecycle::Containers;
use crate::container::logread::Query;
use crate::container::logs;
use crate::container::state::State;
use crate::kube::api::objects::get_object;
use crate::kube::api::request::{Params, Target};
use crate::kube::api::{Shared, stream};
use crate::kube::kinds::Kind;
use crate::kube::selector::{CONTAINER_LABEL, POD_LABEL, POD_UID_LABEL};
use crate::kube::status::ApiError;

/// What a log request asks for.
struct LogRequest {
    container: Option<String>,
    follow: bool,
    previous: bool,
    limit: Option<u64>,
    query: Query,
}

impl LogRequest {
    fn read(params: &Params) -> Result<Self, ApiError> {
        let since_seconds = params.number("sinceSeconds")?;
        let since_time = params.get("sinceTime").filter(|t| !t.is_empty());
        let now = jiff::Timestamp::now().as_nanosecond();
        let since = match (since_seconds, since_time) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "at most one of `sinceTime` or `sinceSeconds` may be specified",
                ));
            }
            (Some(0), None) => {
                return Err(ApiError::bad_request("sinceSeconds: must be greater than 0"));
            }
            (Some(secs), None) => Some(now - i128::from(secs) * 1_000_000_000),
            (None, Some(text)) => Some(
                text.parse::<jiff::Timestamp>()
                    .map_err(|e| {
                        ApiError::bad_request(format!("sinceTime: `{text}` is not an RFC 3339 time: {e}"))
                    })?
                    .as_nanosecond(),
            ),
            (None, None) => None,
        };
        Ok(Self {
            container: params
                .get("container")
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
            follow: params.flag("follow")?,
            previous: params.flag("previous")?,
            limit: params.number("limitBytes")?.filter(|n| *n > 0),
            query: Query {
                since: since.map(|n| i64::try_from(n).unwrap_or(0)),
                tail: params.number("tailLines")?.map(|n| n as usize),
                timestamps: params.flag("timestamps")?,
            },
        })
    }

    /// Whether lines are picked or stamped by their time.
    fn timed(&self) -> bool {
        self.query.since.is_some() || self.query.timestamps
    }
}

pub async fn log(state: Shared, target: Target, params: Params) -> Result<Response, ApiError> {
    let request = LogRequest::read(&params)?;
    let name = target.name.clone().unwrap_or_default();
    let namespace = target.store_namespace().to_owned();
    let looked_up = state.clone();
    let wanted = request.container.clone();
    let (containers, found) =
        tokio::task::spawn_blocking(move || find(&looked_up, &namespace, &name, wanted.as_deref()))
            .await
            .map_err(|e| ApiError::internal(format!("cannot look up the pod's container: {e}")))??;
    let console = containers.console_log(&found);
    let app_base = containers.app_base(&found);
    let folder = containers.layout().container_dir(&found.id);
    if request.previous && !logs::has_previous(&console) {
        let container = request
            .container
            .clone()
            .unwrap_or_else(|| container_label(&found));
        return Err(ApiError::bad_request(format!(
            "previous terminated container \"{container}\" in pod \"{}\" not found",
            target.name.clone().unwrap_or_default()
        )));
    }
    let (previous, timed) = (request.previous, request.timed());
    let files = move || logs::choose(&console, &app_base, previous, timed, None).unwrap_or_default();
    let query = request.query;

    // The previous run has ended: nothing more comes to its log.
    if !request.follow || request.previous {
        let text = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            logs::print(&files(), &query, &mut out).map(|_| out)
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(format!("cannot read the container's log: {e}")))?;
        let mut text = text;
        if let Some(limit) = request.limit {
            text.truncate(limit.min(text.len() as u64) as usize);
        }
        let mut response = (StatusCode::OK, text).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT));
        return Ok(response);
    }

    let (tx, response) = stream::channel(TEXT);
    let shutdown = state.shutdown.subscribe();
    tokio::task::spawn_blocking(move || {
        let mut out = Limited {
            inner: stream::ChannelWriter { tx: tx.clone() },
            left: request.limit.unwrap_or(u64::MAX),
        };
        let Ok(positions) = logs::print(&files(), &query, &mut out) else {
            return;
        };
        let keep_going = || !tx.is_closed() && folder.exists() && shutdown.borrow().is_none();
        let _ = logs::follow(files, positions, &mut out, keep_going);
    });
    Ok(response)
}

const TEXT: &str = "text/plain; charset=utf-8";

/// Stops writing (as a broken pipe) once `limitBytes` are out.
struct Limited<W> {
    inner: W,
    left: u64,
}

impl<W: std::io::Write> std::io::Write for Limited<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        let n = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        self.inner.write_all(&buf[..n])?;
        self.left -= n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The pod's container name a jube container runs.
fn container_label(state: &State) -> String {
    state
        .labels
        .get(CONTAINER_LABEL)
        .cloned()
        .unwrap_or_else(|| state.name.clone())
}

/// The pod's container to show (the one asked for, or the only one) and the jube container
/// running it.
pub(super) fn find(
    state: &Shared,
    namespace: &str,
    name: &str,
    wanted: Option<&str>,
) -> Result<(Containers, State), ApiError> {
    let pod = get_object(state, Kind::Pod, namespace, name)?;
    let names = crate::kube::reconcile::container_names(&pod);
    let inits = crate::kube::reconcile::init_container_names(&pod);
    let container = match wanted {
        Some(c) if names.iter().chain(&inits).any(|n| n == c) => c.to_owned(),
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        None => match names.as_slice() {
            [only] => only.clone(),
            _ => {
                let init = if inits.is_empty() {
                    String::new()
                } else {
                    format!(" or one of the init containers: [{}]", inits.join(" "))
                };
                return Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]{init}",
                    names.join(" ")
                )));
            }
        },
    };
    let uid = pod
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let containers = Containers::new(state.layout.clone());
    let pod_key = format!("{namespace}/{name}");
    let conventional = format!("k8s_{container}_{name}_{namespace}");
    let found = containers
        .list()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|s| s.labels.get(POD_LABEL) == Some(&pod_key))
        .filter(|s| match s.labels.get(CONTAINER_LABEL) {
            Some(c) => *c == container,
            None => s.name == conventional,
        })
        // This pod's own container before one a pod of the same name left behind.
        .max_by_key(|s| {
            (
                s.labels.get(POD_UID_LABEL).map(String::as_str) == Some(uid),
                s.created,
            )
        });
    let found = found.ok_or_else(|| {
        ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
        ))
    })?;
    Ok((containers, found))
}
