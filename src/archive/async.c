/*
 * async.c - the archive's search thread: NLQ/NFQ answered off the hub's event loop
 * (archive.h "answers off the event loop").
 *
 * submit copies the message into a job on a bounded list; the thread answers jobs in
 * order with sl_archive_answer and moves them to the done list, then writes the eventfd.
 * drain, on the loop, takes the whole done list at once and calls back for each.  One
 * search thread: searches share the one reader connection anyway, and an archive search
 * is a low-priority key (priority 3) that may wait behind another.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch_int.h"
#include "stateline/core.h"

struct arch_job {
    struct arch_job *next;
    struct sl_msg m;
    struct sl_ori who;
    int has_who;
    int64_t now;
    struct sl_archive_done d;
};

static void job_free(struct arch_job *j)
{
    sl_msg_clear(&j->m);
    sl_buf_free(&j->d.body);
    free(j);
}

static void *search_main(void *arg)
{
    struct sl_archive *a = arg;
    sl_thread_name("sl-arch-search");
    pthread_mutex_lock(&a->smu);
    for (;;) {
        while (!a->jobs && !a->sstop)
            pthread_cond_wait(&a->swake, &a->smu);
        if (a->sstop)
            break;
        struct arch_job *j = a->jobs;
        a->jobs = j->next;
        if (!a->jobs)
            a->jobs_tail = NULL;
        pthread_mutex_unlock(&a->smu);

        j->next = NULL;
        j->d.rc = sl_archive_answer(a, &j->m, j->has_who ? &j->who : NULL, j->now, &j->d.body,
                                    j->d.reply_key, &j->d.er, j->d.err, sizeof j->d.err);

        pthread_mutex_lock(&a->smu);
        if (a->answered_tail)
            a->answered_tail->next = j;
        else
            a->answered = j;
        a->answered_tail = j;
        uint64_t one = 1;
        if (write(a->efd, &one, sizeof one) < 0 && errno != EAGAIN)
            SL_ERROR("archive", "eventfd write: %s", strerror(errno));
    }
    pthread_mutex_unlock(&a->smu);
    return NULL;
}

int sl_arch_async_start(struct sl_archive *a, char *err, size_t errlen)
{
    a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (a->efd < 0) {
        if (err && errlen)
            snprintf(err, errlen, "archive: eventfd: %s", strerror(errno));
        return -1;
    }
    int rc = pthread_create(&a->searcher, NULL, search_main, a);
    if (rc != 0) {
        if (err && errlen)
            snprintf(err, errlen, "archive: cannot start the search thread: %s", strerror(rc));
        return -1;
    }
    a->searcher_started = 1;
    return 0;
}

void sl_arch_async_stop(struct sl_archive *a)
{
    if (a->searcher_started) {
        pthread_mutex_lock(&a->smu);
        a->sstop = 1;
        pthread_cond_signal(&a->swake);
        pthread_mutex_unlock(&a->smu);
        pthread_join(a->searcher, NULL);
        a->searcher_started = 0;
    }
    struct arch_job *lists[2] = {a->jobs, a->answered};
    for (int i = 0; i < 2; i++)
        while (lists[i]) {
            struct arch_job *n = lists[i]->next;
            job_free(lists[i]);
            lists[i] = n;
        }
    a->jobs = a->jobs_tail = a->answered = a->answered_tail = NULL;
    if (a->efd >= 0)
        close(a->efd);
    a->efd = -1;
}

int sl_archive_submit(struct sl_archive *a, const struct sl_msg *m, const struct sl_ori *who,
                      int64_t now, void *tag)
{
    if (!a->searcher_started)
        return -2;
    pthread_mutex_lock(&a->smu);
    int full = a->njobs >= a->conf.search_queue;
    if (!full)
        a->njobs++;
    pthread_mutex_unlock(&a->smu);
    if (full)
        return -1;
    struct arch_job *j = sl_xcalloc(1, sizeof *j);
    j->m = *m;
    j->m.text = sl_xmalloc(m->text_len + 1);
    if (m->text_len)
        memcpy(j->m.text, m->text, m->text_len);
    j->m.text[m->text_len] = '\0';
    for (int i = 0; i < m->nfields && i < SL_MSG_MAX_FIELDS; i++)
        if (m->fields[i].val)
            j->m.fields[i].val = j->m.text + (m->fields[i].val - m->text);
    if (who) {
        j->who = *who;
        j->has_who = 1;
    }
    j->now = now;
    j->d.tag = tag;
    pthread_mutex_lock(&a->smu);
    if (a->jobs_tail)
        a->jobs_tail->next = j;
    else
        a->jobs = j;
    a->jobs_tail = j;
    pthread_cond_signal(&a->swake);
    pthread_mutex_unlock(&a->smu);
    return 0;
}

int sl_archive_event_fd(struct sl_archive *a) { return a->efd; }

int sl_archive_drain(struct sl_archive *a, sl_archive_done_fn fn, void *ctx)
{
    if (a->efd < 0)
        return 0;
    uint64_t v;
    while (read(a->efd, &v, sizeof v) > 0)
        ;
    pthread_mutex_lock(&a->smu);
    struct arch_job *j = a->answered;
    a->answered = a->answered_tail = NULL;
    pthread_mutex_unlock(&a->smu);
    int n = 0;
    while (j) {
        struct arch_job *next = j->next;
        fn(ctx, &j->d);
        job_free(j);
        n++;
        j = next;
    }
    if (n) {
        pthread_mutex_lock(&a->smu);
        a->njobs -= n;
        pthread_mutex_unlock(&a->smu);
    }
    return n;
}
