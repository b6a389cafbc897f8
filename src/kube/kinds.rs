//! The kinds of object jube understands, and where the Kubernetes API serves each.

use std::fmt;

/// A kind jube stores and serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Namespace,
    Pod,
    ReplicationController,
    Service,
    ReplicaSet,
    Deployment,
    Job,
    ConfigMap,
    Secret,
    ServiceAccount,
    PersistentVolumeClaim,
    Event,
    /// A Service's ready pods, which the controller writes (core v1).
    Endpoints,
    /// The same, as discovery.k8s.io/v1 lists them.
    EndpointSlice,
}

impl Kind {
    pub const ALL: [Kind; 14] = [
        Kind::Namespace,
        Kind::Pod,
        Kind::ReplicationController,
        Kind::Service,
        Kind::ConfigMap,
        Kind::Secret,
        Kind::ServiceAccount,
        Kind::PersistentVolumeClaim,
        Kind::Event,
        Kind::Endpoints,
        Kind::ReplicaSet,
        Kind::Deployment,
        Kind::Job,
        Kind::EndpointSlice,
    ];

    /// The `kind` field's value.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::Pod => "Pod",
            Kind::ReplicationController => "ReplicationController",
            Kind::Service => "Service",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::Deployment => "Deployment",
            Kind::Job => "Job",
            Kind::ConfigMap => "ConfigMap",
            Kind::Secret => "Secret",
            Kind::ServiceAccount => "ServiceAccount",
            Kind::PersistentVolumeClaim => "PersistentVolumeClaim",
            Kind::Event => "Event",
            Kind::Endpoints => "Endpoints",
            Kind::EndpointSlice => "EndpointSlice",
        }
    }

    /// The URL segment: `pods`.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Namespace => "namespaces",
            Kind::Pod => "pods",
            Kind::ReplicationController => "replicationcontrollers",
            Kind::Service => "services",
            Kind::ReplicaSet => "replicasets",
            Kind::Deployment => "deployments",
            Kind::Job => "jobs",
            Kind::ConfigMap => "configmaps",
            Kind::Secret => "secrets",
            Kind::ServiceAccount => "serviceaccounts",
            Kind::PersistentVolumeClaim => "persistentvolumeclaims",
            Kind::Event => "events",
            Kind::Endpoints => "endpoints",
            Kind::EndpointSlice => "endpointslices",
        }
    }

    /// kubectl's short names: `po`, `rc`, `svc`, `ns`.
    pub fn short_names(self) -> &'static [&'static str] {
        match self {
            Kind::Namespace => &["ns"],
            Kind::Pod => &["po"],
            Kind::ReplicationController => &["rc"],
            Kind::Service => &["svc"],
            Kind::ReplicaSet => &["rs"],
            Kind::Deployment => &["deploy"],
            Kind::Job | Kind::Secret | Kind::EndpointSlice => &[],
            Kind::Endpoints => &["ep"],
            Kind::ConfigMap => &["cm"],
            Kind::ServiceAccount => &["sa"],
            Kind::PersistentVolumeClaim => &["pvc"],
            Kind::Event => &["ev"],
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            Kind::Namespace => "namespace",
            Kind::Pod => "pod",
            Kind::ReplicationController => "replicationcontroller",
            Kind::Service => "service",
            Kind::ReplicaSet => "replicaset",
            Kind::Deployment => "deployment",
            Kind::Job => "job",
            Kind::ConfigMap => "configmap",
            Kind::Secret => "secret",
            Kind::ServiceAccount => "serviceaccount",
            Kind::PersistentVolumeClaim => "persistentvolumeclaim",
            Kind::Event => "event",
            Kind::Endpoints => "endpoints",
            Kind::EndpointSlice => "endpointslice",
        }
    }

    /// The API group: `""` for the core group.
    pub fn group(self) -> &'static str {
        match self {
            Kind::ReplicaSet | Kind::Deployment => "apps",
            Kind::Job => "batch",
            Kind::EndpointSlice => "discovery.k8s.io",
            _ => "",
        }
    }

    /// `v1` for the core group, `group/version` otherwise.
    pub fn api_version(self) -> &'static str {
        match self.group() {
            "apps" => "apps/v1",
            "batch" => "batch/v1",
            "discovery.k8s.io" => "discovery.k8s.io/v1",
            _ => "v1",
        }
    }

    /// Where the kind's group version is served: `/api/v1` or `/apis/apps/v1`.
    pub fn api_root(self) -> &'static str {
        match self.group() {
            "apps" => "/apis/apps/v1",
            "batch" => "/apis/batch/v1",
            "discovery.k8s.io" => "/apis/discovery.k8s.io/v1",
            _ => "/api/v1",
        }
    }

    /// Whether it keeps replicas of a pod template (and has a `scale` subresource).
    pub fn scalable(self) -> bool {
        matches!(
            self,
            Kind::ReplicationController | Kind::ReplicaSet | Kind::Deployment
        )
    }

    /// Whether `kubectl get all` lists it.
    pub fn in_category_all(self) -> bool {
        !matches!(
            self,
            Kind::Namespace
                | Kind::ConfigMap
                | Kind::Secret
                | Kind::ServiceAccount
                | Kind::PersistentVolumeClaim
                | Kind::Event
                | Kind::Endpoints
                | Kind::EndpointSlice
        )
    }

    /// Whether it has a `status` (and so a `status` subresource).
    pub fn has_status(self) -> bool {
        !matches!(
            self,
            Kind::ConfigMap
                | Kind::Secret
                | Kind::ServiceAccount
                | Kind::Event
                | Kind::Endpoints
                | Kind::EndpointSlice
        )
    }

    pub fn namespaced(self) -> bool {
        self != Kind::Namespace
    }

    /// The kind a `kind` field names.
    pub fn from_kind(kind: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == kind)
    }

    /// The kind a command-line word names: `pods`, `pod`, `po`, `Pod`, `rc`, `replicationcontrollers`...
    pub fn from_word(word: &str) -> Option<Kind> {
        let w = word.to_ascii_lowercase();
        let w = w.split('.').next().unwrap_or_default();
        Kind::ALL.into_iter().find(|k| {
            k.plural() == w
                || k.singular() == w
                || k.short_names().contains(&w)
                || k.name().eq_ignore_ascii_case(w)
        })
    }

    /// The collection's path: `/api/v1/namespaces/{ns}/pods`, or `/api/v1/namespaces` for namespaces.
    pub fn collection_path(self, namespace: Option<&str>) -> String {
        match (self.namespaced(), namespace) {
            (true, Some(ns)) => format!("{}/namespaces/{ns}/{}", self.api_root(), self.plural()),
            _ => format!("{}/{}", self.api_root(), self.plural()),
        }
    }

    pub fn object_path(self, namespace: Option<&str>, name: &str) -> String {
        format!("{}/{name}", self.collection_path(namespace))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The namespace objects go to when none is given.
pub const DEFAULT_NAMESPACE: &str = "default";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_name_kinds_as_kubectl_reads_them() {
        for (word, kind) in [
            ("pods", Kind::Pod),
            ("po", Kind::Pod),
            ("Pod", Kind::Pod),
            ("rc", Kind::ReplicationController),
            ("replicationcontroller", Kind::ReplicationController),
            ("svc", Kind::Service),
            ("services", Kind::Service),
            ("ns", Kind::Namespace),
        ] {
            assert_eq!(Kind::from_word(word), Some(kind), "{word}");
        }
        assert_eq!(Kind::from_word("deploy"), Some(Kind::Deployment));
        assert_eq!(Kind::from_word("rs"), Some(Kind::ReplicaSet));
        assert_eq!(Kind::from_word("jobs.batch"), Some(Kind::Job));
        assert_eq!(Kind::from_word("statefulsets"), None);
        assert_eq!(
            Kind::Deployment.object_path(Some("default"), "web"),
            "/apis/apps/v1/namespaces/default/deployments/web"
        );
        assert_eq!(
            Kind::Pod.object_path(Some("default"), "web"),
            "/api/v1/namespaces/default/pods/web"
        );
        assert_eq!(Kind::Namespace.object_path(None, "dev"), "/api/v1/namespaces/dev");
    }
}
