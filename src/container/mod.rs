//! Containers: one unpacked copy of an image per container, its leased ports, its env file, its
//! scripts, and the process they start.

pub mod platform;
pub mod process;
pub mod scripts;
