`timescale 1ns / 1ps
// Narrow AXI4-Stream (the DMA's DATA_W bits) <-> one wide word per sample of a stage core.
//
// Input: the beats of one packet are packed little-end first (beat i -> bits
// [i*DATA_W +: DATA_W]) into an IN_W-bit word; the packet ends at tlast or after
// ceil(IN_W / DATA_W) beats, and missing high bits are zero. Output: each
// OUT_W-bit result leaves as ceil(OUT_W / DATA_W) beats, tlast on the last.
// One packet in gives exactly one packet out, as the PR decoupler requires.
// Reset is synchronous and active high.
module axis_stage_adapter #(
    parameter integer DATA_W = 32,
    parameter integer IN_W = 64,
    parameter integer OUT_W = 64
) (
    input clk,
    input rst,
    input [DATA_W-1:0] s_axis_tdata,
    input s_axis_tvalid,
    output s_axis_tready,
    input s_axis_tlast,
    output [DATA_W-1:0] m_axis_tdata,
    output m_axis_tvalid,
    input m_axis_tready,
    output m_axis_tlast,
    // the stage core's wide valid/ready ports
    output [IN_W-1:0] core_s_tdata,
    output core_s_tvalid,
    input core_s_tready,
    input [OUT_W-1:0] core_m_tdata,
    input core_m_tvalid,
    output core_m_tready
);
    localparam integer NIN = (IN_W + DATA_W - 1) / DATA_W;
    localparam integer NOUT = (OUT_W + DATA_W - 1) / DATA_W;
    localparam integer CW = $clog2(NIN + NOUT + 1);
    /* verilator lint_off WIDTHTRUNC */
    localparam [CW-1:0] IN_LAST = NIN - 1;
    localparam [CW-1:0] OUT_LAST = NOUT - 1;
    /* verilator lint_on WIDTHTRUNC */

    reg [NIN*DATA_W-1:0] in_buf;
    reg [CW-1:0] in_cnt;
    reg in_full;
    reg [NOUT*DATA_W-1:0] out_buf;
    reg [CW-1:0] out_cnt;
    reg out_full;

    /* verilator lint_off WIDTHEXPAND */
    wire [NIN*DATA_W-1:0] beat_in = s_axis_tdata;    // zero-extended
    wire [NOUT*DATA_W-1:0] word_out = core_m_tdata;  // zero-extended
    /* verilator lint_on WIDTHEXPAND */
    wire s_fire = s_axis_tvalid && s_axis_tready;
    wire m_fire = m_axis_tvalid && m_axis_tready;
    wire in_done = s_axis_tlast || in_cnt == IN_LAST;
    wire out_last = out_cnt == OUT_LAST;

    assign s_axis_tready = !in_full && !rst;
    assign core_s_tdata = in_buf[IN_W-1:0];
    assign core_s_tvalid = in_full;
    assign core_m_tready = !out_full && !rst;
    assign m_axis_tdata = out_buf[out_cnt*DATA_W +: DATA_W];
    assign m_axis_tvalid = out_full;
    assign m_axis_tlast = out_last;

    always @(posedge clk) begin
        if (rst) begin
            in_cnt <= 0;
            in_full <= 1'b0;
            out_cnt <= 0;
            out_full <= 1'b0;
        end else begin
            if (s_fire) begin
                in_buf <= (in_cnt == 0 ? {(NIN*DATA_W){1'b0}} : in_buf) | (beat_in << (in_cnt * DATA_W));
                in_cnt <= in_done ? 0 : in_cnt + 1'b1;
                in_full <= in_done;
            end else if (core_s_tvalid && core_s_tready) begin
                in_full <= 1'b0;
            end
            if (core_m_tvalid && core_m_tready) begin
                out_buf <= word_out;
                out_cnt <= 0;
                out_full <= 1'b1;
            end else if (m_fire) begin
                out_cnt <= out_last ? 0 : out_cnt + 1'b1;
                out_full <= !out_last;
            end
        end
    end
endmodule
