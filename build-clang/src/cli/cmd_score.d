build-clang/src/cli/cmd_score.o: src/cli/cmd_score.c src/cli/cli.h

src/cli/cli.h:
