/*
 * term_classify.c - is a delivered message the answer to our query?  Uses the codec's key
 * table for the reply key (DQ -> DR ...), so the terminal and the switch agree.
 */
#include <string.h>

#include "stateline/term.h"
#include "stateline/msg.h"

enum sl_term_answer sl_term_classify(const struct sl_outhdr *h, const char *qkey, const char *ctl)
{
    if (strcmp(h->key, "ER") == 0 || strcmp(h->key, "SM") == 0)
        return SL_TERM_ERROR;
    const struct sl_key_info *ki = sl_key_lookup(qkey);
    if (!ki || !ki->reply || strcmp(ki->reply, h->key) != 0)
        return SL_TERM_OTHER;
    if (ctl && *ctl && strcmp(ctl, h->ctl) != 0)
        return SL_TERM_OTHER;
    return SL_TERM_REPLY;
}
