//! Control actions on builds (force, stop, cancel, rebuild...); see docs/control.md.

pub mod link;
