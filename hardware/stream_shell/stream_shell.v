`timescale 1ns / 1ps
// Valid/ready shell around a free-running, fixed-latency pipeline core.
//
// The core has no clock enable: whatever is on core_in is captured every
// cycle and appears on core_out LATENCY cycles later. A shift register of
// valid bits travels beside it; results whose valid bit arrives are written
// into a FIFO (pl_fifo.v) of DEPTH >= LATENCY + 2 entries. `occupancy` counts items
// accepted but not yet delivered (in flight + queued), and input is accepted
// only while occupancy < DEPTH, so every in-flight result is guaranteed a FIFO
// slot: back-pressure on the output never loses data, and s_ready depends only
// on registers (no combinational path from m_ready). With m_ready held high,
// occupancy settles at LATENCY + 1 and the shell accepts one item per cycle.
//
// Reset is synchronous and active high.
module stream_shell #(
    parameter integer IN_W = 8,
    parameter integer OUT_W = 8,
    parameter integer LATENCY = 1
) (
    input clk,
    input rst,
    input [IN_W-1:0] s_data,
    input s_valid,
    output s_ready,
    output [OUT_W-1:0] m_data,
    output m_valid,
    input m_ready,
    output [IN_W-1:0] core_in,
    input [OUT_W-1:0] core_out
);
    localparam integer AW = $clog2(LATENCY + 2);
    localparam integer DEPTH = 1 << AW;
    localparam [AW:0] FULL = {1'b1, {AW{1'b0}}};  // DEPTH in AW+1 bits

    reg [LATENCY-1:0] valid_sr;
    reg [AW:0] occupancy;  // items accepted and not yet delivered

    wire s_fire = s_valid && s_ready;
    wire m_fire = m_valid && m_ready;

    assign core_in = s_data;
    assign s_ready = !rst && (occupancy != FULL);

    generate
        if (LATENCY == 1) begin : g_sr1
            always @(posedge clk) valid_sr <= rst ? 1'b0 : s_fire;
        end else begin : g_srn
            always @(posedge clk) valid_sr <= rst ? {LATENCY{1'b0}} : {valid_sr[LATENCY-2:0], s_fire};
        end
    endgenerate

    // occupancy < DEPTH on accept, so the FIFO always has room when a result arrives: its s_ready is unused
    // verilator lint_off PINCONNECTEMPTY
    pl_fifo #(.W(OUT_W), .DEPTH(DEPTH)) results (
        .clk(clk), .rst(rst),
        .s_data(core_out), .s_valid(valid_sr[LATENCY-1]), .s_ready(),
        .m_data(m_data), .m_valid(m_valid), .m_ready(m_ready));
    // verilator lint_on PINCONNECTEMPTY

    always @(posedge clk) begin
        if (rst) occupancy <= 0;
        else occupancy <= occupancy + {{AW{1'b0}}, s_fire} - {{AW{1'b0}}, m_fire};
    end
endmodule
