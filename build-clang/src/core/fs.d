build-clang/src/core/fs.o: src/core/fs.c src/core/fs.h \
  include/nerc/common.h src/core/error.h

src/core/fs.h:

include/nerc/common.h:

src/core/error.h:
