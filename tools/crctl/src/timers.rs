// SPDX-License-Identifier: GPL-2.0

//! What a restoring process does for its timers before it joins: the
//! kernel module cannot start a process's CPU-time accounting (the kernel
//! does not export what does), so each process whose image has a CPU-time
//! interval timer or a finite `RLIMIT_CPU` soft limit starts it here with
//! the ordinary calls. The kernel checks it was done and sets each timer's
//! exact expiry at the end of the restore.

use cr_image::format::{Itimers, Rlimits};

/// `RLIMIT_CPU`.
const RLIMIT_CPU: usize = 0;

/// A process's timer facts from the image.
#[derive(Default, Clone, Copy)]
pub struct Prep {
    /// `RLIMIT_CPU` (soft, hard), when the soft limit is finite.
    pub cpu_limit: Option<(u64, u64)>,
    /// `ITIMER_VIRTUAL` and `ITIMER_PROF` are armed.
    pub cpu_itimers: [bool; 2],
}

impl Prep {
    /// Takes what it needs from the rlimits record.
    pub fn rlimits(&mut self, r: &Rlimits) {
        let (cur, max) = r.lim[RLIMIT_CPU];
        self.cpu_limit = (cur != u64::MAX).then_some((cur, max));
    }

    /// Takes what it needs from the itimers record.
    pub fn itimers(&mut self, t: &Itimers) {
        self.cpu_itimers = [t.virt_value != 0, t.prof_value != 0];
    }

    /// Sets the CPU limit and arms each CPU timer far in the future, in the
    /// calling process (signals blocked). A failure leaves a difference the
    /// kernel refuses by name.
    pub fn apply(&self) -> std::io::Result<()> {
        if let Some((cur, max)) = self.cpu_limit {
            let l = libc::rlimit {
                rlim_cur: cur,
                rlim_max: max,
            };
            // SAFETY: A plain system call on a valid struct.
            if unsafe { libc::setrlimit(libc::RLIMIT_CPU, &l) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        for (armed, which) in self
            .cpu_itimers
            .iter()
            .zip([libc::ITIMER_VIRTUAL, libc::ITIMER_PROF])
        {
            if !armed {
                continue;
            }
            // About 31 years of CPU time: never fires before the kernel
            // sets the real expiry.
            let v = libc::itimerval {
                it_interval: libc::timeval {
                    tv_sec: 0,
                    tv_usec: 0,
                },
                it_value: libc::timeval {
                    tv_sec: 1_000_000_000,
                    tv_usec: 0,
                },
            };
            // SAFETY: A plain system call on a valid struct.
            if unsafe { libc::setitimer(which, &v, std::ptr::null_mut()) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}
