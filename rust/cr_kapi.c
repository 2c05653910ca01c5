// SPDX-License-Identifier: GPL-2.0
/*
 * cr_kapi.c: what the Rust bindings cannot reach, as plain functions: static
 * inline functions and macros the kernel crate has no helper for, fields of
 * structs that bindgen leaves opaque (fs_struct, task_exec_state,
 * uts_namespace, sock) or misplaces (task_struct, see cr_kapi.h), and
 * regset.h, shmem_fs.h, rseq.h and filelock.h, which bindings_helper.h does
 * not include.
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
#include <linux/filelock.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/pipe_fs_i.h>
#include <linux/regset.h>
#include <linux/rseq.h>
#include <linux/shmem_fs.h>
#include <linux/namei.h>
#include <linux/fsnotify_backend.h>
#include <linux/elf.h>
#include <linux/utsname.h>
#include <uapi/linux/sched/types.h>
#include <asm/fpu/api.h>
#include <asm/fsgsbase.h>
#include <asm/segment.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include <net/inet_connection_sock.h>
#include <net/tcp.h>
#include <net/udp.h>
#include <linux/ipv6.h>
#include <linux/sockptr.h>

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

/* spin_lock_irq() of a sighand_struct's lock (lock_task_sighand's core). */
void cr_sighand_lock(struct sighand_struct *sh) { spin_lock_irq(&sh->siglock); }
void cr_sighand_unlock(struct sighand_struct *sh) { spin_unlock_irq(&sh->siglock); }

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

bool cr_mm_flags_test(struct mm_struct *mm, int flag)
{
	return mm_flags_test(flag, mm);
}

void cr_mm_flags_set(struct mm_struct *mm, int flag)
{
	mm_flags_set(flag, mm);
}

void cr_mm_flags_clear(struct mm_struct *mm, int flag)
{
	mm_flags_clear(flag, mm);
}

/* init_utsname(): uts_namespace is opaque to the bindings. */
const char *cr_uts_release(void)
{
	return init_utsname()->release;
}

int cr_file_dentry_count(struct file *f)
{
	return d_count(f->f_path.dentry);
}

bool cr_page_is_anon(struct page *page)
{
	return PageAnon(page);
}

void cr_page_put(struct page *page)
{
	put_page(page);
}

pgd_t *cr_pgd_offset(struct mm_struct *mm, unsigned long addr)
{
	return pgd_offset(mm, addr);
}

bool cr_pgd_none(pgd_t *pgd)
{
	return pgd_none(pgdp_get(pgd));
}

p4d_t *cr_p4d_offset(pgd_t *pgd, unsigned long addr)
{
	return p4d_offset(pgd, addr);
}

bool cr_p4d_none(p4d_t *p4d)
{
	return p4d_none(p4dp_get(p4d));
}

pud_t *cr_pud_offset(p4d_t *p4d, unsigned long addr)
{
	return pud_offset(p4d, addr);
}

bool cr_pud_none(pud_t *pud)
{
	return pud_none(pudp_get(pud));
}

bool cr_pud_leaf(pud_t *pud)
{
	return pud_leaf(pudp_get(pud));
}

pmd_t *cr_pmd_offset(pud_t *pud, unsigned long addr)
{
	return pmd_offset(pud, addr);
}

bool cr_pmd_none(pmd_t *pmd)
{
	return pmd_none(pmdp_get_lockless(pmd));
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

/* file_count() of an open file description (a macro over file_ref_read()). */
unsigned long cr_file_count(struct file *f) { return file_count(f); }

/* kernel_read() and kernel_write() at the file's position (none for streams). */
ssize_t cr_file_read(struct file *f, void *buf, size_t len)
{
	return kernel_read(f, buf, len, (f->f_mode & FMODE_STREAM) ? NULL : &f->f_pos);
}

ssize_t cr_file_write(struct file *f, const void *buf, size_t len)
{
	return kernel_write(f, buf, len, (f->f_mode & FMODE_STREAM) ? NULL : &f->f_pos);
}

ssize_t cr_file_read_iter(struct file *f, struct iov_iter *it)
{
	return vfs_iter_read(f, it, (f->f_mode & FMODE_STREAM) ? NULL : &f->f_pos, 0);
}

ssize_t cr_file_write_iter(struct file *f, struct iov_iter *it)
{
	return vfs_iter_write(f, it, (f->f_mode & FMODE_STREAM) ? NULL : &f->f_pos, 0);
}

/* A shared anonymous memory object, as mmap(MAP_SHARED | MAP_ANONYMOUS) makes. */
struct file *cr_shmem_file(u64 size)
{
	return shmem_kernel_file_setup("dev/zero", size, EMPTY_VMA_FLAGS);
}

/* ------------------------------------------------ memfds, deleted files */

/* The inode memfd_create() makes (memfd_alloc_file() is not exported): @name is "memfd:NAME". */
struct file *cr_memfd_file(const char *name, u64 size)
{
	return shmem_file_setup(name, size, mk_vma_flags(VMA_NORESERVE_BIT));
}

bool cr_file_is_shmem(struct file *f)
{
	return shmem_file(f);
}

/* SHMEM_I() of a shmem file's inode: its seals (F_GET_SEALS). */
unsigned int cr_shmem_seals(struct file *f)
{
	return SHMEM_I(file_inode(f))->seals;
}

/* Sets the seals of a shmem inode no one else has yet. */
void cr_shmem_set_seals(struct file *f, unsigned int seals)
{
	SHMEM_I(file_inode(f))->seals = seals;
}

/* What F_SEAL_WRITE does to the mapping (memfd_add_seals()). */
int cr_mapping_deny_writable(struct file *f)
{
	return mapping_deny_writable(f->f_mapping);
}

struct mnt_idmap *cr_file_mnt_idmap(struct file *f)
{
	return file_mnt_idmap(f);
}

/* namei.h is not in the bindings. */
struct dentry *cr_start_removing_dentry(struct dentry *parent, struct dentry *child)
{
	return start_removing_dentry(parent, child);
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
	case CR_VMF_MAYSHARE: return VM_MAYSHARE;
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

/* ----------------------------------------------------------------- pipes */

/* The pipe of a pipe or FIFO file (i_pipe shares its place with i_cdev). */
struct pipe_inode_info *cr_file_pipe(struct file *f)
{
	return S_ISFIFO(file_inode(f)->i_mode) ? file_inode(f)->i_pipe : NULL;
}

/* The fields of struct pipe_inode_info, opaque to the bindings (under pipe_lock). */
void cr_pipe_state(struct pipe_inode_info *p, unsigned int *readers, unsigned int *writers,
		   unsigned int *max_usage, unsigned int *occupancy, bool *watch_queue)
{
	*readers = p->readers;
	*writers = p->writers;
	*max_usage = p->max_usage;
	*occupancy = pipe_occupancy(p->head, p->tail);
	*watch_queue = pipe_has_watch_queue(p);
}

/* The @n-th buffer from the tail (under pipe_lock, @n below the occupancy). */
int cr_pipe_buf(struct pipe_inode_info *p, unsigned int n, unsigned int *offset,
		unsigned int *len, bool *packet)
{
	struct pipe_buffer *b = pipe_buf(p, p->tail + n);

	*offset = b->offset;
	*len = b->len;
	*packet = b->flags & PIPE_BUF_FLAG_PACKET;
	return pipe_buf_confirm(p, b);
}

/* Copies @len bytes at @off of the @n-th buffer's page (@off + @len within the page). */
void cr_pipe_buf_copy(struct pipe_inode_info *p, unsigned int n, unsigned int off, void *dst,
		      size_t len)
{
	memcpy_from_page(dst, pipe_buf(p, p->tail + n)->page, off, len);
}

/* A new open file description of @f's inode, as dentry_open() makes for the caller. */
struct file *cr_file_reopen(struct file *f, int flags)
{
	return dentry_open(&f->f_path, flags, current_cred());
}

/* Sets and clears status flags that open() cannot set (O_DIRECT of a pipe), as setfl() does. */
void cr_file_change_flags(struct file *f, unsigned int set, unsigned int clear)
{
	spin_lock(&f->f_lock);
	f->f_flags = (f->f_flags & ~clear) | set;
	spin_unlock(&f->f_lock);
}

/* The magic of the filesystem of @f's inode (PIPEFS_MAGIC for anonymous pipes). */
unsigned long cr_file_sb_magic(struct file *f)
{
	return file_inode(f)->i_sb->s_magic;
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
/* SO_PEERCRED's process and credentials, which sk_peer_lock guards (struct sock is opaque to the bindings). */
void cr_sk_peer_lock(struct sock *sk) { spin_lock(&sk->sk_peer_lock); }
void cr_sk_peer_unlock(struct sock *sk) { spin_unlock(&sk->sk_peer_lock); }
struct pid *cr_sk_peer_pid(struct sock *sk) { return sk->sk_peer_pid; }
const struct cred *cr_sk_peer_cred(struct sock *sk) { return sk->sk_peer_cred; }
void cr_sk_set_peer_pid(struct sock *sk, struct pid *pid) { sk->sk_peer_pid = pid; }
void cr_sk_set_peer_cred(struct sock *sk, const struct cred *cred) { sk->sk_peer_cred = cred; }
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

/* -------------------------------------------------- TCP and UDP sockets */
/* Fields of a socket's sock (opaque to the bindings); sock->sk is set. */

int cr_inet_sk_state(struct socket *s) { return READ_ONCE(s->sk->sk_state); }
int cr_inet_sk_protocol(struct socket *s) { return s->sk->sk_protocol; }
int cr_inet_sk_reuse(struct socket *s) { return s->sk->sk_reuse; }
int cr_inet_sk_reuseport(struct socket *s) { return s->sk->sk_reuseport; }
int cr_inet_sk_ipv6only(struct socket *s) { return s->sk->sk_ipv6only; }
int cr_inet_sk_userlocks(struct socket *s) { return READ_ONCE(s->sk->sk_userlocks); }
int cr_inet_sk_rcvbuf(struct socket *s) { return READ_ONCE(s->sk->sk_rcvbuf); }
int cr_inet_sk_sndbuf(struct socket *s) { return READ_ONCE(s->sk->sk_sndbuf); }
u32 cr_inet_sk_max_ack_backlog(struct socket *s) { return READ_ONCE(s->sk->sk_max_ack_backlog); }
u32 cr_inet_sk_ack_backlog(struct socket *s) { return READ_ONCE(s->sk->sk_ack_backlog); }
int cr_inet_sk_bound_dev_if(struct socket *s) { return READ_ONCE(s->sk->sk_bound_dev_if); }
u32 cr_inet_sk_mark(struct socket *s) { return READ_ONCE(s->sk->sk_mark); }
u32 cr_inet_sk_priority(struct socket *s) { return READ_ONCE(s->sk->sk_priority); }
long cr_inet_sk_rcvtimeo(struct socket *s) { return READ_ONCE(s->sk->sk_rcvtimeo); }
long cr_inet_sk_sndtimeo(struct socket *s) { return READ_ONCE(s->sk->sk_sndtimeo); }
int cr_inet_sk_shutdown(struct socket *s) { return READ_ONCE(s->sk->sk_shutdown); }
unsigned long cr_inet_sk_flags(struct socket *s) { return READ_ONCE(s->sk->sk_flags); }
bool cr_inet_sk_has_filter(struct socket *s) { return rcu_access_pointer(s->sk->sk_filter) != NULL; }
u32 cr_inet_sk_rcvq_len(struct socket *s) { return skb_queue_len_lockless(&s->sk->sk_receive_queue); }
int cr_inet_sk_err(struct socket *s) { return READ_ONCE(s->sk->sk_err); }
u32 cr_inet_sk_errq_len(struct socket *s) { return skb_queue_len_lockless(&s->sk->sk_error_queue); }
u32 cr_udp_reader_queue_len(struct socket *s) { return skb_queue_len_lockless(&udp_sk(s->sk)->reader_queue); }
int cr_inet_tos(struct socket *s) { return READ_ONCE(inet_sk(s->sk)->tos); }
int cr_inet_uc_ttl(struct socket *s) { return READ_ONCE(inet_sk(s->sk)->uc_ttl); }
unsigned long cr_inet_flags(struct socket *s) { return READ_ONCE(inet_sk(s->sk)->inet_flags); }
bool cr_inet_has_mc(struct socket *s) { return rcu_access_pointer(inet_sk(s->sk)->mc_list) != NULL; }
bool cr_inet_has_opt(struct socket *s) { return rcu_access_pointer(inet_sk(s->sk)->inet_opt) != NULL; }
int cr_inet6_hop_limit(struct socket *s) { return READ_ONCE(inet6_sk(s->sk)->hop_limit); }
int cr_inet6_tclass(struct socket *s) { return READ_ONCE(inet6_sk(s->sk)->tclass); }
bool cr_inet6_has_mc(struct socket *s) { return rcu_access_pointer(inet6_sk(s->sk)->ipv6_mc_list) != NULL; }
int cr_tcp_nonagle(struct socket *s) { return tcp_sk(s->sk)->nonagle; }
int cr_tcp_reqsk_queue_len(struct socket *s) { return inet_csk_reqsk_queue_len(s->sk); }

/* setsockopt() of an int option from the kernel, as the caller. */
int cr_inet_setsockopt_int(struct socket *s, int level, int opt, int val)
{
	return do_sock_setsockopt(s, false, level, opt, KERNEL_SOCKPTR(&val), sizeof(val));
}

int cr_inet_setsockopt_buf(struct socket *s, int level, int opt, const void *val, int len)
{
	return do_sock_setsockopt(s, false, level, opt, KERNEL_SOCKPTR((void *)val), len);
}

/* getsockopt() into user memory of the caller (the protocols write only there). */
int cr_inet_getsockopt_user(struct socket *s, int level, int opt, unsigned long val, unsigned long len)
{
	return do_sock_getsockopt(s, false, level, opt, USER_SOCKPTR((void __user *)val), USER_SOCKPTR((int __user *)len));
}

/* ------------------------------------------------------------ file locks */

/*
 * filelock.h is not in the bindings: the lock context of a file's inode,
 * its lock, its three lists, and the fields of a lock, for kapi/lock.rs,
 * which walks the lists and decides.
 */
struct file_lock_context *cr_file_flctx(struct file *f)
{
	return locks_inode_context(file_inode(f));
}

void cr_flctx_lock(struct file_lock_context *ctx)
{
	spin_lock(&ctx->flc_lock);
}

void cr_flctx_unlock(struct file_lock_context *ctx)
{
	spin_unlock(&ctx->flc_lock);
}

struct list_head *cr_flctx_flock(struct file_lock_context *ctx)
{
	return &ctx->flc_flock;
}

struct list_head *cr_flctx_posix(struct file_lock_context *ctx)
{
	return &ctx->flc_posix;
}

struct list_head *cr_flctx_lease(struct file_lock_context *ctx)
{
	return &ctx->flc_lease;
}

/* The lock (or lease) whose flc_list is @l. */
struct file_lock_core *cr_flc_entry(struct list_head *l)
{
	return list_entry(l, struct file_lock_core, flc_list);
}

/* The owner, file, flags and type of a lock or lease. */
void cr_flc_read(struct file_lock_core *c, void **owner, struct file **file,
		 unsigned int *flags, int *type)
{
	*owner = c->flc_owner;
	*file = c->flc_file;
	*flags = c->flc_flags;
	*type = c->flc_type;
}

/* The holder's number in the current pid namespace (0: none), under the lock context's lock. */
pid_t cr_flc_pid_vnr(struct file_lock_core *c) { return pid_vnr(find_pid_ns(c->flc_pid, &init_pid_ns)); }
/* Names task @t's process as the holder, as if it had taken the lock. */
void cr_flc_set_pid(struct file_lock_core *c, struct task_struct *t) { c->flc_pid = task_tgid_nr(t); }

/* The range of a lock of the flock or posix list (not a lease). */
void cr_fl_range(struct file_lock_core *c, s64 *start, s64 *end)
{
	*start = container_of(c, struct file_lock, c)->fl_start;
	*end = container_of(c, struct file_lock, c)->fl_end;
}

struct file_lock *cr_lock_alloc(void)
{
	return locks_alloc_lock();
}

void cr_lock_free(struct file_lock *fl)
{
	locks_free_lock(fl);
}

/* Fills a lock request (the fields vfs_lock_file() and flock use). */
void cr_lock_set(struct file_lock *fl, struct file *f, void *owner, unsigned int flags,
		 int type, s64 start, s64 end)
{
	fl->c.flc_file = f;
	fl->c.flc_owner = owner;
	fl->c.flc_flags = flags;
	fl->c.flc_type = type;
	fl->c.flc_pid = current->tgid;
	fl->fl_start = start;
	fl->fl_end = end;
}

/* The type of a lock request: F_UNLCK after vfs_test_lock() found no conflict. */
int cr_lock_type(struct file_lock *fl)
{
	return fl->c.flc_type;
}

int cr_vfs_test_lock(struct file *f, struct file_lock *fl)
{
	return vfs_test_lock(f, fl);
}

int cr_vfs_lock_file(struct file *f, struct file_lock *fl)
{
	return vfs_lock_file(f, F_SETLK, fl, NULL);
}

int cr_locks_lock_file_wait(struct file *f, struct file_lock *fl)
{
	return locks_lock_file_wait(f, fl);
}

/* The current process's file table: the owner of its POSIX locks. */
void *cr_current_files(void)
{
	return current->files;
}

/*
 * The owner of a file's signals, read under its lock as F_GETOWN_EX reads
 * it (f_getown() is not exported): its pid type, and its number in the
 * current pid namespace, 0 if it has no task left.
 */
pid_t cr_fown_read(struct fown_struct *o, int *type)
{
	pid_t nr;

	read_lock_irq(&o->lock);
	rcu_read_lock();
	*type = o->pid_type;
	nr = pid_task(o->pid, o->pid_type) ? pid_vnr(o->pid) : 0;
	rcu_read_unlock();
	read_unlock_irq(&o->lock);
	return nr;
}

/* ------------------------------------------------------------- signals */

/* list_move_tail() (inline): moves a queued signal from one pending list to another. */
void cr_list_move_tail(struct list_head *e, struct list_head *head) { list_move_tail(e, head); }

/* test_restore_sigmask() (inline): a sigsuspend()-like call's mask is put back on this return. */
bool cr_current_restore_sigmask(void) { return test_restore_sigmask(); }
bool cr_task_restore_sigmask(struct task_struct *t) { return test_tsk_restore_sigmask(t); }
/* spin_lock() of a file's f_lock (inline), which guards its f_ep list of epoll watches. */
void cr_file_lock(struct file *f) { spin_lock(&f->f_lock); }
void cr_file_unlock(struct file *f) { spin_unlock(&f->f_lock); }

/* inotify (an fsnotify group is its file's private data). */
unsigned int cr_inotify_queued(struct file *f)
{
	return ((struct fsnotify_group *)f->private_data)->q_len;
}

unsigned int cr_inotify_idr_next(struct file *f)
{
	return ((struct fsnotify_group *)f->private_data)->inotify_data.idr.idr_next;
}

void cr_current_pwd(struct path *p)
{
	get_fs_pwd(current->fs, p);
}

void cr_current_root(struct path *p)
{
	get_fs_root(current->fs, p);
}

/*
 * The inode inotify watch @wd of @f watches, with a reference (or NULL):
 * the idr lookup and the grab under the group's idr_lock, as inotify's own
 * inotify_idr_find() does (its marks are private to fs/notify/inotify).
 */
struct inode *cr_inotify_wd_inode(struct file *f, int wd)
{
	struct fsnotify_group *g = f->private_data;
	struct fsnotify_mark *m;
	struct inode *i = NULL;

	spin_lock(&g->inotify_data.idr_lock);
	m = idr_find(&g->inotify_data.idr, wd);
	if (m && m->connector && m->connector->type == FSNOTIFY_OBJ_TYPE_INODE)
		i = igrab(m->connector->obj);
	spin_unlock(&g->inotify_data.idr_lock);
	return i;
}

/*
 * POSIX timers: struct k_clock (the per-clock operations a timer calls) is
 * in the private kernel/time/posix-timers.h, opaque to the bindings. The
 * rules (which timers, what is refused, the locking) are in
 * rust/kapi/timer.rs.
 */
#include <linux/posix-timers.h>
#include <../kernel/time/posix-timers.h>

void cr_ptimer_lock(struct k_itimer *t) { spin_lock_irq(&t->it_lock); }
void cr_ptimer_unlock(struct k_itimer *t) { spin_unlock_irq(&t->it_lock); }
void cr_ptimer_get(struct k_itimer *t, struct itimerspec64 *s) { t->kclock->timer_get(t, s); }
int cr_ptimer_set(struct k_itimer *t, struct itimerspec64 *s) { return t->kclock->timer_set(t, 0, s, NULL); }
