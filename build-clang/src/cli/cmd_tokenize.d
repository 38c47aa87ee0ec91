build-clang/src/cli/cmd_tokenize.o: src/cli/cmd_tokenize.c src/cli/cli.h

src/cli/cli.h:
