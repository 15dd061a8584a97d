//! `nagare bench` against a real `nagare serve`: each client kind puts exactly the records it
//! was asked for, with no errors, and the JSON line says so.

mod common;

use std::process::{Child, Command};

struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let (child, url) = common::serve(dir.path(), &["--fsync", "never"]);
    Server {
        child,
        url,
        _dir: dir,
    }
}

fn bench(server: &Server, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_nagare"))
        .arg("bench")
        .args(args)
        .args(["--endpoint", &server.url, "--duration-secs", "30"])
        .output()
        .expect("run nagare bench");
    assert!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(stdout.lines().count(), 1, "one JSON line: {stdout}");
    serde_json::from_str(stdout.trim()).expect("JSON line")
}

#[test]
fn put_record_with_the_raw_client_puts_every_record_without_errors() {
    let server = start();
    let report = bench(
        &server,
        &[
            "put-record",
            "--client",
            "raw",
            "--records",
            "300",
            "--connections",
            "4",
        ],
    );
    assert_eq!(report["records"], 300);
    assert_eq!(report["errors"], 0);
    assert_eq!(report["dropped"], 0);
    assert_eq!(report["client"], "raw");
}

#[test]
fn put_record_with_the_sdk_client_puts_every_record_without_errors() {
    let server = start();
    let report = bench(
        &server,
        &["put-record", "--records", "100", "--connections", "2"],
    );
    assert_eq!(report["records"], 100);
    assert_eq!(report["errors"], 0);
    assert_eq!(report["client"], "sdk");
}

#[test]
fn the_raw_client_is_refused_for_scenarios_it_does_not_implement() {
    let server = start();
    let out = Command::new(env!("CARGO_BIN_EXE_nagare"))
        .args([
            "bench",
            "put-records",
            "--client",
            "raw",
            "--endpoint",
            &server.url,
        ])
        .output()
        .expect("run nagare bench");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--client raw is implemented for put-record only")
    );
}
