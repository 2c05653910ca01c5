// SPDX-License-Identifier: GPL-2.0
/*
 * cr_kapi.c: what the Rust bindings cannot reach, as plain functions: static
 * inline functions and macros the kernel crate has no helper for, fields of
 * structs that bindgen leaves opaque (fs_struct, task_exec_state,
 * uts_namespace, sock) or misplaces (task_struct, see cr_kapi.h), and
 * regset.h, shmem_fs.h and rseq.h, which bindings_helper.h does not include.
 * Each function is an accessor that decides nothing: every rule is in the
 * Rust code of kapi.rs and rust/kapi/, which document the contracts.
 */
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task_stack.h>
#include <linux/sched/exec_state.h>
#include <linux/sched/coredump.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/regset.h>
#include <linux/rseq.h>
#include <linux/shmem_fs.h>
#include <linux/elf.h>
#include <linux/utsname.h>
#include <uapi/linux/sched/types.h>
#include <asm/fpu/api.h>
#include <asm/fsgsbase.h>
#include <asm/segment.h>
#include <net/sock.h>

#include "cr_kapi.h"

/* -------------------------------------------------- task_struct fields */

#define CR_TASK_FIELD_FN(f) void *cr_task_##f(struct task_struct *t) { return &t->f; }
CR_TASK_FIELDS(CR_TASK_FIELD_FN)

bool cr_task_sched_reset_on_fork(struct task_struct *t)
{
	return t->sched_reset_on_fork;
}

/* ------------------------------------------------------------- locks */

/* spin_lock_irq() of @t's signal handlers (the kernel crate has no helper). */
void cr_siglock(struct task_struct *t)
{
	spin_lock_irq(&t->sighand->siglock);
}

void cr_sigunlock(struct task_struct *t)
{
	spin_unlock_irq(&t->sighand->siglock);
}

void cr_mmap_write_lock(struct mm_struct *mm)
{
	mmap_write_lock(mm);
}

void cr_mmap_write_unlock(struct mm_struct *mm)
{
	mmap_write_unlock(mm);
}

/* ------------------------------------------- opaque to the bindings */

/* fs_struct users; fs_struct is opaque to the bindings. */
int cr_fs_users(struct task_struct *t)
{
	return t->fs->users;
}

u32 cr_current_umask(void)
{
	return current->fs->umask;
}

void cr_current_set_umask(u32 umask)
{
	current->fs->umask = umask;
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

/*
 * The dumpability of @t and the user namespace it is judged in
 * (task_exec_state is opaque to the bindings). Under RCU.
 */
u32 cr_task_dumpable(struct task_struct *t, struct user_namespace **ns)
{
	const struct task_exec_state *es = rcu_dereference(t->exec_state);

	*ns = es->user_ns;
	return READ_ONCE(es->dumpable);
}

/* task_exec_state_set_dumpable() is not exported; @value is checked. */
void cr_current_set_dumpable(u32 value)
{
	WRITE_ONCE(rcu_dereference_protected(current->exec_state, true)->dumpable, value);
}

/* ------------------------------------------------------ inline and macros */

struct pt_regs *cr_current_pt_regs(void)
{
	return task_pt_regs(current);
}

/* Makes @base the fs base of the current task, with a null selector. */
void cr_current_set_fsbase(u64 base)
{
	preempt_disable();
	loadsegment(fs, 0);
	x86_fsbase_write_cpu(base);
	current->thread.fsbase = base;
	current->thread.fsindex = 0;
	preempt_enable();
}

unsigned long cr_task_size_max(void)
{
	return TASK_SIZE_MAX;
}

bool cr_mm_thp_disabled(struct mm_struct *mm)
{
	return mm_flags_test(MMF_DISABLE_THP_COMPLETELY, mm) ||
	       mm_flags_test(MMF_DISABLE_THP_EXCEPT_ADVISED, mm);
}

/* init_utsname(): uts_namespace is opaque to the bindings. */
const char *cr_uts_release(void)
{
	return init_utsname()->release;
}

bool cr_page_is_anon(struct page *page)
{
	return PageAnon(page);
}

void cr_page_put(struct page *page)
{
	put_page(page);
}

const struct path *cr_file_user_path(struct file *f)
{
	return file_user_path(f);
}

const unsigned char *cr_file_dname(struct file *f)
{
	return f->f_path.dentry->d_name.name;
}

/* The family of a socket's sock, which is opaque to the bindings; -1 without one. */
int cr_sock_family(struct socket *sock)
{
	return sock->sk ? sock->sk->sk_family : -1;
}

/* kernel_read() and kernel_write() at the file's position (none for streams). */
ssize_t cr_file_read(struct file *f, void *buf, size_t len)
{
	return kernel_read(f, buf, len, (f->f_mode & FMODE_STREAM) ? NULL : &f->f_pos);
}

ssize_t cr_file_write(struct file *f, const void *buf, size_t len)
{
	return kernel_write(f, buf, len, (f->f_mode & FMODE_STREAM) ? NULL : &f->f_pos);
}

/* A shared anonymous memory object, as mmap(MAP_SHARED | MAP_ANONYMOUS) makes. */
struct file *cr_shmem_file(u64 size)
{
	return shmem_kernel_file_setup("dev/zero", size, EMPTY_VMA_FLAGS);
}

/* prctl(PR_SET_MM_EXE_FILE) once the old executable is unmapped. */
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

u64 cr_vm_flag(enum cr_vm_flag which)
{
	switch (which) {
	case CR_VMF_READ: return VM_READ;
	case CR_VMF_WRITE: return VM_WRITE;
	case CR_VMF_EXEC: return VM_EXEC;
	case CR_VMF_SHARED: return VM_SHARED;
	case CR_VMF_GROWSDOWN: return VM_GROWSDOWN;
	case CR_VMF_IO: return VM_IO;
	case CR_VMF_PFNMAP: return VM_PFNMAP;
	case CR_VMF_MIXEDMAP: return VM_MIXEDMAP;
	case CR_VMF_HUGETLB: return VM_HUGETLB;
	case CR_VMF_DONTEXPAND: return VM_DONTEXPAND;
	case CR_VMF_SHADOW_STACK: return VM_SHADOW_STACK;
#ifdef CONFIG_ARCH_HAS_PKEYS
	case CR_VMF_PKEYS: return VM_PKEY_BIT0 | VM_PKEY_BIT1 | VM_PKEY_BIT2 | VM_PKEY_BIT3;
#endif
	case CR_VMF_LOCKED: return VM_LOCKED;
	case CR_VMF_LOCKONFAULT: return VM_LOCKONFAULT;
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
	default: return 0;
	}
}

/* vm_flags_set() and vm_flags_clear() of @vma; the mmap lock is held for writing. */
void cr_vma_change_flags(struct vm_area_struct *vma, u64 set, u64 clear)
{
	vm_flags_set(vma, set);
	vm_flags_clear(vma, clear);
}

/* The page protection of @vma recomputed from its flags, as mprotect() sets it. */
void cr_vma_reset_page_prot(struct vm_area_struct *vma)
{
	WRITE_ONCE(vma->vm_page_prot, vm_get_page_prot(vma->vm_flags));
}

/* ------------------------------------------------------------------ rseq */

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

void cr_current_rseq_reset(void)
{
	rseq_reset(current);
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

/* --------------------------------------------------------------- regsets */

/* The regset of the current task with core note type @note, or NULL. */
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

	return rs ? regset_get(current, rs, size, buf) : -ENODEV;
}

/*
 * Loads an xstate regset image into the current task's FPU state. The
 * setter is written for stopped tracees: kernel_fpu_begin_mask() first saves
 * the live registers and marks them to be reloaded on the way to user space,
 * so the setter's write is what user space sees.
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

/* ------------------------------------------------------------ scheduling */

/* sched_setattr(2) of the current thread: struct sched_attr is opaque to the bindings. */
int cr_current_sched_setattr(u32 policy, u32 priority, s32 nice, bool reset_on_fork)
{
	struct sched_attr attr = {
		.size = sizeof(attr),
		.sched_policy = policy,
		.sched_priority = priority,
		.sched_nice = nice,
		.sched_flags = reset_on_fork ? SCHED_FLAG_RESET_ON_FORK : 0,
	};

	return sched_setattr_nocheck(current, &attr);
}

/* ------------------------------------------------------------ unix sockets */

/*
 * struct sock, struct unix_sock and the unix control block of an skb
 * (UNIXCB, in the private net/unix/af_unix.h) are opaque to the bindings:
 * one accessor per field. The rules (what is refused, what is restored)
 * are in rust/kapi/unix.rs and rust/unix.rs.
 */
#include <net/af_unix.h>
#include <../net/unix/af_unix.h>

struct sock *cr_sock_sk(struct socket *sock) { return sock->sk; }
int cr_sk_type(struct sock *sk) { return sk->sk_type; }
int cr_sk_state(struct sock *sk) { return READ_ONCE(sk->sk_state); }
int cr_sk_shutdown(struct sock *sk) { return READ_ONCE(sk->sk_shutdown); }
int cr_sk_passcred(struct sock *sk) { return sk->sk_scm_credentials; }
int cr_sk_passsec(struct sock *sk) { return sk->sk_scm_security; }
int cr_sk_passpidfd(struct sock *sk) { return sk->sk_scm_pidfd; }
int cr_sk_passrights(struct sock *sk) { return sk->sk_scm_rights; }
int cr_sk_rcvbuf(struct sock *sk) { return READ_ONCE(sk->sk_rcvbuf); }
int cr_sk_sndbuf(struct sock *sk) { return READ_ONCE(sk->sk_sndbuf); }
int cr_sk_userlocks(struct sock *sk) { return READ_ONCE(sk->sk_userlocks); }
long cr_sk_rcvtimeo(struct sock *sk) { return READ_ONCE(sk->sk_rcvtimeo); }
long cr_sk_sndtimeo(struct sock *sk) { return READ_ONCE(sk->sk_sndtimeo); }
int cr_sk_peek_off(struct sock *sk) { return READ_ONCE(sk->sk_peek_off); }
u32 cr_sk_backlog(struct sock *sk) { return READ_ONCE(sk->sk_max_ack_backlog); }
bool cr_sk_dead(struct sock *sk) { return sock_flag(sk, SOCK_DEAD); }
bool cr_sk_has_socket(struct sock *sk) { return READ_ONCE(sk->sk_socket) != NULL; }
u32 cr_sk_rqlen(struct sock *sk) { return skb_queue_len_lockless(&sk->sk_receive_queue); }
void cr_sock_put(struct sock *sk) { sock_put(sk); }
unsigned long cr_hz(void) { return HZ; }
bool cr_unix_oob(struct sock *sk) { return IS_ENABLED(CONFIG_AF_UNIX_OOB) && READ_ONCE(unix_sk(sk)->oob_skb); }
/* The bound address (set once by bind, freed with the socket), or NULL. */
struct unix_address *cr_unix_addr(struct sock *sk) { return smp_load_acquire(&unix_sk(sk)->addr); }
int cr_unix_addr_len(struct unix_address *a) { return a->len - (int)offsetof(struct sockaddr_un, sun_path); }
const char *cr_unix_addr_path(struct unix_address *a) { return a->name->sun_path; }

/*
 * Takes a reference to each of the first @max skbs of @sk's receive queue
 * into @out, under the queue's lock (skb_queue_walk is a macro); returns
 * how many the queue holds.
 */
int cr_sk_rqueue_get(struct sock *sk, struct sk_buff **out, int max)
{
	struct sk_buff *skb;
	int n = 0;

	spin_lock(&sk->sk_receive_queue.lock);
	skb_queue_walk(&sk->sk_receive_queue, skb) {
		if (n < max)
			out[n] = skb_get(skb);
		n++;
	}
	spin_unlock(&sk->sk_receive_queue.lock);
	return n;
}

void cr_skb_put(struct sk_buff *skb) { consume_skb(skb); }
u32 cr_skb_len(struct sk_buff *skb) { return skb->len; }
struct sock *cr_skb_sender(struct sk_buff *skb) { return skb->sk; }
u32 cr_unixcb_consumed(struct sk_buff *skb) { return UNIXCB(skb).consumed; }
bool cr_unixcb_has_fds(struct sk_buff *skb) { return UNIXCB(skb).fp != NULL; }

/*
 * Gives @sk, a new socket that is not bound, the name an accepted socket
 * has: its listener's (@len bytes of sun_path, a path's NUL included), in
 * a unix_address of its own, as unix_stream_connect() shares the
 * listener's; nothing is bound or hashed. The socket's destructor frees it.
 */
int cr_unix_set_name(struct sock *sk, const char *name, int len)
{
	struct unix_address *a = kmalloc(sizeof(*a) + offsetof(struct sockaddr_un, sun_path) + len, GFP_KERNEL_ACCOUNT);

	if (!a)
		return -ENOMEM;
	refcount_set(&a->refcnt, 1);
	a->len = offsetof(struct sockaddr_un, sun_path) + len;
	a->name->sun_family = AF_UNIX;
	memcpy(a->name->sun_path, name, len);
	smp_store_release(&unix_sk(sk)->addr, a);
	return 0;
}

int cr_sock_socketpair(struct socket *a, struct socket *b) { return a->ops->socketpair(a, b); }
int cr_sock_setsockopt_int(struct socket *s, int opt, int val) { return sock_setsockopt(s, SOL_SOCKET, opt, KERNEL_SOCKPTR(&val), sizeof(val)); }
int cr_sock_set_timeo(struct socket *s, int opt, s64 sec, s64 usec)
{
	struct __kernel_sock_timeval tv = { .tv_sec = sec, .tv_usec = usec };

	return sock_setsockopt(s, SOL_SOCKET, opt, KERNEL_SOCKPTR(&tv), sizeof(tv));
}
