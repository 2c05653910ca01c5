/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * cr: in-kernel checkpoint/restart of Linux processes.
 *
 * The module registers the misc device /dev/cr.  Every command is an ioctl
 * on an open file of that device and takes one extensible argument struct:
 *
 *  - the first member is always "__u32 size", which the caller sets to
 *    sizeof() the struct as it knows it;
 *  - a size smaller than the first published version of the struct gives
 *    EINVAL, a size larger than a page gives E2BIG;
 *  - a caller newer than the module may pass a bigger struct: the module
 *    accepts it if every byte it does not know is zero, and fails with E2BIG
 *    otherwise;
 *  - unknown flag bits, and every field named __pad or __reserved, must be
 *    zero (EINVAL otherwise);
 *  - pointers travel as __u64;
 *  - the command numbers below encode the size of the first version of each
 *    struct, but the module matches only the type and number, so a caller
 *    that grows the struct keeps using the same command;
 *  - an unknown command gives ENOTTY.
 *
 * See Documentation/cr/ioctl.rst for the full reference.
 */
#ifndef _UAPI_LINUX_CR_H
#define _UAPI_LINUX_CR_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define CR_DEVICE "/dev/cr"

/* Module version: (major << 16) | (minor << 8) | patch. */
#define CR_VERSION(major, minor, patch) (((major) << 16) | ((minor) << 8) | (patch))

/* Features the module supports, reported by CR_IOC_INFO. */
#define CR_FEATURE_INFO		(1ULL << 0)	/* CR_IOC_INFO */
#define CR_FEATURE_CHECKPOINT	(1ULL << 1)	/* CR_IOC_CHECKPOINT */
#define CR_FEATURE_RESTART	(1ULL << 2)	/* CR_IOC_RESTART */
#define CR_FEATURE_TREE		(1ULL << 3)	/* process trees, threads, zombies,
						 * shared anonymous memory */

/**
 * struct cr_info - what the module is and can do
 * @size:           in: sizeof(struct cr_info)
 * @flags:          in: must be 0
 * @module_version: out: CR_VERSION() of the module
 * @format_version: out: image format version the module writes and reads
 * @features:       out: CR_FEATURE_* bits
 * @page_size:      out: the kernel's page size
 * @__pad:          must be 0
 */
struct cr_info {
	__u32 size;
	__u32 flags;
	__u32 module_version;
	__u32 format_version;
	__u64 features;
	__u32 page_size;
	__u32 __pad;
};
#define CR_INFO_SIZE_VER0 32

/* The image format version (struct cr_info's format_version) of this header. */
#define CR_FORMAT_VERSION 8

/* Flags of struct cr_checkpoint_args. */
#define CR_CHECKPOINT_KILL	(1U << 0) /* SIGKILL the target after a complete dump */

/**
 * struct cr_checkpoint_args - checkpoint a process and its subtree into an
 * image (every descendant process and every thread; zombies included)
 * @size:  sizeof(struct cr_checkpoint_args)
 * @flags: CR_CHECKPOINT_* bits
 * @pid:   the target, in the caller's pid namespace
 * @fd:    where the image is written, sequentially (file, pipe or socket)
 * @logfd: where a human-readable reason is written on failure, or -1
 * @__pad: must be 0
 * @external_pipes: (since CR_CHECKPOINT_ARGS_SIZE_VER1) user pointer to an
 *              array of @nr_external_pipes __u64 inode numbers of anonymous
 *              pipes (pipe:[INO] in /proc/PID/fd), 0 if none: such a pipe
 *              with a party outside the tree, on an fd above 2, is recorded
 *              as an external object (restored from the pipe handed over
 *              with CR_RESTART_OBJ_INHERIT) instead of being refused
 * @nr_external_pipes: number of entries at @external_pipes, at most
 *              CR_CHECKPOINT_MAX_EXTERNAL
 * @__pad1:     must be 0
 */
struct cr_checkpoint_args {
	__u32 size;
	__u32 flags;
	__s32 pid;
	__s32 fd;
	__s32 logfd;
	__u32 __pad;
	__u64 external_pipes;
	__u32 nr_external_pipes;
	__u32 __pad1;
};
#define CR_CHECKPOINT_ARGS_SIZE_VER0 24
#define CR_CHECKPOINT_ARGS_SIZE_VER1 40
#define CR_CHECKPOINT_MAX_EXTERNAL 1024

/* Flags of struct cr_restart_args. */
#define CR_RESTART_STOPPED	(1U << 0) /* the restored task starts SIGSTOP-ed */
#define CR_RESTART_COORDINATE	(1U << 1) /* read the image and coordinate the
					   * tasks of a tree that JOIN on this
					   * /dev/cr file; the caller is not
					   * restored: returns 0 when all are */
#define CR_RESTART_JOIN		(1U << 2) /* become a task of the tree that the
					   * coordinator on this /dev/cr file
					   * is restoring (found by pid) */
#define CR_RESTART_PREMAP	(1U << 3) /* with COORDINATE: each process maps
					   * and fills its memory before its
					   * children are forked (they share
					   * its pages copy-on-write); with
					   * JOIN: a leader does so now */

/**
 * struct cr_restart_args - become the program saved in an image
 * @size:       sizeof(struct cr_restart_args)
 * @flags:      CR_RESTART_* bits
 * @fd:         where the image is read from, sequentially
 * @logfd:      where a human-readable reason is written on failure, or -1
 * @prefix:     user pointer to the first @prefix_len bytes of the image, which
 *              the caller has already read from @fd (0 if none); the module
 *              reads these before it reads from @fd, and validates them just
 *              like bytes from @fd
 * @prefix_len: length of @prefix in bytes
 * @objs:       (since CR_RESTART_ARGS_SIZE_VER1) user pointer to an array of
 *              @nr_objs struct cr_restart_obj: the objects the caller made
 *              for the image (0 if none); the module takes each and closes
 *              its fd in the caller
 * @nr_objs:    number of entries at @objs, at most CR_RESTART_MAX_OBJS
 * @__pad:      must be 0
 *
 * Without CR_RESTART_COORDINATE/CR_RESTART_JOIN, the caller becomes the
 * image's only task: on success the ioctl does not return to the caller but
 * into the restored program. With CR_RESTART_COORDINATE the caller reads the
 * image and returns 0 once every task that joined (CR_RESTART_JOIN, on the
 * same open /dev/cr file) is restored. A joining task returns into its
 * restored program. See Documentation/cr/ioctl.rst.
 */
struct cr_restart_args {
	__u32 size;
	__u32 flags;
	__s32 fd;
	__s32 logfd;
	__u64 prefix;
	__u64 prefix_len;
	__u64 objs;
	__u32 nr_objs;
	__u32 __pad;
};
#define CR_RESTART_ARGS_SIZE_VER0 32
#define CR_RESTART_ARGS_SIZE_VER1 48

/* Kinds of struct cr_restart_obj. */
#define CR_RESTART_OBJ_PIPE	1 /* an empty anonymous pipe (either end) with
				   * the capacity of the image's pipe @id,
				   * which nothing else has open */
#define CR_RESTART_OBJ_INHERIT	2 /* any open file (an end of a pipe): used
				   * for the image's external pipe @id
				   * (crctl restart --inherit-fd) */
#define CR_RESTART_OBJ_MEMFD	3 /* a memfd (memfd_create, MFD_ALLOW_SEALING)
				   * named and sized as the image's memfd @id,
				   * empty, not sealed; the kernel fills it
				   * and sets its mode and seals */
#define CR_RESTART_OBJ_EVENTFD	4 /* an eventfd with the counter and
				   * EFD_SEMAPHORE of the image's eventfd @id */
#define CR_RESTART_OBJ_TIMERFD	5 /* a timerfd on the clock of the image's
				   * timerfd @id, set as it records, with its
				   * unread expirations (TFD_IOC_SET_TICKS) */
#define CR_RESTART_OBJ_SIGNALFD	6 /* a signalfd with the mask of the
				   * image's signalfd @id */
#define CR_RESTART_OBJ_EPOLL	7 /* only in CR_IOC_EPOLL_SETS: an epoll
				   * set with exactly the watches of the
				   * image's epoll @id */
#define CR_RESTART_OBJ_INOTIFY	8 /* an inotify instance with exactly the
				   * watches (wd, mask) and next watch
				   * descriptor of the image's inotify @id,
				   * nothing queued */

#define CR_RESTART_MAX_OBJS	65536

/**
 * struct cr_restart_obj - an object made in user space for a restart
 * @kind:  CR_RESTART_OBJ_*
 * @id:    the id of the object in the image (the pipe, eventfd, timerfd or
 *         signalfd record's id), each id of a kind once
 * @fd:    the caller's fd of the object
 * @__pad: must be 0
 */
struct cr_restart_obj {
	__u32 kind;
	__u32 id;
	__s32 fd;
	__u32 __pad;
};

/**
 * struct cr_epoll_watch - one watch crctl's epoll helper adds
 * @set:        the image's epoll set id
 * @tfd:        the fd number the watch was added with (dup2 the target
 *              there, then epoll_ctl(EPOLL_CTL_ADD, @tfd))
 * @events:     the events mask to add it with
 * @fd:         the helper's fd of the watched file (installed by
 *              CR_IOC_EPOLL_WATCHES, close-on-exec), or -1 if @target_set
 * @target_set: the epoll set id it watches (epoll in epoll), else 0
 * @__pad:      0
 * @data:       epoll_data
 */
struct cr_epoll_watch {
	__u32 set;
	__u32 tfd;
	__u32 events;
	__s32 fd;
	__u32 target_set;
	__u32 __pad;
	__u64 data;
};

/**
 * struct cr_epoll_args - argument of CR_IOC_EPOLL_WATCHES/CR_IOC_EPOLL_SETS
 * @size: sizeof(struct cr_epoll_args)
 * @nr:   elements of the array at @ptr
 * @ptr:  WATCHES: an array of struct cr_epoll_watch the kernel fills
 *        (it returns how many); SETS: the struct cr_restart_obj of each
 *        set made (kind CR_RESTART_OBJ_EPOLL)
 */
struct cr_epoll_args {
	__u32 size;
	__u32 nr;
	__u64 ptr;
};

#define CR_IOC_MAGIC 0xC1

#define CR_IOC_INFO		_IOWR(CR_IOC_MAGIC, 0x00, struct cr_info)
/* The size of the first version, which the number keeps (see above). */
#define CR_IOC_CHECKPOINT	_IOC(_IOC_WRITE, CR_IOC_MAGIC, 0x01, CR_CHECKPOINT_ARGS_SIZE_VER0)
/* The size of the first version, which the number keeps (see above). */
#define CR_IOC_RESTART		_IOC(_IOC_WRITE, CR_IOC_MAGIC, 0x02, CR_RESTART_ARGS_SIZE_VER0)

/* crctl's epoll helper, during a tree restart on the same /dev/cr file. */
#define CR_IOC_EPOLL_WATCHES	_IOWR(CR_IOC_MAGIC, 0x03, struct cr_epoll_args)
#define CR_IOC_EPOLL_SETS	_IOW(CR_IOC_MAGIC, 0x04, struct cr_epoll_args)

#endif /* _UAPI_LINUX_CR_H */
