// bullmq-worker processor SDK: everything a C++ plugin needs, in one include.
// See plugin.hpp for a plugin's shape and processor.hpp for the contract.
#pragma once

#include "bullmq_worker/errors.hpp"
#include "bullmq_worker/job.hpp"
#include "bullmq_worker/job_context.hpp"
#include "bullmq_worker/plugin.hpp"
#include "bullmq_worker/plugin_setup.hpp"
#include "bullmq_worker/processor.hpp"
#include "bullmq_worker/version.hpp"
