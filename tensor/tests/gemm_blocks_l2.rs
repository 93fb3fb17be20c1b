//! The GEMM in the B-block-in-L2 loop order with tiny blocks (see `support/blocks.rs`).
#[path = "support/blocks.rs"]
mod blocks;

#[test]
fn b_in_l2_order_with_tiny_blocks_matches() {
    blocks::check_all("24,10,40,1", 24);
}
