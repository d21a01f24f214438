/*
 * fuzz_hub_conf.c - libFuzzer target: any bytes as the hub's configuration file
 * (sl_hub_config_load: inih underneath, then every key's validation).
 *
 * The loader reads a path, so each input is written to a memfd and read back through
 * /proc/self/fd/N: no file on disk, nothing left behind.  Host names in `listen` go to the
 * resolver; RES_OPTIONS keeps a lookup on this network-less machine from stalling a run.
 * Seeds: tests/fuzz/corpus/hub_conf/ (the example configuration and variants).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stateline/core.h"
#include "stateline/hub.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("RES_OPTIONS", "timeout:1 attempts:1", 1);
    setenv("STATELINE_LOG", "quiet", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    int fd = memfd_create("hub.conf", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct sl_hub_config *cfg = sl_xmalloc(sizeof *cfg);
    char err[1024];
    if (sl_hub_config_load(path, cfg, err, sizeof err) == 0) {
        /* A configuration that loads is complete: these must hold. */
        if (!cfg->listen[0] || !cfg->directory[0] || cfg->max_frame == 0)
            __builtin_trap();
    } else if (!err[0]) {
        __builtin_trap(); /* a refusal always says why */
    }
    free(cfg);
    close(fd);
    return 0;
}
