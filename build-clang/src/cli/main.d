build-clang/src/cli/main.o: src/cli/main.c src/cli/cli.h include/nerc.h \
  include/nerc/common.h include/nerc/model.h include/nerc/text.h \
  include/nerc/data.h include/nerc/metrics.h

src/cli/cli.h:

include/nerc.h:

include/nerc/common.h:

include/nerc/model.h:

include/nerc/text.h:

include/nerc/data.h:

include/nerc/metrics.h:
