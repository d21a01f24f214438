/*
 * conn_ack.c - how much of what a line wrote has the peer's TCP acknowledged (conn.h).
 *
 * The gateway counts a reply delivered only when the hub's kernel has acknowledged its
 * last byte (docs/gateway.md §5.1): a process killed with unread input makes its kernel
 * reset the line and drop what it had not sent.  Linux gives two counters:
 *   tcp_info.tcpi_bytes_acked  everything the peer acknowledged since the SYN
 *                              (cumulative, the SYN counts 1, readable after a reset);
 *   ioctl SIOCOUTQ             what the kernel holds and the peer has not acknowledged.
 * Their sum is what was handed to the kernel, in the first counter's units: the mark a
 * reply waits for.  But they are two system calls, and an acknowledgement that lands
 * between them is counted twice: in a loop of 300-byte writes on loopback, about 1 read
 * in 120 (this VM, November 2026).  The mark is then beyond anything the peer will
 * acknowledge until more is written, and a reply on a line that went quiet after it was
 * not counted delivered (a demo run saw a reviewed reply "not sent" 10 s later).  So the
 * acknowledged count is read on both sides of SIOCOUTQ, and a sum counts only if the two
 * agree; and an owner can ask whether nothing at all is unacknowledged (sl_conn_acked's
 * `all`, from the same tcp_info), which no double count can spoil.
 *
 * This file is apart from conn.c because struct tcp_info with tcpi_bytes_acked comes
 * from <linux/tcp.h>, which cannot be included beside <netinet/tcp.h>.
 */
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "stateline/conn.h"

/* How many times sl_conn_ack_mark reads again when an acknowledgement lands in between. */
#define ACK_MARK_TRIES 8

int sl_conn_acked(const struct sl_conn *c, uint64_t *acked, int *all)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (all)
        *all = 0;
    if (c->fd < 0 || getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof ti.tcpi_bytes_acked)
        return -1;
    *acked = ti.tcpi_bytes_acked;
    /* Nothing in flight (no segment unacknowledged) and nothing unsent, read in the same
     * call as the count: everything written is acknowledged (a kernel before 4.6 has no
     * tcpi_notsent_bytes: never "all", the marks alone decide). */
    if (all && sl_buf_used(&c->out) == 0 &&
        len >= offsetof(struct tcp_info, tcpi_notsent_bytes) + sizeof ti.tcpi_notsent_bytes)
        *all = ti.tcpi_unacked == 0 && ti.tcpi_notsent_bytes == 0;
    return 0;
}

static int outq(const struct sl_conn *c, uint64_t *n)
{
    int q = 0;
    if (c->fd < 0 || ioctl(c->fd, SIOCOUTQ, &q) != 0 || q < 0)
        return -1;
    *n = (uint64_t)q;
    return 0;
}

int sl_conn_ack_mark(const struct sl_conn *c, uint64_t *mark)
{
    uint64_t a1, a2 = 0, q = 0;
    for (int i = 0; i < ACK_MARK_TRIES; i++) {
        if (sl_conn_acked(c, &a1, NULL) != 0 || outq(c, &q) != 0 ||
            sl_conn_acked(c, &a2, NULL) != 0)
            return -1;
        if (a1 == a2) {
            *mark = a1 + q;
            return 0;
        }
    }
    /* SIOCOUTQ was read when at most a2 was acknowledged: a2 + q is at or beyond the
     * true mark.  Late, never early. */
    *mark = a2 + q;
    return 1;
}
