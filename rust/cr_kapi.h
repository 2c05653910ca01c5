/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cr_kapi.h: the C side of the kernel API layer. Every struct here has a
 * #[repr(C)] twin in kapi.rs; keep them in sync.
 */
#ifndef CR_KAPI_H
#define CR_KAPI_H

#include <linux/types.h>

struct task_struct;
struct pid_namespace;
struct callback_head;
struct mm_struct;
struct file;
struct page;
struct completion;

struct cr_task_ids {
	s32 pid, tgid, ppid, pgid, sid;
};

/* cr_task_state() bits */
#define CR_TS_KTHREAD	1
#define CR_TS_EXITING	2
#define CR_TS_PTRACED	4
#define CR_TS_STOPPED	8
#define CR_TS_THREADED	16
#define CR_TS_NO_MM	32

/* cr_may_checkpoint() results */
#define CR_DENY_IDS		1
#define CR_DENY_CAPS		2
#define CR_DENY_DUMPABLE	3

/* cr_current_refusals() bits */
#define CR_REF_SIGPENDING	1
#define CR_REF_ITIMER_REAL	2
#define CR_REF_ITIMER_CPU	4
#define CR_REF_POSIX_TIMERS	8
#define CR_REF_SECCOMP		16
#define CR_REF_SHARED_FS	32
#define CR_REF_SHARED_FILES	64
#define CR_REF_SHARED_SIGHAND	128
#define CR_REF_SHARED_MM	256
#define CR_REF_RLIMIT_CPU	512

#define CR_MAX_GROUPS_INLINE 32

struct cr_creds {
	u32 uids[4];
	u32 gids[4];
	u64 caps[5];
	u32 securebits;
	u32 no_new_privs;
	u32 ngroups;
	u32 groups[CR_MAX_GROUPS_INLINE];
	u32 dumpable;	/* enum task_dumpable */
};

/* cr_current_creds_match() results */
#define CR_CRED_UIDS		1
#define CR_CRED_GIDS		2
#define CR_CRED_GROUPS		3
#define CR_CRED_CAPS		4
#define CR_CRED_SECUREBITS	5

#define CR_SCHED_CPU_WORDS 16

struct cr_sched {
	u32 policy;
	u32 priority;
	s32 nice;
	u32 reset_on_fork;
	u32 ioprio;
	u32 all_cpus;	/* the affinity is every possible CPU */
	u32 nr_cpu_ids;
	u32 pad;
	u64 cpus[CR_SCHED_CPU_WORDS];
};

struct cr_extra {
	s32 pdeath_signal;
	u32 child_subreaper;
	u32 thp_disabled;	/* PR_SET_THP_DISABLE, either way */
	u32 pad;
	u64 timer_slack_ns;
	u64 default_timer_slack_ns;
};

struct cr_misc {
	u32 personality;
	u32 umask;
	char comm[16];
	u64 clear_child_tid;
	u64 robust_list;
	u64 robust_list_len;
	u64 rseq;
	u32 rseq_len;
	u32 rseq_sig;
};

struct cr_sigaction {
	u64 handler, flags, restorer, mask;
};

struct cr_signals {
	u64 blocked;
	u64 ss_sp;
	u64 ss_size;
	u32 ss_flags;
	u32 __pad;
	struct cr_sigaction act[64];
};

/* special mapping kinds */
#define CR_SPECIAL_VDSO		1
#define CR_SPECIAL_VVAR		2
#define CR_SPECIAL_VVAR_VCLOCK	3
#define CR_SPECIAL_OTHER	4

struct cr_vma {
	u64 start, end, pgoff, vm_flags;
	struct file *file;
	u32 special;
	u8 has_anon_vma;
	u8 is_stack;
	u8 __pad[2];
	u64 ino_key;	/* identity of the backing object; never leaves the kernel */
};

/* cr_vm_flag() selectors */
#define CR_VMF_READ		1
#define CR_VMF_WRITE		2
#define CR_VMF_EXEC		3
#define CR_VMF_SHARED		4
#define CR_VMF_GROWSDOWN	5
#define CR_VMF_UNSUPPORTED	6
#define CR_VMF_LOCKED		7
#define CR_VMF_NORESERVE	8
#define CR_VMF_DONTCOPY		9
#define CR_VMF_WIPEONFORK	10
#define CR_VMF_DONTDUMP		11
#define CR_VMF_HUGEPAGE		12
#define CR_VMF_NOHUGEPAGE	13
#define CR_VMF_SOFTDIRTY	14
#define CR_VMF_ACCOUNT		15
#define CR_VMF_MERGEABLE	16
#define CR_VMF_SEALED		17

struct cr_file_info {
	u32 mode;
	u32 rdev_major;
	u32 rdev_minor;
	u32 f_flags;
	s64 pos;
	u32 fmode;
	u32 nlink;
	s32 sock_family;
	s32 sock_type;
	u64 inode;	/* identity of the inode (its address), never saved */
	s64 size;	/* i_size */
};

/* Functions of cr_kapi.c (contracts: see their Rust wrappers in kapi.rs). */
struct task_struct *cr_task_get_by_vpid(pid_t nr);
struct task_struct *cr_task_get_current(void);
struct task_struct *cr_task_get(struct task_struct *t);
pid_t cr_current_tid(void);
void cr_task_put(struct task_struct *t);
struct pid_namespace *cr_current_pid_ns(void);
int cr_task_work_add(struct task_struct *t, struct callback_head *work, void (*fn)(struct callback_head *));
int cr_current_work_add_resume(struct callback_head *work, void (*fn)(struct callback_head *));
int cr_task_ids(struct task_struct *t, struct pid_namespace *ns, struct cr_task_ids *out);
bool cr_task_same_thread_group(struct task_struct *t);
u64 cr_task_exec_id(struct task_struct *t);
int cr_task_state(struct task_struct *t);
int cr_may_checkpoint(struct task_struct *t);
int cr_current_refusals(bool process);
int cr_collect_tree(struct task_struct *root, struct task_struct **out, int max);
int cr_task_zombie(struct task_struct *t, int *exit_code);
bool cr_task_is_leader(struct task_struct *t);
u64 cr_jiffies_ms(void);
int cr_task_poke(struct task_struct *t, unsigned long addr, const void *buf, int len);
struct file *cr_shmem_file(u64 size);
bool cr_current_exiting(void);
void cr_current_creds(struct cr_creds *out);
int cr_current_group(int i, u32 *gid);
void cr_current_misc(struct cr_misc *out);
void cr_current_rlimits(u64 *out);
void cr_current_signals(struct cr_signals *out);
int cr_regset_size(unsigned int note);
int cr_regset_get(unsigned int note, void *buf, unsigned int size);
int cr_current_syscall_nr(void);
void cr_current_set_regs(const u64 *r);
void cr_current_set_ax(u64 ax);
void cr_current_extra(struct cr_extra *out);
void cr_current_set_pdeath_signal(int sig);
void cr_current_sched(struct cr_sched *out);
int cr_current_set_sched(const struct cr_sched *s);
bool cr_cpus_usable(const u64 *cpus);
int cr_current_nice(void);
bool cr_current_can_nice(int nice);
void cr_current_set_dumpable(u32 value);
int cr_current_vma_change_flags(unsigned long start, unsigned long end, u64 set, u64 clear);
void cr_current_set_rseq(u64 ptr, u32 len, u32 sig, u8 version);
unsigned int cr_rseq_align(void);
unsigned int cr_rseq_feature_size(void);
unsigned long cr_user_cs(void);
unsigned long cr_user_ds(void);
unsigned long cr_task_size_max(void);
int cr_current_set_xstate(const void *buf, unsigned int size);
void cr_current_set_sigaction(int sig, const struct cr_sigaction *a);
void cr_current_set_blocked(u64 blocked);
void cr_current_set_altstack(u64 sp, u64 size, u32 flags);
void cr_current_flush_signals(void);
size_t cr_minsigstksz(void);
void cr_current_set_misc(const struct cr_misc *m, bool no_new_privs);
void cr_current_set_rlimit(int i, u64 cur, u64 max);
unsigned int cr_nr_open(void);
struct mm_struct *cr_current_mm_get(void);
void cr_mm_put(struct mm_struct *mm);
void cr_mm_read_lock(struct mm_struct *mm);
void cr_mm_read_unlock(struct mm_struct *mm);
void cr_mm_layout(struct mm_struct *mm, u64 *l, u64 *auxv, unsigned int auxv_words);
unsigned int cr_mm_auxv_words(void);
void cr_current_mm_set_layout(const u64 *l, const u64 *auxv, unsigned int auxv_words);
int cr_mm_vma_at(struct mm_struct *mm, unsigned long addr, struct cr_vma *out);
u64 cr_vm_flag(int which);
long cr_mm_get_dump_pages(struct mm_struct *mm, unsigned long addr, unsigned long n, struct page **pages);
bool cr_page_is_anon(struct page *page);
void cr_page_copy_out(void *dst, struct page *page);
void cr_page_put(struct page *page);
unsigned long cr_current_vdso(void);
unsigned long cr_vm_mmap(struct file *file, unsigned long addr, unsigned long len, unsigned long prot, unsigned long flags, unsigned long off);
int cr_vm_munmap(unsigned long addr, size_t len);
int cr_current_poke(unsigned long addr, const void *buf, int len);
unsigned int cr_current_max_fds(void);
struct file *cr_current_fget(unsigned int fd, bool *cloexec);
void cr_file_put(struct file *f);
struct file *cr_file_get(struct file *f);
void cr_file_info(struct file *f, struct cr_file_info *out);
char *cr_file_path(struct file *f, char *buf, int len);
int cr_file_dname(struct file *f, char *buf, int len);
char *cr_current_cwd(char *buf, int len);
char *cr_mm_exe_path(struct mm_struct *mm, char *buf, int len);
struct file *cr_filp_open(const char *path, int flags);
loff_t cr_file_seek(struct file *f, loff_t pos);
ssize_t cr_file_read(struct file *f, void *buf, size_t len);
ssize_t cr_file_read_at(struct file *f, void *buf, size_t len, loff_t *pos);
ssize_t cr_file_write(struct file *f, const void *buf, size_t len);
int cr_fd_close(unsigned int fd);
int cr_current_set_exe_file(struct file *f);
int cr_fd_alloc(void);
void cr_fd_unreserve(unsigned int fd);
void cr_fd_install(unsigned int fd, struct file *f, bool cloexec);
int cr_current_nr_threads(void);
int cr_current_creds_match(const struct cr_creds *c, const u32 *groups, int ngroups);
void cr_completion_init(struct completion *c);
long cr_wait_killable_timeout(struct completion *c, unsigned long ms);
int cr_wait_killable(struct completion *c);
void cr_complete_all(struct completion *c);
int cr_send_sig_current(int sig);
int cr_send_sig(struct task_struct *t, int sig);
bool cr_fatal_signal_pending(void);
u64 cr_ktime_real_ns(void);
const char *cr_uts_release(void);

#endif /* CR_KAPI_H */
