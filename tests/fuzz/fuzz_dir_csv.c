/*
 * fuzz_dir_csv.c - the directory's CSV record parser and field rules.
 *
 * Input: one CSV record (bytes, possibly with quotes, NULs, line breaks).  The target
 * splits it, turns nine fields into an ORI, checks it under every member kind, and for a
 * record that passes, writes it back as CSV and parses that again: the row must come
 * back unchanged (export/import round trip).  The single validators also run on each
 * field.  Anything ASan/UBSan or an abort() flags is a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stateline/dir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXF 12

static void roundtrip(const struct sl_ori *o)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    sl_dir_csv_write_row(f, o);
    fclose(f);
    if (len == 0 || text[len - 1] != '\n')
        abort();
    len--; /* the line end is not part of the record */
    char *buf = malloc(len + MAXF + 1);
    const char *fields[MAXF];
    char err[256];
    int n = sl_dir_csv_split(text, len, buf, len + MAXF + 1, fields, MAXF, err, sizeof err);
    struct sl_ori back;
    if (n != SL_DIR_CSV_NFIELDS || sl_dir_csv_fields(fields, n, &back, err, sizeof err) != 0)
        abort();
    if (strcmp(back.ori, o->ori) || strcmp(back.member, o->member) ||
        strcmp(back.name, o->name) || strcmp(back.type, o->type) ||
        strcmp(back.cats, o->cats) || back.status != o->status ||
        strcmp(back.parent, o->parent) || strcmp(back.tags, o->tags) || back.rand != o->rand)
        abort();
    free(buf);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    size_t bufsz = size + MAXF + 1;
    char *buf = malloc(bufsz);
    const char *fields[MAXF];
    char err[256];
    int n = sl_dir_csv_split((const char *)data, size, buf, bufsz, fields, MAXF, err,
                             sizeof err);
    if (n < 0) {
        if (err[0] == '\0')
            abort(); /* an error always says why */
        free(buf);
        return 0;
    }
    if (n < 1 || n > MAXF)
        abort();
    for (int i = 0; i < n; i++) {
        (void)sl_ori_valid(fields[i]);
        (void)sl_dir_valid_type(fields[i]);
        (void)sl_dir_valid_parent(fields[i]);
        (void)sl_dir_valid_tags(fields[i]);
        (void)sl_dir_valid_tag(fields[i]);
        (void)sl_dir_valid_member_code(fields[i]);
        if (sl_dir_valid_cats(fields[i]) && strlen(fields[i]) < 5) {
            char c[5];
            strcpy(c, fields[i]);
            sl_dir_canon_cats(c);
            if (!sl_dir_valid_cats(c) || strlen(c) != strlen(fields[i]))
                abort();
        }
    }
    struct sl_ori o;
    if (sl_dir_csv_fields(fields, n, &o, err, sizeof err) == 0) {
        static const char kinds[] = {0, 'S', 'F', 'I', 'N'};
        for (size_t k = 0; k < sizeof kinds; k++)
            (void)sl_dir_check(&o, kinds[k], err, sizeof err);
        roundtrip(&o);
    } else if (err[0] == '\0') {
        abort();
    }
    free(buf);
    return 0;
}
