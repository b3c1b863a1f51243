`timescale 1ns / 1ps
// First-word-fall-through FIFO with valid/ready on both sides.
//
// DEPTH must be a power of two >= 2. s_ready and m_valid come from registers
// only (no combinational path through the FIFO), so a FIFO cuts the ready
// chain between blocks. Written data is visible at the output one cycle
// later. Storage has no reset, so synthesis can map it to distributed RAM.
// Reset is synchronous and active high.
module pl_fifo #(
    parameter integer W = 8,
    parameter integer DEPTH = 2
) (
    input clk,
    input rst,
    input [W-1:0] s_data,
    input s_valid,
    output s_ready,
    output [W-1:0] m_data,
    output m_valid,
    input m_ready
);
    localparam integer AW = $clog2(DEPTH);

    reg [W-1:0] mem [0:DEPTH-1];
    reg [AW-1:0] wr_ptr;
    reg [AW-1:0] rd_ptr;
    reg [AW:0] count;

    wire push = s_valid && s_ready;
    wire pop = m_valid && m_ready;

    assign s_ready = count != DEPTH[AW:0];
    assign m_valid = count != 0;
    assign m_data = mem[rd_ptr];

    always @(posedge clk) begin
        if (push) mem[wr_ptr] <= s_data;
    end

    always @(posedge clk) begin
        if (rst) begin
            wr_ptr <= 0;
            rd_ptr <= 0;
            count <= 0;
        end else begin
            if (push) wr_ptr <= wr_ptr + 1'b1;
            if (pop) rd_ptr <= rd_ptr + 1'b1;
            count <= count + {{AW{1'b0}}, push} - {{AW{1'b0}}, pop};
        end
    end
endmodule
