/*
 * cli.h - the subcommand interface of the `stateline` binary.
 *
 * Each subcommand lives in its own file, src/cli/cmd_<name>.c, and defines
 *
 *     const struct sl_cli_cmd sl_cmd_<name> = { "name", "one-line summary", run, usage };
 *
 * The `stateline gen <what>` family does the same with src/cli/gen_<what>.c and
 * `sl_gen_<what>`.  CMake collects the files into build/generated/cli_table.h, so adding
 * a command never edits a shared table.
 *
 * run() receives argv with argv[0] = the command's own name (e.g. "hub"), returns the
 * process exit status: 0 success, 1 the work failed (a verification found a problem,
 * a check found errors), 2 usage error.  `--help` / `-h` anywhere in argv is handled by
 * main before run() is called: it prints `usage`.
 */
#ifndef STATELINE_CLI_H
#define STATELINE_CLI_H

struct sl_cli_cmd {
    const char *name;
    const char *summary; /* one line, shown by `stateline help` */
    int (*run)(int argc, char **argv);
    const char *usage; /* full help text, shown by `stateline <name> --help` */
};

/* Exit statuses shared by every subcommand. */
enum { SL_EXIT_OK = 0, SL_EXIT_FAIL = 1, SL_EXIT_USAGE = 2 };

#endif
