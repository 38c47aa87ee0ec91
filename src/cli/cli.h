/* The nerc command-line tool: one function per subcommand (src/cli/cmd_<name>.c).
 * Each returns the process exit code (0 ok, 1 failure: I/O, memory, numeric;
 * 2 invalid input: usage, bad arguments, malformed or unsupported files) and
 * prints errors as "nerc <cmd>: <message>". The CLI only parses flags, calls
 * the public API (include/nerc.h) and prints; all real work is in libnerc. */
#ifndef NERC_CLI_H
#define NERC_CLI_H

int cmd_init(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_download(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
