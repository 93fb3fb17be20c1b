//! The GEMM in the classic loop order with tiny blocks (see `support/blocks.rs`).
#[path = "support/blocks.rs"]
mod blocks;

#[test]
fn classic_order_with_tiny_blocks_matches() {
    blocks::check_all("16,20,24,0", 16);
}
