// SPDX-License-Identifier: GPL-2.0
/*
 * cr_kapi.c: the kernel internals cr needs that C keeps in static inline
 * functions, macros or headers the Rust bindings do not include (regset.h,
 * fsgsbase.h, the fd table, the rseq state), as plain functions. Each is a
 * thin accessor; every decision is made by the Rust code that calls it
 * through the safe wrappers in kapi.rs, which documents their contracts.
 */
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/sched/exec_state.h>
#include <linux/sched/coredump.h>
#include <linux/cred.h>
#include <linux/capability.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/highmem.h>
#include <linux/mmap_lock.h>
#include <linux/net.h>
#include <linux/pid_namespace.h>
#include <linux/ptrace.h>
#include <linux/regset.h>
#include <linux/rseq.h>
#include <linux/seccomp.h>
#include <linux/shmem_fs.h>
#include <linux/signal.h>
#include <linux/task_work.h>
#include <linux/uaccess.h>
#include <linux/elf.h>
#include <linux/utsname.h>
#include <linux/completion.h>
#include <linux/futex.h>
#include <linux/ioprio.h>
#include <linux/iocontext.h>
#include <linux/sched/prio.h>
#include <uapi/linux/sched/types.h>
#include <asm/fpu/api.h>
#include <asm/fsgsbase.h>
#include <asm/segment.h>
#include <net/sock.h>

#include "cr_kapi.h"

/* ------------------------------------------------------------------ tasks */

struct task_struct *cr_task_get_by_vpid(pid_t nr)
{
	struct pid *pid = find_get_pid(nr);
	struct task_struct *t;

	if (!pid)
		return NULL;
	t = get_pid_task(pid, PIDTYPE_PID);
	put_pid(pid);
	return t;
}

struct task_struct *cr_task_get_current(void)
{
	return get_task_struct(current);
}

struct task_struct *cr_task_get(struct task_struct *t)
{
	return get_task_struct(t);
}

pid_t cr_current_tid(void)
{
	return task_pid_vnr(current);
}

void cr_task_put(struct task_struct *t)
{
	put_task_struct(t);
}

struct pid_namespace *cr_current_pid_ns(void)
{
	return task_active_pid_ns(current);
}

int cr_task_ids(struct task_struct *t, struct pid_namespace *ns, struct cr_task_ids *out)
{
	struct task_struct *parent;

	rcu_read_lock();
	out->pid = task_pid_nr_ns(t, ns);
	out->tgid = task_tgid_nr_ns(t, ns);
	parent = rcu_dereference(t->real_parent);
	out->ppid = parent ? task_tgid_nr_ns(parent, ns) : 0;
	out->pgid = task_pgrp_nr_ns(t, ns);
	out->sid = task_session_nr_ns(t, ns);
	rcu_read_unlock();
	return out->pid ? 0 : -ESRCH;
}

bool cr_task_same_thread_group(struct task_struct *t)
{
	return same_thread_group(t, current);
}

u64 cr_task_exec_id(struct task_struct *t)
{
	return READ_ONCE(t->self_exec_id);
}

int cr_task_state(struct task_struct *t)
{
	int r = 0;

	if (t->flags & PF_KTHREAD)
		r |= CR_TS_KTHREAD;
	if (t->flags & PF_EXITING)
		r |= CR_TS_EXITING;
	if (READ_ONCE(t->ptrace))
		r |= CR_TS_PTRACED;
	if (task_is_stopped_or_traced(t) || (READ_ONCE(t->jobctl) & JOBCTL_STOP_PENDING))
		r |= CR_TS_STOPPED;
	if (get_nr_threads(t) != 1)
		r |= CR_TS_THREADED;
	if (!t->mm)
		r |= CR_TS_NO_MM;
	return r;
}

/*
 * The rule of ptrace_may_access() for reading a task (which a module cannot
 * call): the caller's real ids match all of the target's, the target's
 * capabilities are a subset of the caller's, and the target is dumpable; or
 * the caller is privileged over the target's user namespace.
 */
int cr_may_checkpoint(struct task_struct *t)
{
	const struct cred *cred = current_cred(), *tcred;
	const struct task_exec_state *es;
	int why = 0;

	if (capable(CAP_CHECKPOINT_RESTORE) || capable(CAP_SYS_ADMIN))
		return 0;

	rcu_read_lock();
	tcred = __task_cred(t);
	if (!(uid_eq(cred->uid, tcred->euid) && uid_eq(cred->uid, tcred->suid) &&
	      uid_eq(cred->uid, tcred->uid) && gid_eq(cred->gid, tcred->egid) &&
	      gid_eq(cred->gid, tcred->sgid) && gid_eq(cred->gid, tcred->gid)))
		why = CR_DENY_IDS;
	else if (!cap_issubset(tcred->cap_permitted, cred->cap_permitted))
		why = CR_DENY_CAPS;
	if (why && ns_capable(tcred->user_ns, CAP_SYS_PTRACE))
		why = 0;
	rcu_read_unlock();
	if (why)
		return why;

	/* Read dumpability after the credentials, as ptrace does. */
	smp_rmb();
	rcu_read_lock();
	es = rcu_dereference(t->exec_state);
	if (READ_ONCE(es->dumpable) != TASK_DUMPABLE_OWNER &&
	    !ns_capable(es->user_ns, CAP_SYS_PTRACE))
		why = CR_DENY_DUMPABLE;
	rcu_read_unlock();
	return why;
}

int cr_task_work_add(struct task_struct *t, struct callback_head *work,
		     void (*fn)(struct callback_head *))
{
	init_task_work(work, fn);
	return task_work_add(t, work, TWA_SIGNAL);
}

int cr_current_work_add_resume(struct callback_head *work, void (*fn)(struct callback_head *))
{
	init_task_work(work, fn);
	return task_work_add(current, work, TWA_RESUME);
}

/* -------------------------------------------- the current task, checkpoint */

/*
 * State of the current task that cannot be saved. @process: also check what
 * the thread group shares (run by the leader once every thread is parked):
 * the fs, file table, signal handlers and mm must be the group's own, shared
 * by all its threads and nobody else.
 */
int cr_current_refusals(bool process)
{
	struct signal_struct *sig = current->signal;
	int n = get_nr_threads(current), r = 0;
	struct task_struct *t;

	spin_lock_irq(&current->sighand->siglock);
	if (!sigisemptyset(&current->pending.signal))
		r |= CR_REF_SIGPENDING;
	if (process && !sigisemptyset(&sig->shared_pending.signal))
		r |= CR_REF_SIGPENDING;
	spin_unlock_irq(&current->sighand->siglock);
#ifdef CONFIG_SECCOMP
	if (current->seccomp.mode != SECCOMP_MODE_DISABLED)
		r |= CR_REF_SECCOMP;
#endif
	if (!process)
		return r;

	spin_lock_irq(&current->sighand->siglock);
	if (hrtimer_active(&sig->real_timer))
		r |= CR_REF_ITIMER_REAL;
	if (sig->it[0].expires || sig->it[1].expires)
		r |= CR_REF_ITIMER_CPU;
	if (!hlist_empty(&sig->posix_timers) || !hlist_empty(&sig->ignored_posix_timers))
		r |= CR_REF_POSIX_TIMERS;
	spin_unlock_irq(&current->sighand->siglock);
	rcu_read_lock();
	for_each_thread(current, t) {
		if (t->fs != current->fs)
			r |= CR_REF_SHARED_FS;
		if (t->files != current->files)
			r |= CR_REF_SHARED_FILES;
	}
	rcu_read_unlock();
	if (current->fs->users > n)
		r |= CR_REF_SHARED_FS;
	if (atomic_read(&current->files->count) > n)
		r |= CR_REF_SHARED_FILES;
	if (refcount_read(&current->sighand->count) > n)
		r |= CR_REF_SHARED_SIGHAND;
	if (atomic_read(&current->mm->mm_users) > n)
		r |= CR_REF_SHARED_MM;
	if (current->signal->rlim[RLIMIT_CPU].rlim_cur != RLIM_INFINITY)
		r |= CR_REF_RLIMIT_CPU;
	return r;
}

/*
 * Collects the subtree of processes rooted at @root's thread group, with
 * references: each process's leader, then its other threads; parents before
 * children (breadth first, by real parent). Zombies are included. Returns
 * the count, or -E2BIG if more than @max tasks.
 */
int cr_collect_tree(struct task_struct *root, struct task_struct **out, int max)
{
	struct task_struct *p, *t, *leader;
	int n = 0, i;

#define CR_ADD(x) do { if (n >= max) goto big; out[n++] = get_task_struct(x); } while (0)
	rcu_read_lock();
	leader = root->group_leader;
	CR_ADD(leader);
	for_each_thread(leader, t)
		if (t != leader)
			CR_ADD(t);
	for (i = 0; i < n; i++) {
		if (!thread_group_leader(out[i]))
			continue;
		for_each_process(p) {
			if (rcu_dereference(p->real_parent)->tgid != out[i]->tgid ||
			    p->tgid == out[i]->tgid)
				continue;
			CR_ADD(p);
			for_each_thread(p, t)
				if (t != p)
					CR_ADD(t);
		}
	}
	rcu_read_unlock();
	return n;
big:
	rcu_read_unlock();
	while (n > 0)
		put_task_struct(out[--n]);
	return -E2BIG;
#undef CR_ADD
}

/*
 * Whether @t is a zombie waiting to be reaped (1, with its status), or a
 * thread group leader that exited while other threads of its group run (2).
 */
int cr_task_zombie(struct task_struct *t, int *exit_code)
{
	if (READ_ONCE(t->exit_state) != EXIT_ZOMBIE)
		return 0;
	if (thread_group_leader(t) && !thread_group_empty(t))
		return 2;
	*exit_code = READ_ONCE(t->exit_code);
	return 1;
}

bool cr_task_is_leader(struct task_struct *t)
{
	return thread_group_leader(t);
}

/* Monotonic milliseconds (for deadlines). */
u64 cr_jiffies_ms(void)
{
	return div_u64(ktime_get_ns(), NSEC_PER_MSEC);
}

bool cr_current_exiting(void)
{
	return current->flags & PF_EXITING;
}

void cr_current_creds(struct cr_creds *out)
{
	const struct cred *c = current_cred();
	struct user_namespace *ns = current_user_ns();
	int i, n;

	out->uids[0] = from_kuid_munged(ns, c->uid);
	out->uids[1] = from_kuid_munged(ns, c->euid);
	out->uids[2] = from_kuid_munged(ns, c->suid);
	out->uids[3] = from_kuid_munged(ns, c->fsuid);
	out->gids[0] = from_kgid_munged(ns, c->gid);
	out->gids[1] = from_kgid_munged(ns, c->egid);
	out->gids[2] = from_kgid_munged(ns, c->sgid);
	out->gids[3] = from_kgid_munged(ns, c->fsgid);
	out->caps[0] = c->cap_inheritable.val;
	out->caps[1] = c->cap_permitted.val;
	out->caps[2] = c->cap_effective.val;
	out->caps[3] = c->cap_bset.val;
	out->caps[4] = c->cap_ambient.val;
	out->securebits = c->securebits;
	out->no_new_privs = task_no_new_privs(current);
	scoped_guard(rcu)
		out->dumpable = READ_ONCE(rcu_dereference(current->exec_state)->dumpable);
	n = c->group_info->ngroups;
	out->ngroups = n;
	for (i = 0; i < n && i < CR_MAX_GROUPS_INLINE; i++)
		out->groups[i] = from_kgid_munged(ns, c->group_info->gid[i]);
}

int cr_current_group(int i, u32 *gid)
{
	const struct cred *c = current_cred();

	if (i < 0 || i >= c->group_info->ngroups)
		return -EINVAL;
	*gid = from_kgid_munged(current_user_ns(), c->group_info->gid[i]);
	return 0;
}

void cr_current_misc(struct cr_misc *out)
{
	out->personality = current->personality;
	out->umask = current->fs->umask;
	get_task_comm(out->comm, current);
	out->clear_child_tid = (u64)(unsigned long)current->clear_child_tid;
#ifdef CONFIG_FUTEX
	out->robust_list = (u64)(unsigned long)current->futex.robust_list;
	out->robust_list_len = out->robust_list ? sizeof(struct robust_list_head) : 0;
#else
	out->robust_list = 0;
	out->robust_list_len = 0;
#endif
#ifdef CONFIG_RSEQ
	out->rseq = (u64)(unsigned long)current->rseq.usrptr;
	out->rseq_len = current->rseq.len;
	out->rseq_sig = current->rseq.sig;
#else
	out->rseq = 0;
	out->rseq_len = 0;
	out->rseq_sig = 0;
#endif
}

void cr_current_rlimits(u64 *out)
{
	struct task_struct *leader = current->group_leader;
	int i;

	task_lock(leader);
	for (i = 0; i < RLIM_NLIMITS; i++) {
		out[2 * i] = current->signal->rlim[i].rlim_cur;
		out[2 * i + 1] = current->signal->rlim[i].rlim_max;
	}
	task_unlock(leader);
}

void cr_current_signals(struct cr_signals *out)
{
	struct sighand_struct *sh = current->sighand;
	int i;

	spin_lock_irq(&sh->siglock);
	out->blocked = current->blocked.sig[0];
	for (i = 0; i < _NSIG; i++) {
		struct sigaction *sa = &sh->action[i].sa;

		out->act[i].handler = (u64)(unsigned long)sa->sa_handler;
		out->act[i].flags = sa->sa_flags;
#ifdef __ARCH_HAS_SA_RESTORER
		out->act[i].restorer = (u64)(unsigned long)sa->sa_restorer;
#else
		out->act[i].restorer = 0;
#endif
		out->act[i].mask = sa->sa_mask.sig[0];
	}
	spin_unlock_irq(&sh->siglock);
	out->ss_sp = current->sas_ss_sp;
	out->ss_size = current->sas_ss_size;
	out->ss_flags = current->sas_ss_size ? current->sas_ss_flags : SS_DISABLE;
}

/* Regsets of the current task, found by their core note type. */
static const struct user_regset *cr_regset(unsigned int note)
{
	const struct user_regset_view *view = task_user_regset_view(current);
	int i;

	for (i = 0; i < view->n; i++)
		if (view->regsets[i].core_note_type == note)
			return &view->regsets[i];
	return NULL;
}

int cr_regset_size(unsigned int note)
{
	const struct user_regset *rs = cr_regset(note);

	return rs ? rs->n * rs->size : -ENODEV;
}

int cr_regset_get(unsigned int note, void *buf, unsigned int size)
{
	const struct user_regset *rs = cr_regset(note);

	if (!rs)
		return -ENODEV;
	return regset_get(current, rs, size, buf);
}

int cr_current_syscall_nr(void)
{
	return (int)task_pt_regs(current)->orig_ax;
}

/* ----------------------------------------------- the current task, restart */

/*
 * Installs user registers in the current task's pt_regs, as ptrace would
 * for a stopped tracee; flags are limited to what user space may set, like
 * ptrace's FLAG_MASK. The caller has checked cs, ss, the selectors and the
 * bases. ax is left alone: cr_current_set_ax() sets it once the ioctl has
 * stored its own return value there.
 */
#define CR_FLAG_MASK (X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF | \
		      X86_EFLAGS_SF | X86_EFLAGS_TF | X86_EFLAGS_DF | X86_EFLAGS_OF | \
		      X86_EFLAGS_RF | X86_EFLAGS_AC | X86_EFLAGS_NT)

void cr_current_set_regs(const u64 *r)
{
	struct pt_regs *regs = task_pt_regs(current);

	regs->r15 = r[0];
	regs->r14 = r[1];
	regs->r13 = r[2];
	regs->r12 = r[3];
	regs->bp = r[4];
	regs->bx = r[5];
	regs->r11 = r[6];
	regs->r10 = r[7];
	regs->r9 = r[8];
	regs->r8 = r[9];
	regs->cx = r[11];
	regs->dx = r[12];
	regs->si = r[13];
	regs->di = r[14];
	regs->orig_ax = -1;
	regs->ip = r[16];
	regs->flags = (regs->flags & ~CR_FLAG_MASK) | (r[18] & CR_FLAG_MASK);
	regs->sp = r[19];

	preempt_disable();
	loadsegment(fs, 0);
	x86_fsbase_write_cpu(r[21]);
	current->thread.fsbase = r[21];
	current->thread.fsindex = 0;
	preempt_enable();
}

void cr_current_set_ax(u64 ax)
{
	task_pt_regs(current)->ax = ax;
}

/*
 * prctl(PR_SET_DUMPABLE) for any value (task_exec_state_set_dumpable() is
 * not exported); the caller has checked @value <= TASK_DUMPABLE_ROOT.
 */
void cr_current_set_dumpable(u32 value)
{
	WRITE_ONCE(rcu_dereference_protected(current->exec_state, true)->dumpable, value);
}

void cr_current_extra(struct cr_extra *out)
{
	memset(out, 0, sizeof(*out));
	out->pdeath_signal = current->pdeath_signal;
	out->child_subreaper = current->signal->is_child_subreaper;
	out->thp_disabled = current->mm &&
		(mm_flags_test(MMF_DISABLE_THP_COMPLETELY, current->mm) ||
		 mm_flags_test(MMF_DISABLE_THP_EXCEPT_ADVISED, current->mm));
	out->timer_slack_ns = current->timer_slack_ns;
	out->default_timer_slack_ns = current->default_timer_slack_ns;
}

void cr_current_set_pdeath_signal(int sig)
{
	current->pdeath_signal = sig;
}

/* Scheduling state of the current thread (CPUs beyond the words: see nr_cpu_ids). */
void cr_current_sched(struct cr_sched *out)
{
	unsigned int i;

	memset(out, 0, sizeof(*out));
	out->policy = current->policy;
	out->priority = current->rt_priority;
	out->nice = task_nice(current);
	out->reset_on_fork = current->sched_reset_on_fork;
#ifdef CONFIG_BLOCK
	task_lock(current);
	out->ioprio = current->io_context ? current->io_context->ioprio : IOPRIO_DEFAULT;
	task_unlock(current);
#else
	out->ioprio = IOPRIO_DEFAULT;
#endif
	out->all_cpus = cpumask_equal(&current->cpus_mask, cpu_possible_mask);
	out->nr_cpu_ids = nr_cpu_ids;
	for (i = 0; i < nr_cpu_ids && i < 64 * CR_SCHED_CPU_WORDS; i++)
		if (cpumask_test_cpu(i, &current->cpus_mask))
			out->cpus[i / 64] |= 1ULL << (i % 64);
}

/* Whether @cpus (CR_SCHED_CPU_WORDS words) holds an active CPU. */
bool cr_cpus_usable(const u64 *cpus)
{
	unsigned int i;

	for (i = 0; i < nr_cpu_ids && i < 64 * CR_SCHED_CPU_WORDS; i++)
		if ((cpus[i / 64] >> (i % 64) & 1) && cpu_active(i) &&
		    cpumask_test_cpu(i, current->cpus_ptr))
			return true;
	return false;
}

int cr_current_nice(void)
{
	return task_nice(current);
}

bool cr_current_can_nice(int nice)
{
	return can_nice(current, nice);
}

/*
 * Applies @s to the current thread, as sched_setattr(2), sched_setaffinity(2)
 * and ioprio_set(2) would; the caller has checked that it may.
 */
int cr_current_set_sched(const struct cr_sched *s)
{
	struct sched_attr attr = {
		.size = sizeof(attr),
		.sched_policy = s->policy,
		.sched_priority = s->priority,
		.sched_nice = s->nice,
		.sched_flags = s->reset_on_fork ? SCHED_FLAG_RESET_ON_FORK : 0,
	};
	cpumask_var_t mask;
	unsigned int i;
	int ret;

	ret = sched_setattr_nocheck(current, &attr);
	if (ret)
		return ret;
	/* sched_setattr() leaves the nice value of other than fair policies. */
	set_user_nice(current, s->nice);
	if (!alloc_cpumask_var(&mask, GFP_KERNEL))
		return -ENOMEM;
	/*
	 * Within the restoring task's own affinity, which its cpuset bounds
	 * (set_cpus_allowed_ptr() does not check the cpuset): "every CPU"
	 * leaves it as it is.
	 */
	cpumask_clear(mask);
	for (i = 0; !s->all_cpus && i < nr_cpu_ids && i < 64 * CR_SCHED_CPU_WORDS; i++)
		if (s->cpus[i / 64] >> (i % 64) & 1)
			cpumask_set_cpu(i, mask);
	if (!s->all_cpus && !cpumask_and(mask, mask, current->cpus_ptr))
		ret = -EINVAL;
	else if (!s->all_cpus)
		ret = set_cpus_allowed_ptr(current, mask);
	free_cpumask_var(mask);
#ifdef CONFIG_BLOCK
	if (!ret)
		ret = set_task_ioprio(current, s->ioprio);
#endif
	return ret;
}

/*
 * Adds @set to and then clears @clear from the flags of the current task's
 * VMA that is exactly @start-@end, and recomputes its page protection: on
 * a mapping with no page yet, what madvise() and mprotect() would leave.
 */
int cr_current_vma_change_flags(unsigned long start, unsigned long end, u64 set, u64 clear)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	int ret = -EINVAL;

	mmap_write_lock(mm);
	vma = vma_lookup(mm, start);
	/* VM_SOFTDIRTY does not keep neighbours from merging. */
	if (vma && ((vma->vm_start == start && vma->vm_end == end) ||
		    (!set && clear == VM_SOFTDIRTY && vma->vm_end >= end))) {
		vm_flags_set(vma, set);
		vm_flags_clear(vma, clear);
		/* Shared writable mappings may need write-notify: left as mmap made them. */
		if (!(vma->vm_flags & VM_SHARED))
			WRITE_ONCE(vma->vm_page_prot, vm_get_page_prot(vma->vm_flags));
		ret = 0;
	}
	mmap_write_unlock(mm);
	return ret;
}

/* What rseq(2) registration leaves in the task, for an area in place. */
void cr_current_set_rseq(u64 ptr, u32 len, u32 sig, u8 version)
{
#ifdef CONFIG_RSEQ
	scoped_guard(irqsave) {
		current->rseq.usrptr = (struct rseq __user *)(unsigned long)ptr;
		current->rseq.len = len;
		current->rseq.sig = sig;
		current->rseq.event.has_rseq = version;
	}
	rseq_force_update();
#endif
}

unsigned int cr_rseq_align(void)
{
#ifdef CONFIG_RSEQ
	return rseq_alloc_align();
#else
	return 0;
#endif
}

unsigned int cr_rseq_feature_size(void)
{
	return offsetof(struct rseq, end);
}

unsigned long cr_user_cs(void)
{
	return __USER_CS;
}

unsigned long cr_user_ds(void)
{
	return __USER_DS;
}

unsigned long cr_task_size_max(void)
{
	return TASK_SIZE_MAX;
}

/*
 * Loads an xstate regset image into the current task's FPU state. The
 * regset setter is written for stopped tracees: first make the in-memory
 * fpstate authoritative for current (kernel_fpu_begin saves the live user
 * registers and marks them to be reloaded on return to user space), so the
 * setter's write is what user space sees.
 */
int cr_current_set_xstate(const void *buf, unsigned int size)
{
	const struct user_regset *rs = cr_regset(NT_X86_XSTATE);

	if (!rs || !rs->set)
		return -ENODEV;
	kernel_fpu_begin_mask(0);
	kernel_fpu_end();
	return rs->set(current, rs, 0, size, buf, NULL);
}

void cr_current_set_sigaction(int sig, const struct cr_sigaction *a)
{
	struct sighand_struct *sh = current->sighand;
	struct sigaction *sa;

	spin_lock_irq(&sh->siglock);
	sa = &sh->action[sig - 1].sa;
	sa->sa_handler = (__sighandler_t)(unsigned long)a->handler;
	sa->sa_flags = a->flags;
#ifdef __ARCH_HAS_SA_RESTORER
	sa->sa_restorer = (__sigrestore_t)(unsigned long)a->restorer;
#endif
	sa->sa_mask.sig[0] = a->mask;
	sigdelsetmask(&sa->sa_mask, sigmask(SIGKILL) | sigmask(SIGSTOP));
	spin_unlock_irq(&sh->siglock);
}

void cr_current_set_blocked(u64 blocked)
{
	sigset_t set;

	siginitset(&set, blocked & ~(sigmask(SIGKILL) | sigmask(SIGSTOP)));
	sigprocmask(SIG_SETMASK, &set, NULL);
}

void cr_current_set_altstack(u64 sp, u64 size, u32 flags)
{
	if (flags & SS_DISABLE) {
		current->sas_ss_sp = 0;
		current->sas_ss_size = 0;
		current->sas_ss_flags = SS_DISABLE;
	} else {
		current->sas_ss_sp = sp;
		current->sas_ss_size = size;
		current->sas_ss_flags = flags;
	}
}

void cr_current_flush_signals(void)
{
	flush_signals(current);
}

size_t cr_minsigstksz(void)
{
	return MINSIGSTKSZ;
}

void cr_current_set_misc(const struct cr_misc *m, bool no_new_privs)
{
	struct task_struct *t = current;

	task_lock(t);
	memcpy(t->comm, m->comm, sizeof(t->comm));
	t->comm[sizeof(t->comm) - 1] = 0;
	task_unlock(t);
	t->personality = m->personality;
	t->fs->umask = m->umask & 0777;
	t->clear_child_tid = (int __user *)(unsigned long)m->clear_child_tid;
#ifdef CONFIG_FUTEX
	t->futex.robust_list = (struct robust_list_head __user *)(unsigned long)m->robust_list;
#endif
	/* The caller's own rseq area is gone with its memory: unregister. */
	rseq_reset(t);
	if (no_new_privs)
		task_set_no_new_privs(t);
}

void cr_current_set_rlimit(int i, u64 cur, u64 max)
{
	struct task_struct *leader = current->group_leader;

	task_lock(leader);
	current->signal->rlim[i].rlim_cur = cur;
	current->signal->rlim[i].rlim_max = max;
	task_unlock(leader);
}

unsigned int cr_nr_open(void)
{
	return 1024 * 1024; /* sysctl_nr_open is not exported: its default */
}

/* ------------------------------------------------------------------ mm */

struct mm_struct *cr_current_mm_get(void)
{
	return get_task_mm(current);
}

void cr_mm_put(struct mm_struct *mm)
{
	mmput(mm);
}

void cr_mm_read_lock(struct mm_struct *mm)
{
	mmap_read_lock(mm);
}

void cr_mm_read_unlock(struct mm_struct *mm)
{
	mmap_read_unlock(mm);
}

void cr_mm_layout(struct mm_struct *mm, u64 *l, u64 *auxv, unsigned int auxv_words)
{
	unsigned int i;

	l[0] = mm->start_code;
	l[1] = mm->end_code;
	l[2] = mm->start_data;
	l[3] = mm->end_data;
	l[4] = mm->start_brk;
	l[5] = mm->brk;
	l[6] = mm->start_stack;
	l[7] = mm->arg_start;
	l[8] = mm->arg_end;
	l[9] = mm->env_start;
	l[10] = mm->env_end;
	for (i = 0; i < auxv_words && i < ARRAY_SIZE(mm->saved_auxv); i++)
		auxv[i] = mm->saved_auxv[i];
}

unsigned int cr_mm_auxv_words(void)
{
	return ARRAY_SIZE(current->mm->saved_auxv);
}

void cr_current_mm_set_layout(const u64 *l, const u64 *auxv, unsigned int auxv_words)
{
	struct mm_struct *mm = current->mm;
	unsigned int i;

	mmap_write_lock(mm);
	mm->start_code = l[0];
	mm->end_code = l[1];
	mm->start_data = l[2];
	mm->end_data = l[3];
	mm->start_brk = l[4];
	mm->brk = l[5];
	mm->start_stack = l[6];
	spin_lock(&mm->arg_lock);
	mm->arg_start = l[7];
	mm->arg_end = l[8];
	mm->env_start = l[9];
	mm->env_end = l[10];
	spin_unlock(&mm->arg_lock);
	for (i = 0; i < auxv_words && i < ARRAY_SIZE(mm->saved_auxv); i++)
		mm->saved_auxv[i] = auxv[i];
	mmap_write_unlock(mm);
}

/*
 * Makes @f the current mm's executable (/proc/self/exe), as
 * prctl(PR_SET_MM_EXE_FILE) does once the old executable is unmapped.
 */
int cr_current_set_exe_file(struct file *f)
{
	struct mm_struct *mm = current->mm;
	struct file *old;

	if (exe_file_deny_write_access(f))
		return -EACCES;
	get_file(f);
	mmap_write_lock(mm);
	old = rcu_dereference_raw(mm->exe_file);
	rcu_assign_pointer(mm->exe_file, f);
	mmap_write_unlock(mm);
	if (old) {
		exe_file_allow_write_access(old);
		fput(old);
	}
	return 0;
}

/* The name of a special mapping ("[vdso]", ...), or NULL. */
static const char *cr_vma_special_name(struct vm_area_struct *vma)
{
	if (vma->vm_ops && vma->vm_ops->name)
		return vma->vm_ops->name(vma);
	return NULL;
}

/*
 * Fills @out for the first VMA ending above @addr; returns 0, or -ENOENT if
 * there is none. The mmap lock must be held. A backing file is returned
 * with a reference the caller drops with fput().
 */
int cr_mm_vma_at(struct mm_struct *mm, unsigned long addr, struct cr_vma *out)
{
	struct vm_area_struct *vma = find_vma(mm, addr);
	const char *name;

	if (!vma)
		return -ENOENT;
	out->start = vma->vm_start;
	out->end = vma->vm_end;
	out->pgoff = vma->vm_pgoff;
	out->vm_flags = vma->vm_flags;
	out->has_anon_vma = vma->anon_vma != NULL;
	out->file = vma->vm_file ? get_file(vma->vm_file) : NULL;
	out->ino_key = vma->vm_file ? (u64)(unsigned long)file_inode(vma->vm_file) : 0;
	out->special = 0;
	name = cr_vma_special_name(vma);
	if (name) {
		if (!strcmp(name, "[vdso]"))
			out->special = CR_SPECIAL_VDSO;
		else if (!strcmp(name, "[vvar]"))
			out->special = CR_SPECIAL_VVAR;
		else if (!strcmp(name, "[vvar_vclock]"))
			out->special = CR_SPECIAL_VVAR_VCLOCK;
		else
			out->special = CR_SPECIAL_OTHER;
	}
	out->is_stack = vma->vm_start <= mm->start_stack && vma->vm_end >= mm->start_stack;
	return 0;
}

u64 cr_vm_flag(int which)
{
	switch (which) {
	case CR_VMF_READ: return VM_READ;
	case CR_VMF_WRITE: return VM_WRITE;
	case CR_VMF_EXEC: return VM_EXEC;
	case CR_VMF_SHARED: return VM_SHARED;
	case CR_VMF_GROWSDOWN: return VM_GROWSDOWN;
	case CR_VMF_UNSUPPORTED:
		/* Device memory, hugetlb, driver mappings, shadow stacks, and
		 * memory with a protection key other than 0. */
		return VM_IO | VM_PFNMAP | VM_MIXEDMAP | VM_HUGETLB | VM_DONTEXPAND |
		       VM_SHADOW_STACK
#ifdef CONFIG_ARCH_HAS_PKEYS
		       | VM_PKEY_BIT0 | VM_PKEY_BIT1 | VM_PKEY_BIT2 | VM_PKEY_BIT3
#endif
		       ;
	case CR_VMF_LOCKED: return VM_LOCKED | VM_LOCKONFAULT;
	case CR_VMF_NORESERVE: return VM_NORESERVE;
	case CR_VMF_DONTCOPY: return VM_DONTCOPY;
	case CR_VMF_WIPEONFORK: return VM_WIPEONFORK;
	case CR_VMF_DONTDUMP: return VM_DONTDUMP;
	case CR_VMF_SOFTDIRTY: return VM_SOFTDIRTY;
	case CR_VMF_ACCOUNT: return VM_ACCOUNT;
	case CR_VMF_MERGEABLE: return VM_MERGEABLE;
	case CR_VMF_SEALED: return VM_SEALED;
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	case CR_VMF_HUGEPAGE: return VM_HUGEPAGE;
	case CR_VMF_NOHUGEPAGE: return VM_NOHUGEPAGE;
#endif
	}
	return 0;
}

/*
 * Pins up to @n pages of a (possibly remote) mm from @addr for reading, the
 * way a core dump does: holes and the zero page are -EFAULT rather than
 * faulted in. The mmap lock must be held for reading.
 */
long cr_mm_get_dump_pages(struct mm_struct *mm, unsigned long addr, unsigned long n,
			  struct page **pages)
{
	return get_user_pages_remote(mm, addr, n, FOLL_DUMP | FOLL_FORCE, pages, NULL);
}

bool cr_page_is_anon(struct page *page)
{
	return PageAnon(page);
}

void cr_page_copy_out(void *dst, struct page *page)
{
	void *src = kmap_local_page(page);

	memcpy(dst, src, PAGE_SIZE);
	kunmap_local(src);
}

void cr_page_put(struct page *page)
{
	put_page(page);
}

/* The current mm's special mappings: [vdso] start, for the restart check. */
unsigned long cr_current_vdso(void)
{
	return (unsigned long)current->mm->context.vdso;
}

unsigned long cr_vm_mmap(struct file *file, unsigned long addr, unsigned long len,
			 unsigned long prot, unsigned long flags, unsigned long off)
{
	return vm_mmap(file, addr, len, prot, flags, off);
}

int cr_vm_munmap(unsigned long addr, size_t len)
{
	return vm_munmap(addr, len);
}

int cr_task_poke(struct task_struct *t, unsigned long addr, const void *buf, int len)
{
	return access_process_vm(t, addr, (void *)buf, len, FOLL_FORCE | FOLL_WRITE);
}

/* A new shared anonymous memory object of @size bytes, as mmap(MAP_SHARED |
 * MAP_ANONYMOUS) makes ("/dev/zero (deleted)" in /proc/PID/maps). */
struct file *cr_shmem_file(u64 size)
{
	return shmem_kernel_file_setup("dev/zero", size, EMPTY_VMA_FLAGS);
}

int cr_current_poke(unsigned long addr, const void *buf, int len)
{
	return access_process_vm(current, addr, (void *)buf, len, FOLL_FORCE | FOLL_WRITE);
}

/* ------------------------------------------------------------------ files */

unsigned int cr_current_max_fds(void)
{
	unsigned int n;

	rcu_read_lock();
	n = files_fdtable(current->files)->max_fds;
	rcu_read_unlock();
	return n;
}

struct file *cr_current_fget(unsigned int fd, bool *cloexec)
{
	struct file *f = fget_raw(fd);

	if (f) {
		spin_lock(&current->files->file_lock);
		*cloexec = close_on_exec(fd, current->files);
		spin_unlock(&current->files->file_lock);
	}
	return f;
}

void cr_file_put(struct file *f)
{
	fput(f);
}

struct file *cr_file_get(struct file *f)
{
	return get_file(f);
}

void cr_file_info(struct file *f, struct cr_file_info *out)
{
	struct inode *inode = file_inode(f);
	struct socket *sock;

	out->mode = inode->i_mode;
	out->rdev_major = MAJOR(inode->i_rdev);
	out->rdev_minor = MINOR(inode->i_rdev);
	out->f_flags = f->f_flags;
	out->pos = f->f_pos;
	out->fmode = f->f_mode;
	out->nlink = inode->i_nlink;
	out->inode = (unsigned long)inode;
	out->size = i_size_read(inode);
	out->sock_family = -1;
	out->sock_type = -1;
	sock = sock_from_file(f);
	if (sock && sock->sk) {
		out->sock_family = sock->sk->sk_family;
		out->sock_type = sock->type;
	}
}

/* Path of @f into @buf; returns the start of the string or an ERR_PTR. */
char *cr_file_path(struct file *f, char *buf, int len)
{
	/* The path user space sees (for overlayfs: not the backing file's). */
	return d_path(file_user_path(f), buf, len);
}

/* Name of @f's dentry (for anon inodes: "inotify", "[eventpoll]", ...). */
int cr_file_dname(struct file *f, char *buf, int len)
{
	return strscpy(buf, f->f_path.dentry->d_name.name, len);
}

char *cr_current_cwd(char *buf, int len)
{
	struct path pwd;
	char *p;

	get_fs_pwd(current->fs, &pwd);
	p = d_path(&pwd, buf, len);
	path_put(&pwd);
	return p;
}

char *cr_mm_exe_path(struct mm_struct *mm, char *buf, int len)
{
	struct file *exe;
	char *p = ERR_PTR(-ENOENT);

	/* Stable under the mmap lock, which the caller holds. */
	exe = rcu_dereference_raw(mm->exe_file);
	if (exe)
		p = d_path(file_user_path(exe), buf, len);
	return p;
}

struct file *cr_filp_open(const char *path, int flags)
{
	return filp_open(path, flags | O_LARGEFILE, 0);
}

loff_t cr_file_seek(struct file *f, loff_t pos)
{
	return vfs_llseek(f, pos, SEEK_SET);
}

ssize_t cr_file_read_at(struct file *f, void *buf, size_t len, loff_t *pos)
{
	return kernel_read(f, buf, len, pos);
}

ssize_t cr_file_read(struct file *f, void *buf, size_t len)
{
	return kernel_read(f, buf, len, (f->f_mode & FMODE_STREAM) ? NULL : &f->f_pos);
}

ssize_t cr_file_write(struct file *f, const void *buf, size_t len)
{
	return kernel_write(f, buf, len, (f->f_mode & FMODE_STREAM) ? NULL : &f->f_pos);
}

int cr_fd_close(unsigned int fd)
{
	return close_fd(fd);
}

int cr_fd_alloc(void)
{
	return get_unused_fd_flags(0);
}

void cr_fd_unreserve(unsigned int fd)
{
	put_unused_fd(fd);
}

void cr_fd_install(unsigned int fd, struct file *f, bool cloexec)
{
	fd_install(fd, f);
	if (cloexec) {
		spin_lock(&current->files->file_lock);
		__set_bit(fd, files_fdtable(current->files)->close_on_exec);
		spin_unlock(&current->files->file_lock);
	}
}

int cr_current_nr_threads(void)
{
	return get_nr_threads(current);
}

/* ---------------------------------------------------------- credentials */

int cr_current_creds_match(const struct cr_creds *c, const u32 *groups, int ngroups)
{
	struct cr_creds cur;
	int i;
	u32 g;

	cr_current_creds(&cur);
	if (memcmp(cur.uids, c->uids, sizeof(cur.uids)))
		return CR_CRED_UIDS;
	if (memcmp(cur.gids, c->gids, sizeof(cur.gids)))
		return CR_CRED_GIDS;
	if (cur.ngroups != ngroups)
		return CR_CRED_GROUPS;
	for (i = 0; i < ngroups; i++) {
		if (cr_current_group(i, &g) || g != groups[i])
			return CR_CRED_GROUPS;
	}
	if (memcmp(cur.caps, c->caps, sizeof(cur.caps)))
		return CR_CRED_CAPS;
	if (cur.securebits != c->securebits)
		return CR_CRED_SECUREBITS;
	return 0;
}

/* ------------------------------------------------------------- completion */

void cr_completion_init(struct completion *c)
{
	init_completion(c);
}

long cr_wait_killable_timeout(struct completion *c, unsigned long ms)
{
	return wait_for_completion_killable_timeout(c, msecs_to_jiffies(ms));
}

int cr_wait_killable(struct completion *c)
{
	return wait_for_completion_killable(c);
}

void cr_complete_all(struct completion *c)
{
	complete_all(c);
}

int cr_send_sig_current(int sig)
{
	return send_sig(sig, current, 1);
}

int cr_send_sig(struct task_struct *t, int sig)
{
	return send_sig(sig, t, 1);
}

bool cr_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

u64 cr_ktime_real_ns(void)
{
	return ktime_get_real_ns();
}

const char *cr_uts_release(void)
{
	return init_utsname()->release;
}
