// SPDX-License-Identifier: GPL-2.0
/*
 * Prints the layout of the TCP-AO and TCP-MD5 uapi structs as the C compiler
 * sees them: "struct sizeof N alignof M" per struct, "struct.field OFFSET
 * SIZE" per field (bytes), and for bitfields, which have no offsetof,
 * "struct.field bit INDEX WIDTH", INDEX being the first bit the field
 * occupies counted from bit 0 of byte 0 (bit i is bit i%8 of byte i/8),
 * found by setting the field to all ones in a zeroed struct.
 *
 * tests/unit/test_tcp_ao_binding.py holds this output as a constant so that
 * the unit tests need neither a compiler nor kernel headers, and compares
 * harness/tcp_ao.py's ctypes structs with it. To regenerate, compile against
 * a Linux 6.7+ uapi <linux/tcp.h>. A raw kernel tree's include/uapi cannot
 * be put on the include path as is (its headers are meant to go through
 * "make headers_install"), but tcp.h alone can, with the system's headers
 * for the rest:
 *
 *   mkdir -p /tmp/aohdr/linux
 *   cp $LINUX/include/uapi/linux/tcp.h /tmp/aohdr/linux/
 *   gcc -Wall -I /tmp/aohdr -o /tmp/tcp_ao_layout tests/unit/data/tcp_ao_layout.c
 *   /tmp/tcp_ao_layout
 *
 * The unit test does exactly this itself when NETHARNESS_TCP_H names such a
 * tcp.h (or when the system's <linux/tcp.h> knows TCP-AO) and gcc exists.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <linux/tcp.h>

#define FIELD(s, f) \
	printf("%s.%s %zu %zu\n", #s, #f, offsetof(struct s, f), sizeof(((struct s *)0)->f))

#define SIZE(s) \
	printf("%s sizeof %zu alignof %zu\n", #s, sizeof(struct s), _Alignof(struct s))

/* Bitfields have no offsetof: set the field to all ones in a zeroed struct
 * and report the index of the first set bit and the field's width. */
#define BITS(s, f, width) do {						\
	struct s v;							\
	unsigned char *p = (unsigned char *)&v;				\
	size_t i;							\
	memset(&v, 0, sizeof(v));					\
	v.f = (1u << (width)) - 1;					\
	for (i = 0; i < sizeof(v) * 8; i++)				\
		if (p[i / 8] & (1u << (i % 8)))				\
			break;						\
	printf("%s.%s bit %zu %d\n", #s, #f, i, (width));		\
} while (0)

int main(void)
{
	SIZE(tcp_md5sig);
	FIELD(tcp_md5sig, tcpm_addr);
	FIELD(tcp_md5sig, tcpm_flags);
	FIELD(tcp_md5sig, tcpm_prefixlen);
	FIELD(tcp_md5sig, tcpm_keylen);
	FIELD(tcp_md5sig, tcpm_ifindex);
	FIELD(tcp_md5sig, tcpm_key);

	SIZE(tcp_ao_add);
	FIELD(tcp_ao_add, addr);
	FIELD(tcp_ao_add, alg_name);
	FIELD(tcp_ao_add, ifindex);
	BITS(tcp_ao_add, set_current, 1);
	BITS(tcp_ao_add, set_rnext, 1);
	BITS(tcp_ao_add, reserved, 30);
	FIELD(tcp_ao_add, reserved2);
	FIELD(tcp_ao_add, prefix);
	FIELD(tcp_ao_add, sndid);
	FIELD(tcp_ao_add, rcvid);
	FIELD(tcp_ao_add, maclen);
	FIELD(tcp_ao_add, keyflags);
	FIELD(tcp_ao_add, keylen);
	FIELD(tcp_ao_add, key);

	SIZE(tcp_ao_del);
	FIELD(tcp_ao_del, addr);
	FIELD(tcp_ao_del, ifindex);
	BITS(tcp_ao_del, set_current, 1);
	BITS(tcp_ao_del, set_rnext, 1);
	BITS(tcp_ao_del, del_async, 1);
	BITS(tcp_ao_del, reserved, 29);
	FIELD(tcp_ao_del, reserved2);
	FIELD(tcp_ao_del, prefix);
	FIELD(tcp_ao_del, sndid);
	FIELD(tcp_ao_del, rcvid);
	FIELD(tcp_ao_del, current_key);
	FIELD(tcp_ao_del, rnext);
	FIELD(tcp_ao_del, keyflags);

	SIZE(tcp_ao_info_opt);
	BITS(tcp_ao_info_opt, set_current, 1);
	BITS(tcp_ao_info_opt, set_rnext, 1);
	BITS(tcp_ao_info_opt, ao_required, 1);
	BITS(tcp_ao_info_opt, set_counters, 1);
	BITS(tcp_ao_info_opt, accept_icmps, 1);
	BITS(tcp_ao_info_opt, reserved, 27);
	FIELD(tcp_ao_info_opt, reserved2);
	FIELD(tcp_ao_info_opt, current_key);
	FIELD(tcp_ao_info_opt, rnext);
	FIELD(tcp_ao_info_opt, pkt_good);
	FIELD(tcp_ao_info_opt, pkt_bad);
	FIELD(tcp_ao_info_opt, pkt_key_not_found);
	FIELD(tcp_ao_info_opt, pkt_ao_required);
	FIELD(tcp_ao_info_opt, pkt_dropped_icmp);

	SIZE(tcp_ao_getsockopt);
	FIELD(tcp_ao_getsockopt, addr);
	FIELD(tcp_ao_getsockopt, alg_name);
	FIELD(tcp_ao_getsockopt, key);
	FIELD(tcp_ao_getsockopt, nkeys);
	BITS(tcp_ao_getsockopt, is_current, 1);
	BITS(tcp_ao_getsockopt, is_rnext, 1);
	BITS(tcp_ao_getsockopt, get_all, 1);
	BITS(tcp_ao_getsockopt, reserved, 13);
	FIELD(tcp_ao_getsockopt, sndid);
	FIELD(tcp_ao_getsockopt, rcvid);
	FIELD(tcp_ao_getsockopt, prefix);
	FIELD(tcp_ao_getsockopt, maclen);
	FIELD(tcp_ao_getsockopt, keyflags);
	FIELD(tcp_ao_getsockopt, keylen);
	FIELD(tcp_ao_getsockopt, ifindex);
	FIELD(tcp_ao_getsockopt, pkt_good);
	FIELD(tcp_ao_getsockopt, pkt_bad);

	SIZE(tcp_ao_repair);
	FIELD(tcp_ao_repair, snt_isn);
	FIELD(tcp_ao_repair, rcv_isn);
	FIELD(tcp_ao_repair, snd_sne);
	FIELD(tcp_ao_repair, rcv_sne);
	return 0;
}
