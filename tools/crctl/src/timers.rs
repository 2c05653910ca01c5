// SPDX-License-Identifier: GPL-2.0

//! What a restoring process does for its timers before it joins: the
//! kernel module cannot start a process's CPU-time accounting (the kernel
//! does not export what does), so each process whose image has a CPU-time
//! interval timer or a finite `RLIMIT_CPU` soft limit starts it here with
//! the ordinary calls. The kernel checks it was done and sets each timer's
//! exact expiry at the end of the restore.
//!
//! Likewise each POSIX timer of the image is created here, disarmed, with
//! its id (`PR_TIMER_CREATE_RESTORE_IDS`), clock and `sigevent`; the
//! kernel checks each and arms it with its time left, interval and
//! overrun counts at the end.

use cr_image::format::{Itimers, PosixTimer, Rlimits, SIGEV_THREAD_ID};

/// `RLIMIT_CPU`.
const RLIMIT_CPU: usize = 0;
/// `PR_TIMER_CREATE_RESTORE_IDS` and its `ON`/`OFF` arguments.
const PR_TIMER_CREATE_RESTORE_IDS: libc::c_int = 77;
const RESTORE_IDS_OFF: libc::c_ulong = 0;
const RESTORE_IDS_ON: libc::c_ulong = 1;

/// A process's timer facts from the image.
#[derive(Default, Clone)]
pub struct Prep {
    /// `RLIMIT_CPU` (soft, hard), when the soft limit is finite.
    pub cpu_limit: Option<(u64, u64)>,
    /// `ITIMER_VIRTUAL` and `ITIMER_PROF` are armed.
    pub cpu_itimers: [bool; 2],
    /// The POSIX timers.
    pub posix_timers: Vec<PosixTimer>,
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

    /// Takes a posix-timer record.
    pub fn posix_timer(&mut self, t: &PosixTimer) {
        self.posix_timers.push(*t);
    }

    /// Creates the POSIX timers, disarmed, each with its id (a
    /// `SIGEV_THREAD_ID` one to the calling thread, the leader).
    fn create_posix_timers(&self) -> std::io::Result<()> {
        if self.posix_timers.is_empty() {
            return Ok(());
        }
        let last_os = std::io::Error::last_os_error;
        // SAFETY: A plain prctl on the calling process.
        let on = unsafe { libc::prctl(PR_TIMER_CREATE_RESTORE_IDS, RESTORE_IDS_ON, 0, 0, 0) };
        if on != 0 {
            return Err(last_os());
        }
        let mut r = Ok(());
        for t in &self.posix_timers {
            // SAFETY: `sigevent` is plain data; all zero is valid.
            let mut ev: libc::sigevent = unsafe { std::mem::zeroed() };
            ev.sigev_notify = t.notify;
            ev.sigev_signo = t.signo;
            ev.sigev_value = libc::sigval {
                sival_ptr: t.sigval as usize as *mut libc::c_void,
            };
            if t.notify == SIGEV_THREAD_ID {
                // SAFETY: A plain system call.
                ev.sigev_notify_thread_id = unsafe { libc::gettid() };
            }
            let mut id: libc::c_int = t.id;
            // SAFETY: The raw system call (the C library's wrapper starts
            // a thread for SIGEV_THREAD) on valid structs; with the prctl
            // on, the kernel reads the id to use from `id`.
            let e = unsafe {
                libc::syscall(
                    libc::SYS_timer_create,
                    t.clock as libc::clockid_t,
                    &mut ev as *mut libc::sigevent,
                    &mut id as *mut libc::c_int,
                )
            };
            if e != 0 {
                r = Err(last_os());
                break;
            }
        }
        // SAFETY: As above.
        unsafe { libc::prctl(PR_TIMER_CREATE_RESTORE_IDS, RESTORE_IDS_OFF, 0, 0, 0) };
        r
    }

    /// Sets the CPU limit and arms each CPU timer far in the future, in the
    /// calling process (signals blocked), then creates the POSIX timers. A
    /// failure leaves a difference the
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
        self.create_posix_timers()
    }
}
