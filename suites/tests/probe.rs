//! `kconform-probe`, what scenarios exec in the guest, answers each probe
//! mode exactly as the guest binary (/init) it stands in for.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const PROBE: &str = env!("CARGO_BIN_EXE_kconform-probe");
const GUEST: &str = env!("CARGO_BIN_EXE_kconform-guest");

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin).args(args).output().unwrap()
}

#[test]
fn the_probe_answers_ids_and_state_as_the_guest_binary_does() {
    for mode in ["ids", "state"] {
        let probe = run(PROBE, &["__probe", mode]);
        let guest = run(GUEST, &["__probe", mode]);
        assert!(probe.status.success(), "{mode}: {probe:?}");
        assert_eq!(probe.stdout, guest.stdout, "{mode}");
        assert!(String::from_utf8_lossy(&probe.stdout).starts_with("euid="));
    }
}

#[test]
fn the_parked_probe_says_its_ids_and_stays_until_stdin_closes() {
    let mut child = Command::new(PROBE)
        .args(["__probe", "park"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"still here\n").unwrap();
    assert!(child.try_wait().unwrap().is_none(), "left its park early");
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("euid="));
}

#[test]
fn the_probe_refuses_anything_but_a_probe_mode() {
    for args in [
        &[][..],
        &["__probe", "nonsense"][..],
        &["--filter", "x"][..],
    ] {
        let out = run(PROBE, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("__probe"),
            "{args:?}"
        );
    }
}
