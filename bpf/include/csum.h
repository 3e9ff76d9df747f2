/*
 * csum.h - Internet checksum arithmetic for programs that rewrite packets
 * themselves (XDP, and the ICMP errors and resets the tc program builds).
 *
 * Incremental updates follow RFC 1624: HC' = ~(~HC + ~m + m'), in 32-bit
 * one's complement sums folded to 16 bits. The words are used as they sit in
 * memory (network order read on a little-endian CPU): one's complement
 * addition commutes with byte swapping, so the result is right as long as
 * the checksum field is read and written the same way.
 *
 * The tc program uses the kernel's bpf_l3/l4_csum_replace for the ordinary
 * rewrite, because only the kernel knows whether the skb's L4 checksum is
 * complete or partial (CHECKSUM_PARTIAL on veths: the field holds only the
 * pseudo-header sum, and a port change must not touch it).
 */
#ifndef CAPSTAN_BPF_CSUM_H
#define CAPSTAN_BPF_CSUM_H

static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* *check for a 16-bit word changed from `from` to `to`. */
static __always_inline void csum_replace2(__u16 *check, __u16 from, __u16 to)
{
	__u32 sum = (__u16) ~*check;

	sum += (__u16)~from;
	sum += to;
	*check = (__u16)~csum_fold32(sum);
}

/* *check for a 32-bit word changed from `from` to `to`. */
static __always_inline void csum_replace4(__u16 *check, __u32 from, __u32 to)
{
	__u32 sum = (__u16) ~*check;

	sum += (__u16) ~(from & 0xffff);
	sum += (__u16) ~(from >> 16);
	sum += to & 0xffff;
	sum += to >> 16;
	*check = (__u16)~csum_fold32(sum);
}

/*
 * UDP's checksum 0 means "none" and stays 0; a computed 0 is sent as 0xffff
 * (RFC 768).
 */
static __always_inline void csum_replace4_udp(__u16 *check, __u32 from, __u32 to)
{
	if (!*check)
		return;
	csum_replace4(check, from, to);
	if (!*check)
		*check = 0xffff;
}

static __always_inline void csum_replace2_udp(__u16 *check, __u16 from, __u16 to)
{
	if (!*check)
		return;
	csum_replace2(check, from, to);
	if (!*check)
		*check = 0xffff;
}

#endif
