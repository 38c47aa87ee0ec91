/* nerc — named-entity recognition in C: the public API (umbrella header).
 * Each module has its own header under include/nerc/. */
#ifndef NERC_H
#define NERC_H

#include "nerc/common.h"
#include "nerc/dist.h"
#include "nerc/batch.h"
#include "nerc/model.h"
#include "nerc/text.h"
#include "nerc/data.h"
#include "nerc/metrics.h"
#include "nerc/eval.h"
#include "nerc/train.h"
#include "nerc/predict.h"
#include "nerc/hub.h"
#include "nerc/serve.h"

#endif
