/*
 * fuzz_policy.c - libFuzzer target: parse, check and compile any text as a policy, then
 * decide a few fixed requests (known, unknown and missing requester; with and without
 * time; with and without query counts) and describe the decision.  Seeds: tests/fuzz/corpus/policy/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stateline/buf.h"
#include "stateline/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_policy *p = NULL;
    struct sl_policy_diags dg = {0};
    int rc = sl_policy_compile((const char *)data, size, "fuzz.policy", NULL, &p, &dg);
    for (int i = 0; i < dg.n; i++) {
        char buf[512];
        sl_policy_diag_format(&dg.v[i], "fuzz.policy", buf, sizeof(buf));
    }
    sl_policy_diags_free(&dg);
    if (rc != 0)
        return 0;
    struct sl_requester q;
    memset(&q, 0, sizeof(q));
    memcpy(q.ori, "DCICE0100", 10);
    memcpy(q.member, "DH", 3);
    memcpy(q.type, "FE", 3);
    memcpy(q.cats, "DZ", 3);
    memcpy(q.state, "DC", 3);
    memcpy(q.parent, "DHS/ICE/ERO", 12);
    memcpy(q.tags, "immigration-enforcement task-force", 35);
    static const char *const msgs[] = {
        "DQ.DCICE0100.WA.TXT OLN/WDL123.RSN/I.LGP/25-CR-1",
        "RQG.DCICE0100.G1.TXT LIC/ABC123.LIY/2026.LIT/PC",
        "KQ.DCICE0100.NL.TXT OLN/X.PUR/C.CAS/26-1.ATN/SMITH.IMQ/Y",
    };
    for (int k = 0; k < 6; k++) {
        char text[128];
        strcpy(text, msgs[k % 3]);
        struct sl_policy_request r;
        memset(&r, 0, sizeof(r));
        char err[128];
        if (sl_policy_parse_request_text(text, &r, err, sizeof(err)) != 0)
            continue;
        r.requester = k == 5 ? NULL : &q;
        r.requester_known = k != 4;
        if (k & 1)
            r.has_time = 1, r.local = (struct sl_policy_time){2026, 11, 26, 23, 15, 4};
        if (k >= 3) /* counts for rate conditions (else those fail closed) */
            sl_policy_parse_counts(k == 3 ? "hour=51,user-day=3" : NULL, &r, err, sizeof err);
        struct sl_policy_decision d;
        sl_policy_decide(p, &r, &d);
        struct sl_buf out = SL_BUF_INIT;
        sl_policy_decision_describe(p, &d, &out);
        sl_policy_decision_json(&d, &out);
        for (int i = 0; i < sl_policy_nrules(p); i++) {
            sl_policy_rule_eval(p, i, &r, NULL);
            sl_policy_rule_condition(p, i, &out);
        }
        sl_buf_free(&out);
    }
    sl_policy_unref(p);
    return 0;
}
