//! Starting the real `nagare` binary for the integration tests of this crate.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Spawns `nagare serve --listen 127.0.0.1:0 --data-dir DIR EXTRA...` and waits for its
/// "listening" line; returns the child and its endpoint URL.
pub fn serve(dir: &Path, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nagare"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(extra)
        .env("NAGARE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn nagare");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    let url = line
        .trim()
        .strip_prefix("nagare listening on ")
        .expect("listening line")
        .to_owned();
    (child, url)
}
