//! Tauri commands, grouped by screen. Each takes one request struct and returns one
//! [`crate::error::IpcError`] on failure; they lock the replica only for local database work.

pub mod app;
pub mod catalog;
pub mod inbox;
pub mod journal;
pub mod report;
