//! Every environment variable jube reads, in one place, so that no other code spells a
//! variable's name and the test harness can clear them all.

/// Names of the environment variables jube reads.
pub struct EnvVars;

impl EnvVars {
    /// jube's own data: containers, port leases, the object store. Default: the platform's local
    /// data folder plus `jube`.
    pub const JUBE_HOME: &'static str = "JUBE_HOME";
    /// The Maven local repository, overriding settings.xml `localRepository` and `~/.m2/repository`.
    pub const JUBE_LOCAL_REPO: &'static str = "JUBE_LOCAL_REPO";
    /// Remote repositories, a comma list in Jube syntax: `[user:pass@]url[@id=ID][@snapshots][@noreleases]`.
    pub const JUBE_REMOTE_MAVEN_REPOS: &'static str = "JUBE_REMOTE_MAVEN_REPOS";
    /// The Maven settings file. Default: `~/.m2/settings.xml`.
    pub const JUBE_MAVEN_SETTINGS: &'static str = "JUBE_MAVEN_SETTINGS";
    /// The file holding Maven's master password, as `mvn -Dsettings.security=FILE` takes it.
    /// Default: `~/.m2/settings-security.xml`.
    pub const JUBE_MAVEN_SETTINGS_SECURITY: &'static str = "JUBE_MAVEN_SETTINGS_SECURITY";
    /// The groupId prefix image names map under. Default: `io.fabric8.jube.images`.
    pub const JUBE_IMAGE_GROUP_PREFIX: &'static str = "JUBE_IMAGE_GROUP_PREFIX";
    /// First host port jube leases. Default: 48000.
    pub const JUBE_PORT_START: &'static str = "JUBE_PORT_START";
    /// Last host port jube leases. Default: 65535.
    pub const JUBE_PORT_END: &'static str = "JUBE_PORT_END";
    /// The loopback range Service addresses (`spec.clusterIP`) come from. Default: 127.77.0.0/16.
    pub const JUBE_SERVICE_CIDR: &'static str = "JUBE_SERVICE_CIDR";
    /// The hosts file the daemon keeps Service names in. Default: /etc/hosts
    /// (`%SystemRoot%\System32\drivers\etc\hosts` on Windows).
    pub const JUBE_HOSTS_FILE: &'static str = "JUBE_HOSTS_FILE";
    /// Seconds to wait for a TCP connection to a repository. Default: 10.
    pub const JUBE_CONNECT_TIMEOUT: &'static str = "JUBE_CONNECT_TIMEOUT";
    /// Seconds a repository may stay silent while sending. Default: 60.
    pub const JUBE_READ_TIMEOUT: &'static str = "JUBE_READ_TIMEOUT";
    /// How often a transient download failure is retried. Default: 3.
    pub const JUBE_HTTP_RETRIES: &'static str = "JUBE_HTTP_RETRIES";
    /// Seconds a lock may be waited for before giving up. Default: 300.
    pub const JUBE_LOCK_TIMEOUT: &'static str = "JUBE_LOCK_TIMEOUT";
    /// Seconds an image script (start.sh, stop.sh, kill.sh, status.sh) may run. Default: 60.
    pub const JUBE_SCRIPT_TIMEOUT: &'static str = "JUBE_SCRIPT_TIMEOUT";
    /// Seconds to wait for an app to write its pid file after start.sh. Default: 10.
    pub const JUBE_PID_TIMEOUT: &'static str = "JUBE_PID_TIMEOUT";
    /// Most bytes one image may unpack to (zip bombs). Default: 4 GiB.
    pub const JUBE_UNPACK_MAX_BYTES: &'static str = "JUBE_UNPACK_MAX_BYTES";
    /// Most entries one image zip may hold. Default: 200000.
    pub const JUBE_UNPACK_MAX_ENTRIES: &'static str = "JUBE_UNPACK_MAX_ENTRIES";
    /// Most bytes an image zip may unpack to per byte of the zip, once it unpacks to more than
    /// 64 MiB (zip bombs by ratio, overlapping entries among them). Default: 200.
    pub const JUBE_UNPACK_MAX_RATIO: &'static str = "JUBE_UNPACK_MAX_RATIO";
    /// Most bytes in one file of a container's console log before it is rotated: bytes or
    /// `512k`, `20m`, `1g`. Default: 20m.
    pub const JUBE_LOG_MAX_SIZE: &'static str = "JUBE_LOG_MAX_SIZE";
    /// Most console log files kept per run (the one written included). Default: 5.
    pub const JUBE_LOG_MAX_FILES: &'static str = "JUBE_LOG_MAX_FILES";
    /// Maven Central's URL, or `off` to leave it out of the repositories.
    pub const JUBE_MAVEN_CENTRAL: &'static str = "JUBE_MAVEN_CENTRAL";
    /// Where `jube daemon` listens when --listen is not given. Default: 127.0.0.1:8585, or any free
    /// port when that one is taken.
    pub const JUBE_DAEMON_LISTEN: &'static str = "JUBE_DAEMON_LISTEN";
    /// The file holding the bearer token the daemon's API requires, when `jube daemon` is given no
    /// --token-file. Required when the API listens beyond loopback.
    pub const JUBE_DAEMON_TOKEN_FILE: &'static str = "JUBE_DAEMON_TOKEN_FILE";
    /// Seconds before the first restart of a crashing pod container; doubles up to 5 minutes. Default: 10.
    pub const JUBE_BACKOFF_BASE: &'static str = "JUBE_BACKOFF_BASE";
    /// Test switch: no delay between retries.
    pub const JUBE_TEST_NO_RETRY_DELAY: &'static str = "JUBE_TEST_NO_RETRY_DELAY";
    /// Proxies as curl reads them (used when settings.xml declares none).
    pub const HTTP_PROXY: &'static str = "HTTP_PROXY";
    pub const HTTPS_PROXY: &'static str = "HTTPS_PROXY";
    pub const NO_PROXY: &'static str = "NO_PROXY";
    /// kubectl's list of kubeconfig files; `jube kubeconfig --merge` writes into the first.
    pub const KUBECONFIG: &'static str = "KUBECONFIG";
    /// Turns off colour in jube's own output.
    pub const NO_COLOR: &'static str = "NO_COLOR";

    /// Every `JUBE_*` variable, for test harnesses that must start from a clean slate.
    pub const ALL_JUBE: &'static [&'static str] = &[
        Self::JUBE_HOME,
        Self::JUBE_LOCAL_REPO,
        Self::JUBE_REMOTE_MAVEN_REPOS,
        Self::JUBE_MAVEN_SETTINGS,
        Self::JUBE_MAVEN_SETTINGS_SECURITY,
        Self::JUBE_IMAGE_GROUP_PREFIX,
        Self::JUBE_PORT_START,
        Self::JUBE_PORT_END,
        Self::JUBE_SERVICE_CIDR,
        Self::JUBE_HOSTS_FILE,
        Self::JUBE_CONNECT_TIMEOUT,
        Self::JUBE_READ_TIMEOUT,
        Self::JUBE_HTTP_RETRIES,
        Self::JUBE_LOCK_TIMEOUT,
        Self::JUBE_SCRIPT_TIMEOUT,
        Self::JUBE_PID_TIMEOUT,
        Self::JUBE_UNPACK_MAX_BYTES,
        Self::JUBE_UNPACK_MAX_ENTRIES,
        Self::JUBE_UNPACK_MAX_RATIO,
        Self::JUBE_LOG_MAX_SIZE,
        Self::JUBE_LOG_MAX_FILES,
        Self::JUBE_MAVEN_CENTRAL,
        Self::JUBE_DAEMON_LISTEN,
        Self::JUBE_DAEMON_TOKEN_FILE,
        Self::JUBE_BACKOFF_BASE,
        Self::JUBE_TEST_NO_RETRY_DELAY,
    ];
}

/// Reads a variable, treating an empty value as unset.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
