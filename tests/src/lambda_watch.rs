//! The real Lambda runtime protocol, locally: `cargo lambda watch` on 127.0.0.1 serves the
//! function binaries (each one runs `lambda_runtime`, polling the emulated Runtime API), and
//! `cargo lambda invoke <fn> --data-file <file>` sends them events. Every wait is bounded and
//! every process this starts is stopped when the [`LambdaWatch`] is dropped.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The workspace root (where `Cargo.toml`, `events/` and `template.yaml` live).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// A sample event from `events/`.
pub fn event_file(name: &str) -> PathBuf {
    let path = workspace_root().join("events").join(name);
    assert!(path.exists(), "no sample event {}", path.display());
    path
}

/// `cargo lambda watch`, listening on 127.0.0.1 on a free port.
pub struct LambdaWatch {
    child: Child,
    port: u16,
    log: PathBuf,
}

/// How long the emulator may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long one invocation may take; the first one of a function may still compile it.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(600);

fn cargo_lambda() -> Command {
    let mut command = Command::new("cargo");
    command.arg("lambda").current_dir(workspace_root());
    command
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port on 127.0.0.1")
}

impl LambdaWatch {
    /// Starts the emulator with this process's environment (the local stack's endpoint, tables
    /// and email settings, as `./dev test` exports them) plus `env`, without reloading on file
    /// changes.
    pub fn start(env: &[(&str, &str)]) -> LambdaWatch {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("cargo-lambda-watch-{}-{port}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).expect("watch log file");
        let mut command = cargo_lambda();
        command
            .args(["watch", "--ignore-changes", "--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            .args(["--timeout", &INVOKE_TIMEOUT.as_secs().to_string()])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log handle"))
            .stderr(log_file);
        // Its own process group, so that stopping it also reaches the functions it started.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().unwrap_or_else(|e| {
            panic!("cannot start `cargo lambda watch` ({e}): install cargo-lambda (./dev test puts it on PATH)")
        });
        let mut watch = LambdaWatch { child, port, log };
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = watch.child.try_wait() {
                panic!("cargo lambda watch exited ({status}) before listening:\n{}", watch.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not listen within {START_TIMEOUT:?}:\n{}",
                watch.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        watch
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the emulator and the functions logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `cargo lambda invoke <function> --data-file <file>`: the function's JSON response.
    pub fn invoke(&self, function: &str, data_file: &Path) -> Value {
        // Portal events sent this way are held to the published contract too (see `sqs_batch`).
        let data: Value = std::fs::read_to_string(data_file)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        for (detail_type, detail) in marketplace_contract::check::portal_events_in_sqs(&data) {
            marketplace_contract::check::assert_event_agrees(&detail_type, &detail);
        }
        let mut command = cargo_lambda();
        command
            .args(["invoke", function, "--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(self.port.to_string())
            .arg("--data-file")
            .arg(data_file)
            .args(["--output-format", "json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = command.spawn().expect("cargo lambda invoke");
        let output = wait_bounded(child, INVOKE_TIMEOUT)
            .unwrap_or_else(|| panic!("invoking {function} took longer than {INVOKE_TIMEOUT:?}:\n{}", self.log_text()));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "cargo lambda invoke {function} failed ({}):\n{}\n{stdout}\n--- watch log ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            self.log_text()
        );
        serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{function} answered with something that is not JSON ({e}): {stdout}"))
    }
}

/// Waits for `child` at most `timeout`; kills it and returns `None` when it takes longer.
fn wait_bounded(mut child: Child, timeout: Duration) -> Option<std::process::Output> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().ok(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Pids of every live descendant of `root` (from /proc), children before grandchildren.
fn descendants(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            // "pid (comm) state ppid ...": comm may contain spaces, so split after the last ')'.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|(_, ppid)| *ppid == parent).map(|(pid, _)| *pid));
        i += 1;
    }
    found.remove(0);
    found
}

fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill").args([signal, &pid.to_string()]).stderr(Stdio::null()).status();
}

impl Drop for LambdaWatch {
    fn drop(&mut self) {
        // The function processes may sit in process groups of their own: stop every descendant
        // by pid, then the emulator itself.
        let pids = descendants(self.child.id());
        for pid in pids.iter().rev() {
            signal(*pid, "-TERM");
        }
        let _ = self.child.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && pids.iter().any(|p| Path::new(&format!("/proc/{p}")).exists()) {
            std::thread::sleep(Duration::from_millis(50));
        }
        for pid in &pids {
            signal(*pid, "-KILL");
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// `infra/checks/recording_proxy.py` in front of the emulator: functions pointed at
/// [`RecordingProxy::endpoint`] reach moto as before, and every AWS action they call is recorded.
pub struct RecordingProxy {
    child: Child,
    endpoint: String,
    dir: PathBuf,
    taken: usize,
}

impl RecordingProxy {
    pub fn start(upstream: &str) -> RecordingProxy {
        let dir = std::env::temp_dir().join(format!("recording-proxy-{}-{}", std::process::id(), crate::unique("p")));
        std::fs::create_dir_all(&dir).expect("proxy dir");
        std::fs::write(dir.join("calls.jsonl"), "").expect("calls file");
        let mut command = Command::new("python3");
        command
            .arg(workspace_root().join("infra/checks/recording_proxy.py"))
            .args(["--upstream", upstream, "--log"])
            .arg(dir.join("calls.jsonl"))
            .arg("--port-file")
            .arg(dir.join("port"))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let child = command.spawn().expect("python3 infra/checks/recording_proxy.py");
        let mut proxy = RecordingProxy { child, endpoint: String::new(), dir, taken: 0 };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(port) = std::fs::read_to_string(proxy.dir.join("port")).ok().filter(|p| !p.is_empty()) {
                proxy.endpoint = format!("http://127.0.0.1:{port}");
                return proxy;
            }
            if let Ok(Some(status)) = proxy.child.try_wait() {
                panic!("recording proxy exited ({status})");
            }
            assert!(Instant::now() < deadline, "recording proxy did not start within 120 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Runs `policy_check.py --observed` on the calls recorded since the last check: every one
    /// must be granted to `function` (a logical id in template.yaml) on the table it touched.
    pub fn assert_calls_granted_to(&mut self, function: &str) -> String {
        let all = std::fs::read_to_string(self.dir.join("calls.jsonl")).expect("calls file");
        let lines: Vec<&str> = all.lines().collect();
        let new = lines[self.taken..].join("\n");
        self.taken = lines.len();
        let observed = self.dir.join(format!("{function}-{}.jsonl", self.taken));
        std::fs::write(&observed, new).expect("observed calls");
        let output = Command::new("python3")
            .arg(workspace_root().join("infra/checks/policy_check.py"))
            .arg("--observed")
            .arg(&observed)
            .args(["--function", function])
            .output()
            .expect("python3 infra/checks/policy_check.py");
        let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "{function} made calls its policy does not allow:\n{report}");
        report
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A local stack of its own (`infra/local_stack.py`: moto on a free 127.0.0.1 port, tables from
/// template.yaml), for a test whose fixed sample ids must not meet other tests' data.
pub struct PrivateStack {
    state: PathBuf,
    env: Vec<(String, String)>,
}

impl PrivateStack {
    pub fn start() -> PrivateStack {
        let state = std::env::temp_dir().join(format!("private-stack-{}", crate::unique("s")));
        let script = workspace_root().join("infra/local_stack.py");
        let child = Command::new("python3")
            .arg(&script)
            .args(["start", "--state"])
            .arg(&state)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 infra/local_stack.py");
        let mut stack = PrivateStack { state, env: Vec::new() };
        let output = wait_bounded(child, Duration::from_secs(300)).expect("the local stack starts within 300 s");
        assert!(output.status.success(), "local stack: {}", String::from_utf8_lossy(&output.stderr));
        let text = std::fs::read_to_string(stack.state.join("env")).expect("the stack's env file");
        stack.env = text
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_string(), shell_unquote(v)))
            .collect();
        stack
    }

    /// The environment to reach it (`AWS_ENDPOINT_URL`, `MOTO_ENDPOINT`, table names, ...).
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }
}

impl Drop for PrivateStack {
    fn drop(&mut self) {
        let _ = Command::new("python3")
            .arg(workspace_root().join("infra/local_stack.py"))
            .args(["stop", "--state"])
            .arg(&self.state)
            .stdin(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

/// A value as `infra/local_stack.py` writes it (Python's `shlex.quote`): bare, or in single quotes
/// with each `'` written as `'"'"'`.
fn shell_unquote(value: &str) -> String {
    match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        Some(inner) => inner.replace("'\"'\"'", "'"),
        None => value.to_string(),
    }
}
