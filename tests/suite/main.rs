//! The integration tests, as one crate: one binary to build and link instead of one per file
//! (docs/performance.md, build times). Each module is one file, one subject. The tests that
//! count the process's allocations (training_memory.rs, long_running.rs) stay binaries of their
//! own, where no other test allocates beside them.

#[macro_use]
mod common;
#[path = "common/replay.rs"]
mod replay;

mod activations;
mod adversarial;
mod arith;
mod backward;
mod checkpoints;
mod constants;
mod conv;
mod data_changes;
mod data_sets;
mod errors;
mod functions;
mod higher_order;
mod join;
mod losses;
mod math;
mod mlp_step;
mod nn;
mod nn_training;
mod params;
mod products;
mod properties;
mod pytorch_reference;
mod reductions;
mod reliability;
mod selection;
mod shape;
mod stage5_layers;
mod steps;
mod torch_conv;
mod torch_func;
mod torch_graphs;
mod transforms;
