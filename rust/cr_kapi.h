/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cr_kapi.h: the C side of the kernel API layer, declared again in kapi.rs
 * (enum cr_vm_flag is the Rust enum VmFlag). No struct is shared between C
 * and Rust: the Rust side reads the kernel's own structs through the
 * bindings.
 */
#ifndef CR_KAPI_H
#define CR_KAPI_H

#include <linux/types.h>

struct task_struct;
struct mm_struct;
struct vm_area_struct;
struct user_namespace;
struct file;
struct iov_iter;
struct path;
struct page;
struct pt_regs;
struct socket;
struct sock;
struct sk_buff;
struct unix_address;
struct dentry;
struct inode;
struct mnt_idmap;
struct file_lock;
struct file_lock_core;
struct file_lock_context;
struct list_head;

/* The VM_* flags cr_vm_flag() reads (macros, some per configuration). */
enum cr_vm_flag {
	CR_VMF_READ = 1,
	CR_VMF_WRITE,
	CR_VMF_EXEC,
	CR_VMF_SHARED,
	CR_VMF_GROWSDOWN,
	CR_VMF_IO,
	CR_VMF_PFNMAP,
	CR_VMF_MIXEDMAP,
	CR_VMF_HUGETLB,
	CR_VMF_DONTEXPAND,
	CR_VMF_SHADOW_STACK,
	CR_VMF_PKEYS,
	CR_VMF_LOCKED,
	CR_VMF_LOCKONFAULT,
	CR_VMF_NORESERVE,
	CR_VMF_DONTCOPY,
	CR_VMF_WIPEONFORK,
	CR_VMF_DONTDUMP,
	CR_VMF_HUGEPAGE,
	CR_VMF_NOHUGEPAGE,
	CR_VMF_SOFTDIRTY,
	CR_VMF_ACCOUNT,
	CR_VMF_MERGEABLE,
	CR_VMF_SEALED,
	CR_VMF_MAYSHARE,
};

/*
 * The task_struct fields kapi.rs reads, through cr_task_<field>(), which
 * returns the field's address: bindgen places every field after `stats`
 * (a zero-sized member aligned on a cache line without CONFIG_SCHEDSTATS)
 * at the wrong offset, so Rust cannot compute their addresses itself.
 */
#define CR_TASK_FIELDS(X) X(thread_info) X(flags) X(ptrace) X(static_prio) X(rt_priority) \
	X(policy) X(cpus_ptr) X(cpus_mask) X(tasks) X(mm) \
	X(exit_state) X(exit_code) X(exit_signal) X(pdeath_signal) X(jobctl) \
	X(personality) X(atomic_flags) X(tgid) X(real_parent) X(group_leader) \
	X(thread_node) X(clear_child_tid) X(real_cred) X(cred) X(comm) X(fs) X(files) \
	X(signal) X(sighand) X(blocked) X(pending) X(sas_ss_sp) X(sas_ss_size) \
	X(sas_ss_flags) X(seccomp) X(self_exec_id) X(alloc_lock) X(io_context) \
	X(futex) X(rseq) X(timer_slack_ns) X(default_timer_slack_ns) X(saved_sigmask)

#define CR_TASK_FIELD_DECL(f) void *cr_task_##f(struct task_struct *t);
CR_TASK_FIELDS(CR_TASK_FIELD_DECL)
bool cr_task_sched_reset_on_fork(struct task_struct *t);

/* Functions of cr_kapi.c (contracts: see their Rust wrappers in kapi.rs). */
void cr_siglock(struct task_struct *t);
void cr_sigunlock(struct task_struct *t);
void cr_sighand_lock(struct sighand_struct *sh);
void cr_sighand_unlock(struct sighand_struct *sh);
void cr_list_move_tail(struct list_head *e, struct list_head *head);
bool cr_current_restore_sigmask(void);
bool cr_task_restore_sigmask(struct task_struct *t);
void cr_mmap_write_lock(struct mm_struct *mm);
void cr_mmap_write_unlock(struct mm_struct *mm);
int cr_fs_users(struct task_struct *t);
u32 cr_current_umask(void);
void cr_current_set_umask(u32 umask);
char *cr_current_cwd(char *buf, int len);
u32 cr_task_dumpable(struct task_struct *t, struct user_namespace **ns);
void cr_current_set_dumpable(u32 value);
struct pt_regs *cr_current_pt_regs(void);
void cr_current_set_fsbase(u64 base);
unsigned long cr_task_size_max(void);
bool cr_mm_flags_test(struct mm_struct *mm, int flag);
void cr_mm_flags_set(struct mm_struct *mm, int flag);
void cr_mm_flags_clear(struct mm_struct *mm, int flag);
const char *cr_uts_release(void);
int cr_file_dentry_count(struct file *f);
bool cr_page_is_anon(struct page *page);
void cr_page_put(struct page *page);
pgd_t *cr_pgd_offset(struct mm_struct *mm, unsigned long addr);
bool cr_pgd_none(pgd_t *pgd);
p4d_t *cr_p4d_offset(pgd_t *pgd, unsigned long addr);
bool cr_p4d_none(p4d_t *p4d);
pud_t *cr_pud_offset(p4d_t *p4d, unsigned long addr);
bool cr_pud_none(pud_t *pud);
bool cr_pud_leaf(pud_t *pud);
pmd_t *cr_pmd_offset(pud_t *pud, unsigned long addr);
bool cr_pmd_none(pmd_t *pmd);
const struct path *cr_file_user_path(struct file *f);
const unsigned char *cr_file_dname(struct file *f);
int cr_sock_family(struct socket *sock);
unsigned long cr_file_count(struct file *f);
int cr_inet_sk_state(struct socket *s);
int cr_inet_sk_protocol(struct socket *s);
int cr_inet_sk_reuse(struct socket *s);
int cr_inet_sk_reuseport(struct socket *s);
int cr_inet_sk_ipv6only(struct socket *s);
int cr_inet_sk_userlocks(struct socket *s);
int cr_inet_sk_rcvbuf(struct socket *s);
int cr_inet_sk_sndbuf(struct socket *s);
u32 cr_inet_sk_max_ack_backlog(struct socket *s);
u32 cr_inet_sk_ack_backlog(struct socket *s);
int cr_inet_sk_bound_dev_if(struct socket *s);
u32 cr_inet_sk_mark(struct socket *s);
u32 cr_inet_sk_priority(struct socket *s);
long cr_inet_sk_rcvtimeo(struct socket *s);
long cr_inet_sk_sndtimeo(struct socket *s);
int cr_inet_sk_shutdown(struct socket *s);
unsigned long cr_inet_sk_flags(struct socket *s);
bool cr_inet_sk_has_filter(struct socket *s);
u32 cr_inet_sk_rcvq_len(struct socket *s);
int cr_inet_sk_err(struct socket *s);
u32 cr_inet_sk_errq_len(struct socket *s);
u32 cr_udp_reader_queue_len(struct socket *s);
int cr_inet_tos(struct socket *s);
int cr_inet_uc_ttl(struct socket *s);
unsigned long cr_inet_flags(struct socket *s);
bool cr_inet_has_mc(struct socket *s);
bool cr_inet_has_opt(struct socket *s);
int cr_inet6_hop_limit(struct socket *s);
int cr_inet6_tclass(struct socket *s);
bool cr_inet6_has_mc(struct socket *s);
int cr_tcp_nonagle(struct socket *s);
int cr_tcp_reqsk_queue_len(struct socket *s);
int cr_inet_setsockopt_int(struct socket *s, int level, int opt, int val);
int cr_inet_setsockopt_buf(struct socket *s, int level, int opt, const void *val, int len);
int cr_inet_getsockopt_user(struct socket *s, int level, int opt, unsigned long val, unsigned long len);
ssize_t cr_file_read(struct file *f, void *buf, size_t len);
ssize_t cr_file_write(struct file *f, const void *buf, size_t len);
ssize_t cr_file_read_iter(struct file *f, struct iov_iter *it);
ssize_t cr_file_write_iter(struct file *f, struct iov_iter *it);
struct file *cr_shmem_file(u64 size);
struct file *cr_memfd_file(const char *name, u64 size);
bool cr_file_is_shmem(struct file *f);
unsigned int cr_shmem_seals(struct file *f);
void cr_shmem_set_seals(struct file *f, unsigned int seals);
int cr_mapping_deny_writable(struct file *f);
struct mnt_idmap *cr_file_mnt_idmap(struct file *f);
struct dentry *cr_start_removing_dentry(struct dentry *parent, struct dentry *child);
int cr_current_set_exe_file(struct file *f);
struct pipe_inode_info;
struct pipe_inode_info *cr_file_pipe(struct file *f);
void cr_pipe_state(struct pipe_inode_info *p, unsigned int *readers, unsigned int *writers,
		   unsigned int *max_usage, unsigned int *occupancy, bool *watch_queue);
int cr_pipe_buf(struct pipe_inode_info *p, unsigned int n, unsigned int *offset,
		unsigned int *len, bool *packet);
void cr_pipe_buf_copy(struct pipe_inode_info *p, unsigned int n, unsigned int off, void *dst,
		      size_t len);
struct file *cr_file_reopen(struct file *f, int flags);
void cr_file_change_flags(struct file *f, unsigned int set, unsigned int clear);
unsigned long cr_file_sb_magic(struct file *f);
u64 cr_vm_flag(enum cr_vm_flag which);
void cr_vma_change_flags(struct vm_area_struct *vma, u64 set, u64 clear);
void cr_vma_reset_page_prot(struct vm_area_struct *vma);
void cr_current_set_rseq(u64 ptr, u32 len, u32 sig, u8 version);
void cr_current_rseq_reset(void);
unsigned int cr_rseq_align(void);
unsigned int cr_rseq_feature_size(void);
int cr_regset_size(unsigned int note);
int cr_regset_get(unsigned int note, void *buf, unsigned int size);
int cr_current_set_xstate(const void *buf, unsigned int size);
int cr_current_sched_setattr(u32 policy, u32 priority, s32 nice, bool reset_on_fork);
struct file_lock_context *cr_file_flctx(struct file *f);
void cr_flctx_lock(struct file_lock_context *ctx);
void cr_flctx_unlock(struct file_lock_context *ctx);
struct list_head *cr_flctx_flock(struct file_lock_context *ctx);
struct list_head *cr_flctx_posix(struct file_lock_context *ctx);
struct list_head *cr_flctx_lease(struct file_lock_context *ctx);
struct file_lock_core *cr_flc_entry(struct list_head *l);
void cr_flc_read(struct file_lock_core *c, void **owner, struct file **file,
		 unsigned int *flags, int *type);
pid_t cr_flc_pid_vnr(struct file_lock_core *c);
void cr_flc_set_pid(struct file_lock_core *c, struct task_struct *t);
void cr_fl_range(struct file_lock_core *c, s64 *start, s64 *end);
struct file_lock *cr_lock_alloc(void);
void cr_lock_free(struct file_lock *fl);
void cr_lock_set(struct file_lock *fl, struct file *f, void *owner, unsigned int flags,
		 int type, s64 start, s64 end);
int cr_lock_type(struct file_lock *fl);
int cr_vfs_test_lock(struct file *f, struct file_lock *fl);
int cr_vfs_lock_file(struct file *f, struct file_lock *fl);
int cr_locks_lock_file_wait(struct file *f, struct file_lock *fl);
void *cr_current_files(void);
struct fown_struct;
pid_t cr_fown_read(struct fown_struct *o, int *type);

/* unix sockets */
struct sock *cr_sock_sk(struct socket *sock);
int cr_sk_type(struct sock *sk);
int cr_sk_state(struct sock *sk);
int cr_sk_shutdown(struct sock *sk);
int cr_sk_passcred(struct sock *sk);
int cr_sk_passsec(struct sock *sk);
int cr_sk_passpidfd(struct sock *sk);
int cr_sk_passrights(struct sock *sk);
int cr_sk_rcvbuf(struct sock *sk);
int cr_sk_sndbuf(struct sock *sk);
int cr_sk_userlocks(struct sock *sk);
long cr_sk_rcvtimeo(struct sock *sk);
long cr_sk_sndtimeo(struct sock *sk);
int cr_sk_peek_off(struct sock *sk);
u32 cr_sk_backlog(struct sock *sk);
bool cr_sk_dead(struct sock *sk);
void cr_sk_peer_lock(struct sock *sk);
void cr_sk_peer_unlock(struct sock *sk);
struct pid *cr_sk_peer_pid(struct sock *sk);
const struct cred *cr_sk_peer_cred(struct sock *sk);
void cr_sk_set_peer_pid(struct sock *sk, struct pid *pid);
void cr_sk_set_peer_cred(struct sock *sk, const struct cred *cred);
bool cr_sk_has_socket(struct sock *sk);
u32 cr_sk_rqlen(struct sock *sk);
void cr_sock_put(struct sock *sk);
unsigned long cr_hz(void);
bool cr_unix_oob(struct sock *sk);
struct unix_address *cr_unix_addr(struct sock *sk);
int cr_unix_addr_len(struct unix_address *a);
const char *cr_unix_addr_path(struct unix_address *a);
int cr_sk_rqueue_get(struct sock *sk, struct sk_buff **out, int max);
void cr_skb_put(struct sk_buff *skb);
u32 cr_skb_len(struct sk_buff *skb);
struct sock *cr_skb_sender(struct sk_buff *skb);
u32 cr_unixcb_consumed(struct sk_buff *skb);
bool cr_unixcb_has_fds(struct sk_buff *skb);
int cr_unix_set_name(struct sock *sk, const char *name, int len);
int cr_sock_socketpair(struct socket *a, struct socket *b);
int cr_sock_setsockopt_int(struct socket *s, int opt, int val);
int cr_sock_set_timeo(struct socket *s, int opt, s64 sec, s64 usec);

unsigned int cr_inotify_queued(struct file *f);
unsigned int cr_inotify_idr_next(struct file *f);
void cr_current_pwd(struct path *p);
void cr_current_root(struct path *p);
struct inode *cr_inotify_wd_inode(struct file *f, int wd);
void cr_file_lock(struct file *f);
void cr_file_unlock(struct file *f);

struct k_itimer;
struct itimerspec64;
void cr_ptimer_lock(struct k_itimer *t);
void cr_ptimer_unlock(struct k_itimer *t);
void cr_ptimer_get(struct k_itimer *t, struct itimerspec64 *s);
int cr_ptimer_set(struct k_itimer *t, struct itimerspec64 *s);

#endif /* CR_KAPI_H */
