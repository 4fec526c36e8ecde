pub use erynoa_budget as budget;
