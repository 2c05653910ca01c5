// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of /dev/cr itself: the node, the info ioctl and the extensible
 * struct rules of Documentation/cr/ioctl.rst, and module unload/reload.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/cr.h>
#include "kselftest_harness.h"

/* Generous: the VM is emulated, and shares its host. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

static int open_cr(void)
{
	return open(CR_DEVICE, O_RDWR | O_CLOEXEC);
}

TEST(device_node)
{
	struct stat st;

	ASSERT_EQ(0, stat(CR_DEVICE, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	/* Documented mode: 0666, every ioctl checks its own permissions. */
	EXPECT_EQ(0666, st.st_mode & 07777);
	EXPECT_EQ(10, major(st.st_rdev));	/* a misc device */
}

TEST(info_answers)
{
	struct cr_info info;
	int fd = open_cr();

	ASSERT_LE(0, fd);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	ASSERT_EQ(0, ioctl(fd, CR_IOC_INFO, &info));
	EXPECT_EQ(sizeof(info), info.size);
	EXPECT_NE(0, info.module_version);
	EXPECT_EQ(CR_FORMAT_VERSION, info.format_version);
	EXPECT_TRUE(info.features & CR_FEATURE_INFO);
	EXPECT_EQ(getpagesize(), info.page_size);
	EXPECT_EQ(0, info.__pad);
	close(fd);
}

TEST(unknown_ioctl_is_enotty)
{
	struct cr_info info = { .size = sizeof(info) };
	int fd = open_cr();

	ASSERT_LE(0, fd);
	/* Unknown number of ours, another driver's type, and a bare _IO. */
	EXPECT_EQ(-1, ioctl(fd, _IOWR(CR_IOC_MAGIC, 0x7f, struct cr_info), &info));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, _IOWR('T', 0x00, struct cr_info), &info));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, _IO(CR_IOC_MAGIC, 0x55)));
	EXPECT_EQ(ENOTTY, errno);
	close(fd);
}

TEST(size_too_small_is_einval)
{
	struct cr_info info;
	int fd = open_cr();

	ASSERT_LE(0, fd);
	memset(&info, 0, sizeof(info));
	info.size = CR_INFO_SIZE_VER0 - 8;
	EXPECT_EQ(-1, ioctl(fd, CR_IOC_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
	info.size = 0;
	EXPECT_EQ(-1, ioctl(fd, CR_IOC_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

TEST(bigger_struct_rules)
{
	struct {
		struct cr_info info;
		__u64 future[4];
	} big;
	int fd = open_cr();

	ASSERT_LE(0, fd);
	/* A newer caller's struct with a zero tail is accepted... */
	memset(&big, 0, sizeof(big));
	big.info.size = sizeof(big);
	ASSERT_EQ(0, ioctl(fd, CR_IOC_INFO, &big));
	EXPECT_EQ(CR_FORMAT_VERSION, big.info.format_version);
	EXPECT_EQ(sizeof(struct cr_info), big.info.size);
	EXPECT_EQ(0, big.future[3]);
	/* ...a non-zero byte the module does not know is E2BIG... */
	big.info.size = sizeof(big);
	big.future[2] = 1;
	EXPECT_EQ(-1, ioctl(fd, CR_IOC_INFO, &big));
	EXPECT_EQ(E2BIG, errno);
	/* ...and so is a struct bigger than a page. */
	big.future[2] = 0;
	big.info.size = getpagesize() + 8;
	EXPECT_EQ(-1, ioctl(fd, CR_IOC_INFO, &big));
	EXPECT_EQ(E2BIG, errno);
	close(fd);
}

TEST(nonzero_padding_or_flags_is_einval)
{
	struct cr_info info;
	int fd = open_cr();

	ASSERT_LE(0, fd);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.__pad = 1;
	EXPECT_EQ(-1, ioctl(fd, CR_IOC_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
	info.__pad = 0;
	info.flags = 0x80000000;
	EXPECT_EQ(-1, ioctl(fd, CR_IOC_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

TEST(bad_pointer_is_efault)
{
	int fd = open_cr();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, ioctl(fd, CR_IOC_INFO, (void *)16));
	EXPECT_EQ(EFAULT, errno);
	close(fd);
}

TEST(unload_reload_loop)
{
	struct cr_info info = { .size = sizeof(info) };
	const char *top = getenv("CR_TOP");
	char cmd[4096];
	int i, fd;

	if (!top)
		SKIP(return, "CR_TOP not set: not run by tools/vm/run");
	snprintf(cmd, sizeof(cmd), "insmod %s/rust/cr.ko", top);
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(0, system("rmmod cr"));
		ASSERT_NE(0, access(CR_DEVICE, F_OK));
		ASSERT_EQ(0, system(cmd));
		ASSERT_EQ(0, access(CR_DEVICE, F_OK));
	}
	/* Leave the node as tools/vm/run (the udev rule) sets it. */
	ASSERT_EQ(0, chmod(CR_DEVICE, 0666));
	/* No trace left: exactly one cr module, one node, and it works. */
	ASSERT_EQ(0, system("test $(grep -c '^cr ' /proc/modules) = 1"));
	fd = open_cr();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ioctl(fd, CR_IOC_INFO, &info));
	close(fd);
}

TEST_HARNESS_MAIN
