pub fn placeholder() {}
pub mod report;
