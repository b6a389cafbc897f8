//! Containers: one unpacked copy of an image per container, its leased ports, its env file, its
//! scripts, and the process they start.

pub mod envfile;
pub mod install;
pub mod lifecycle;
pub mod logpipe;
pub mod logread;
pub mod logs;
pub mod logset;
pub mod logsize;
pub mod names;
pub mod platform;
pub mod ports;
pub mod process;
pub mod scripts;
pub mod state;
pub mod usage;
