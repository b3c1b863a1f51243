`timescale 1ns / 1ps
// First-word-fall-through FIFO for a stream (W data bits + tlast) whose
// storage is a plain simple-dual-port synchronous RAM, so Yosys maps it to
// block RAM (RAMB18E1/RAMB36E1) when deep or wide and to LUTRAM when shallow.
//
// The RAM holds DEPTH beats (a power of two >= 2); its registered read port
// feeds a one-beat output register, so up to DEPTH + 2 beats are held and a
// written beat reaches m_axis three cycles later. A read is issued whenever
// the read register will be free, so beats move one per cycle in and out
// when neither side stalls. s_axis_tready and m_axis_tvalid come from
// registers only. A beat is read only after it was written in an earlier
// cycle and written only into a slot that is not being read, so the RAM
// needs no read-during-write behaviour. Storage has no reset.
// Reset is synchronous and active high.
module stream_fifo #(
    parameter integer W = 8,
    parameter integer DEPTH = 16
) (
    input clk,
    input rst,
    input [W-1:0] s_axis_tdata,
    input s_axis_tlast,
    input s_axis_tvalid,
    output s_axis_tready,
    output [W-1:0] m_axis_tdata,
    output m_axis_tlast,
    output m_axis_tvalid,
    input m_axis_tready
);
    localparam integer AW = $clog2(DEPTH);

    reg [W:0] mem [0:DEPTH-1];  // {tlast, tdata}
    reg [AW:0] wr_ptr;  // one bit wider than the address: full and empty differ
    reg [AW:0] rd_ptr;

    reg [W:0] ram_q;  // the RAM's read register
    reg ram_q_valid;
    reg [W:0] out_q;
    reg out_valid;

    wire [AW:0] used = wr_ptr - rd_ptr;
    wire full = used[AW];
    wire empty = used == 0;

    assign s_axis_tready = !rst && !full;
    wire push = s_axis_tvalid && s_axis_tready;

    // the output register takes the read register's beat when it is empty or being emptied
    wire out_load = ram_q_valid && (!out_valid || m_axis_tready);
    wire ram_rd = !empty && (!ram_q_valid || out_load);

    always @(posedge clk) begin
        if (push) mem[wr_ptr[AW-1:0]] <= {s_axis_tlast, s_axis_tdata};
        if (ram_rd) ram_q <= mem[rd_ptr[AW-1:0]];
        if (out_load) out_q <= ram_q;
    end

    always @(posedge clk) begin
        if (rst) begin
            wr_ptr <= 0;
            rd_ptr <= 0;
            ram_q_valid <= 1'b0;
            out_valid <= 1'b0;
        end else begin
            if (push) wr_ptr <= wr_ptr + 1'b1;
            if (ram_rd) rd_ptr <= rd_ptr + 1'b1;
            if (ram_rd) ram_q_valid <= 1'b1;
            else if (out_load) ram_q_valid <= 1'b0;
            if (out_load) out_valid <= 1'b1;
            else if (m_axis_tready) out_valid <= 1'b0;
        end
    end

    assign m_axis_tdata = out_q[W-1:0];
    assign m_axis_tlast = out_q[W];
    assign m_axis_tvalid = out_valid;
endmodule
