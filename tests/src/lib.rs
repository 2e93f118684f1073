//! Test support: talk to the local AWS stack and read back what it holds.
