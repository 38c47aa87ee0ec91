/* nerc/metrics.h — public API of the metrics module. */
#ifndef NERC_METRICS_H
#define NERC_METRICS_H

#include "nerc/common.h"

#endif
