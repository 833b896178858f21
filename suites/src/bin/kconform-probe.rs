//! The probe modes alone (see `kconform_suites::probe`): what scenarios
//! exec, and copy setuid, in the guest. It carries no scenario, so under
//! QEMU's TCG its exec translates and faults in a fraction of the code
//! an exec of the whole guest does.
//!
//! `no_main`: libc calls `main` directly, without Rust's runtime start
//! (its stack-overflow handler maps an alternate signal stack and reads
//! /proc/self/maps, a tenth of a probe's exec under TCG). Arguments
//! still reach `std::env::args` on glibc, which hands them to
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
