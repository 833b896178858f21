//! The probe modes alone (see `kconform_suites::probe`): what scenarios
//! exec, and copy setuid, in the guest. It carries no scenario, so under
//! QEMU's TCG its exec translates and faults in a fraction of the code
//! an exec of the whole guest does.
//!
//! `no_main`: libc calls `main` directly, without Rust's runtime start,
//! which polls fds 0-2, ignores SIGPIPE, reads /proc/self/maps and maps
//! an alternate signal stack for its stack-overflow handler: about
//! 1.3 ms of a 3.2 ms exec under TCG. The probe keeps the signal
//! dispositions its exec left it, and writes its one line with write(2).
//! Arguments still reach `std::env::args` on glibc, which hands them to
//! constructors as well.
#![no_main]

#[no_mangle]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    kconform_suites::probe::dispatch_if_probe();
    eprintln!(
        "kconform-probe: run as `kconform-probe __probe MODE` (ids, park, state or state-park)"
    );
    2
}
