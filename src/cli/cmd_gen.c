/*
 * cmd_gen.c - `stateline gen <what>`: synthetic data and credentials for a test or demo
 * network.  Each <what> is its own file, src/cli/gen_<what>.c (see cli.h).
 */
#include <stdio.h>
#include <string.h>

#include "stateline/cli.h"
#include "cli_table.h"

static const struct sl_cli_cmd *const gens[] = {SL_CLI_GEN_COMMANDS NULL};

static void list(FILE *out)
{
    fprintf(out, "usage: stateline gen <what> [options]   (stateline gen <what> --help)\n\n");
    for (size_t i = 0; gens[i]; i++)
        fprintf(out, "  %-12s %s\n", gens[i]->name, gens[i]->summary);
}

static int run(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        list(argc < 2 ? stderr : stdout);
        return argc < 2 ? SL_EXIT_USAGE : SL_EXIT_OK;
    }
    for (size_t i = 0; gens[i]; i++) {
        if (strcmp(gens[i]->name, argv[1]) != 0)
            continue;
        for (int j = 2; j < argc; j++)
            if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
                fputs(gens[i]->usage, stdout);
                return SL_EXIT_OK;
            }
        return gens[i]->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "stateline gen: nothing called '%s'\n", argv[1]);
    list(stderr);
    return SL_EXIT_USAGE;
}

const struct sl_cli_cmd sl_cmd_gen = {
    "gen", "make certificates, an ORI directory or a state's population for tests and demos",
    run, "usage: stateline gen <what> [options]\n\nSee `stateline gen` for the list.\n"};
