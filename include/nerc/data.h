/* nerc/data.h — public API of the data module. */
#ifndef NERC_DATA_H
#define NERC_DATA_H

#include "nerc/common.h"

#endif
