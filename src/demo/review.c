/*
 * review.c - the demo's review desk step.
 *
 * After the traffic, a demo reviewer decides every request a state's policy held: the
 * first approved, the next denied, and so on (reviewer "demo-reviewer", a written reason
 * each).  The gateway, still running, sends the replies; an approval releases data, and
 * where the policy says `notify` (New York's and Illinois' court-order rules) a notice to
 * the person is created.  The demo then writes the letters into the state's outbox
 * (DIR/XX/outbox, mode 0700).  This is the same desk a state employee uses with
 * `stateline review` (docs/review.md); with --stay the demo leaves the holds alone so a
 * person can decide them by hand.
 *
 * It runs after the traffic window, so the per-class table (counted inside that window)
 * is not changed by it; its own figures are printed beside the table.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo_int.h"
#include "stateline/core.h"
#include "stateline/gateway.h"

/* Wait (at most timeout_ms) until the gateway has sent the reply of every request the
 * demo decided: the desk lists each with "sent": true. */
static int wait_sent(struct sl_gw_desk *desk, json_t *ids, int timeout_ms)
{
    int64_t end = sl_now_ms() + timeout_ms;
    for (;;) {
        struct sl_buf b = SL_BUF_INIT;
        sl_gw_desk_list(desk, 1, 1, &b);
        sl_buf_append(&b, "", 1);
        json_t *all = json_loads((const char *)sl_buf_head(&b), 0, NULL);
        sl_buf_free(&b);
        size_t i, pending = 0;
        json_t *o;
        json_array_foreach(all, i, o) {
            const char *id = json_string_value(json_object_get(o, "id"));
            if (id && json_object_get(ids, id) && !json_is_true(json_object_get(o, "sent")))
                pending++;
        }
        json_decref(all);
        if (pending == 0)
            return 0;
        if (sl_now_ms() >= end)
            return -1;
        usleep(100 * 1000);
    }
}

int demo_review(struct demo *dm, int d, struct demo_review *r, char *err, size_t errlen)
{
    const struct sl_demo_state *s = &sl_demo_states()[d];
    char path[DEMO_PATH + 32];
    memset(r, 0, sizeof *r);
    demo_fmt(path, sizeof path, "%s/%s/gateway.conf", dm->dir, s->code);
    struct sl_gw_config *cfg = sl_xcalloc(1, sizeof *cfg);
    struct sl_gw_desk *desk = NULL;
    json_t *held = NULL, *ids = json_object();
    int rc = -1;
    if (sl_gw_config_load(path, cfg, err, errlen) != 0)
        goto out;
    desk = sl_gw_desk_open(cfg, err, errlen);
    if (!desk)
        goto out;

    struct sl_buf b = SL_BUF_INIT;
    sl_gw_desk_list(desk, 0, 1, &b);
    sl_buf_append(&b, "", 1);
    held = json_loads((const char *)sl_buf_head(&b), 0, NULL);
    sl_buf_free(&b);
    size_t i;
    json_t *o;
    json_array_foreach(held, i, o) {
        const char *id = json_string_value(json_object_get(o, "id"));
        if (!id)
            continue;
        int approve = i % 2 == 0;
        char why[256];
        struct sl_buf out = SL_BUF_INIT;
        int k = sl_gw_desk_decide(desk, id, approve, "demo-reviewer", 0,
                                  approve ? "demo: the court order cited was checked and names "
                                            "this person"
                                          : "demo: the warrant cited does not name this person",
                                  &out, why, sizeof why);
        sl_buf_free(&out);
        if (k == 0) {
            json_object_set_new(ids, id, json_true());
            if (approve)
                r->approved++;
            else
                r->denied++;
        } else {
            r->refused++; /* e.g. a two-person rule: a second reviewer would be needed */
        }
    }
    if (json_object_size(ids) && wait_sent(desk, ids, 10000) != 0)
        r->unsent = 1;

    b = (struct sl_buf)SL_BUF_INIT;
    /* the notices not yet sent: this run's (an earlier run's were sent then) */
    sl_gw_desk_notices(desk, 0, 1, (int64_t)(sl_wall_us() / 1000000), &b);
    sl_buf_append(&b, "", 1);
    json_t *notices = json_loads((const char *)sl_buf_head(&b), 0, NULL);
    sl_buf_free(&b);
    r->notices = (int)json_array_size(notices);
    json_decref(notices);
    if (r->notices) {
        demo_fmt(r->outbox, sizeof r->outbox, "%s/%s/outbox", dm->dir, s->code);
        struct sl_buf out = SL_BUF_INIT;
        int n = 0;
        if (sl_gw_desk_send(desk, r->outbox, "Department of Motor Vehicles (stateline demo)",
                            &out, &n, err, errlen) != 0) {
            sl_buf_free(&out);
            goto out;
        }
        sl_buf_free(&out);
        r->letters = n;
    }
    rc = 0;
out:
    json_decref(held);
    json_decref(ids);
    if (desk)
        sl_gw_desk_close(desk);
    free(cfg);
    return rc;
}
