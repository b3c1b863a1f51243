`timescale 1ns / 1ps
// Stand-in stage core with the streaming top of flows/stage_rtl (clk, rst, wide s_axis/m_axis,
// no tlast) around the real stream_shell: result = (input zero-extended or truncated to OUT_W) + 1.
module stage_core_model #(
    parameter integer IN_W = 40,
    parameter integer OUT_W = 72,
    parameter integer LATENCY = 3
) (
    input clk,
    input rst,
    input [IN_W-1:0] s_axis_tdata,
    input s_axis_tvalid,
    output s_axis_tready,
    output [OUT_W-1:0] m_axis_tdata,
    output m_axis_tvalid,
    input m_axis_tready
);
    wire [IN_W-1:0] core_in;
    reg [OUT_W-1:0] pipe [0:LATENCY-1];
    /* verilator lint_off WIDTHEXPAND */
    /* verilator lint_off WIDTHTRUNC */
    wire [OUT_W-1:0] f = core_in;
    /* verilator lint_on WIDTHTRUNC */
    /* verilator lint_on WIDTHEXPAND */
    integer i;
    always @(posedge clk) begin
        pipe[0] <= f + 1'b1;
        for (i = 1; i < LATENCY; i = i + 1) pipe[i] <= pipe[i-1];
    end
    stream_shell #(.IN_W(IN_W), .OUT_W(OUT_W), .LATENCY(LATENCY)) shell (
        .clk(clk), .rst(rst),
        .s_data(s_axis_tdata), .s_valid(s_axis_tvalid), .s_ready(s_axis_tready),
        .m_data(m_axis_tdata), .m_valid(m_axis_tvalid), .m_ready(m_axis_tready),
        .core_in(core_in), .core_out(pipe[LATENCY-1])
    );
endmodule
