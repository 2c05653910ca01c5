// SPDX-License-Identifier: GPL-2.0
/*
 * cr_kapi.c: the few kernel internals cr needs that are static inline or
 * macros in C, exposed as plain functions for the Rust wrappers in kapi.rs.
 * No logic lives here.
 */
#include <linux/module.h>

