// The backfill of a feature service as its deployments' models see it: the service's features,
// then its request-time features as computed columns (offline/backfill.h ComputedColumns) by the
// serving code itself (serving/request_features.h) with the models the server uses (each
// model's champion), so a training set has exactly the columns the server feeds the model.
//
// Thread-safety: a free function; the computed columns it adds may be called from any thread.
#pragma once

#include <string>

#include "core/status.h"
#include "offline/backfill.h"
#include "serving/predictor.h"
#include "spec/project_spec.h"

namespace freshet {

// Sets options->features to `service`'s features and options->computed to its request features
// (columns NAME_0 ... NAME_{width-1}; the functions keep their models alive). kNotFound for an
// unknown service; errors of Predictor::BindRequestFeatures. REQUIRES: `spec` is the predictor's
// and outlives `options`.
Status BindServiceBackfill(const ProjectSpec& spec, const std::string& service,
                           Predictor* predictor, BackfillOptions* options);

}  // namespace freshet
