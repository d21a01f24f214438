/*
 * main.c - the `stateline` binary: find the subcommand and run it.
 *
 * The command tables are generated from the file names in src/cli (see CMakeLists.txt),
 * so this file never changes when a command is added.
 */
#include <stdio.h>
#include <string.h>
#include <signal.h>

#include "stateline/cli.h"
#include "stateline/sqlcfg.h"
#include "cli_table.h"

static const struct sl_cli_cmd *const commands[] = {SL_CLI_COMMANDS NULL};

static void print_help(FILE *out)
{
    fprintf(out,
            "stateline - an interstate law-enforcement message switch in which each state\n"
            "decides, reviews and can prove what leaves its driver and vehicle records.\n\n"
            "usage: stateline <command> [options]   (stateline <command> --help for more)\n\n"
            "commands:\n");
    for (size_t i = 0; commands[i]; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "  %-10s %s\n", "help", "this list, or `stateline help <command>`");
}

static const struct sl_cli_cmd *find(const char *name)
{
    for (size_t i = 0; commands[i]; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* A peer closing its socket must surface as EPIPE on the write, not kill the switch. */
    signal(SIGPIPE, SIG_IGN);
    /* Process-wide SQLite settings, before any command opens a database (sqlcfg.h); the
     * hub and the gateway apply them again for programs that embed them. */
    (void)sl_sqlite_setup();

    if (argc < 2) {
        print_help(stderr);
        return SL_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        if (argc >= 3) {
            const struct sl_cli_cmd *c = find(argv[2]);
            if (!c) {
                fprintf(stderr, "stateline: no command '%s'; see `stateline help`\n", argv[2]);
                return SL_EXIT_USAGE;
            }
            fputs(c->usage, stdout);
            return SL_EXIT_OK;
        }
        print_help(stdout);
        return SL_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("stateline 0.1.0\n");
        return SL_EXIT_OK;
    }
    const struct sl_cli_cmd *c = find(name);
    if (!c) {
        fprintf(stderr, "stateline: no command '%s'; see `stateline help`\n", name);
        return SL_EXIT_USAGE;
    }
    /* `stateline gen` handles --help of its own subcommands itself. */
    if (strcmp(name, "gen") != 0 && wants_help(argc - 1, argv + 1)) {
        fputs(c->usage, stdout);
        return SL_EXIT_OK;
    }
    return c->run(argc - 1, argv + 1);
}
