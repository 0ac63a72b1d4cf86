"""The loop between police and grid that the hub runs itself: work orders (派单), the review
queue of grid submissions (上报 → 审核入库), and the verification registry (走访核查)."""
