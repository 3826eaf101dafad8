//! End-to-end tests: one binary, one module per group of use cases (usecases.md). Each test starts
//! real endpoints on loopback and drives a use case through the public interfaces.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod charging;
mod docs;
mod faults;
mod gateway;
mod input_checks;
mod smoke;
mod time_stamps;
mod uc1_1;
mod uc1_2;
mod uc1_3;
mod uc2;
mod uc3_1;
mod uc3_2;
mod uc3_4;
mod uc3_5;
mod uc3_6;
mod uc3_7;
mod uc3_8;
mod uc3_9;
