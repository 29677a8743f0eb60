// Everything codegen offers, for callers that want it all (the daemon's compile service).
#pragma once

#include "codegen/compiler.h"
#include "codegen/generate.h"
#include "codegen/spec.h"
#include "codegen/spec_from_region.h"
#include "codegen/spec_json.h"
