//! `kconform boot`: one boot of a kernel, boot only or running one
//! static program, timed.

use kconform_core::guest::protocol::{Mode, Plan};
use kconform_core::record::Conclusion;
use kconform_harness::kernels::KernelSpec;
use kconform_harness::util::tail;
use kconform_harness::vm::run_plan;

use crate::cli::BootArgs;
use crate::error::{Ended, Error};
use crate::session::VmSession;

pub fn boot(args: BootArgs) -> Result<Ended, Error> {
    let spec = KernelSpec::parse(&args.kernel)?;
    if spec.is_host() {
        return Err(Error::BootHost);
    }
    let catalog = kconform_suites::catalog();
    let vm = VmSession::start(&args.vm, 1, 20, &catalog, args.exec.as_deref(), true)?;
    let settings = vm.settings_for(&args.vm, Some(&spec))?;
    let target = vm.resolver.resolve(&spec, &|_| {})?;
    let plan = Plan::without_instances(match &args.exec {
        Some(dir) if dir.is_dir() => Mode::ExecEach {
            timeout_ms: args.vm.boot_timeout.saturating_mul(1000),
            args: args.args.clone(),
        },
        Some(prog) => Mode::Exec {
            name: prog
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "exec".into()),
            args: args.args.clone(),
        },
        None => Mode::BootOnly,
    });
    let plan = Plan {
        kernel_config: target.config_text(),
        ..plan
    };
    let run = run_plan(&target, &settings, &vm.guest, &plan, vm.workdir.path());
    if args.console {
        print!("{}", run.console);
    }
    for (name, status, output) in &run.ran {
        println!("=== {name} exit {status}");
        print!("{output}");
        if !output.is_empty() && !output.ends_with('\n') {
            println!();
        }
    }
    println!(
        "{}: {} ({}); first word after {:.2} s, QEMU ran {:.2} s{}",
        spec,
        if run.booted { "booted" } else { "did not boot" },
        settings.accel.as_str(),
        run.boot_ms as f64 / 1000.0,
        run.wall.as_secs_f64(),
        run.exit_status
            .map(|s| format!(", program exited {s}"))
            .unwrap_or_default()
    );
    if let Some(f) = &run.fatal {
        eprintln!("kconform: the guest reported: {f}");
    }
    if !run.booted || !run.finished {
        if !args.console {
            eprintln!("{}", tail(&run.console, 30));
        }
        eprintln!("kconform: {}", run.end);
        return Ok(Conclusion::CannotTest.into());
    }
    Ok(Ended::Program(
        run.exit_status.unwrap_or(0).clamp(0, 255) as u8
    ))
}
