`timescale 1ns / 1ps
// Testbench wrapper: the width converters chained both ways.
//   n_axis (W) -> stream_gather -> stream_split -> nout_axis (W)
//   w_axis (N*W, tkeep) -> stream_split -> stream_gather -> wout_axis (N*W, tkeep)
module dwc_roundtrip_tb #(
    parameter integer W = 8,
    parameter integer N = 4
) (
    input clk,
    input rst,
    input [W-1:0] n_axis_tdata, input n_axis_tlast, input n_axis_tvalid, output n_axis_tready,
    output [W-1:0] nout_axis_tdata, output nout_axis_tlast, output nout_axis_tvalid, input nout_axis_tready,
    input [N*W-1:0] w_axis_tdata, input [N-1:0] w_axis_tkeep, input w_axis_tlast, input w_axis_tvalid,
    output w_axis_tready,
    output [N*W-1:0] wout_axis_tdata, output [N-1:0] wout_axis_tkeep, output wout_axis_tlast,
    output wout_axis_tvalid, input wout_axis_tready,
    output error
);
    wire [N*W-1:0] g_data;
    wire [N-1:0] g_keep;
    wire g_last, g_valid, g_ready;
    wire [W-1:0] s_data;
    wire s_last, s_valid, s_ready;
    wire error_a, error_b;

    stream_gather #(.W(W), .N(N)) gather_a (
        .clk(clk), .rst(rst),
        .s_axis_tdata(n_axis_tdata), .s_axis_tlast(n_axis_tlast), .s_axis_tvalid(n_axis_tvalid),
        .s_axis_tready(n_axis_tready),
        .m_axis_tdata(g_data), .m_axis_tkeep(g_keep), .m_axis_tlast(g_last), .m_axis_tvalid(g_valid),
        .m_axis_tready(g_ready), .error(error_a));
    stream_split #(.W(W), .N(N)) split_a (
        .clk(clk), .rst(rst),
        .s_axis_tdata(g_data), .s_axis_tkeep(g_keep), .s_axis_tlast(g_last), .s_axis_tvalid(g_valid),
        .s_axis_tready(g_ready),
        .m_axis_tdata(nout_axis_tdata), .m_axis_tlast(nout_axis_tlast), .m_axis_tvalid(nout_axis_tvalid),
        .m_axis_tready(nout_axis_tready));

    stream_split #(.W(W), .N(N)) split_b (
        .clk(clk), .rst(rst),
        .s_axis_tdata(w_axis_tdata), .s_axis_tkeep(w_axis_tkeep), .s_axis_tlast(w_axis_tlast),
        .s_axis_tvalid(w_axis_tvalid), .s_axis_tready(w_axis_tready),
        .m_axis_tdata(s_data), .m_axis_tlast(s_last), .m_axis_tvalid(s_valid), .m_axis_tready(s_ready));
    stream_gather #(.W(W), .N(N)) gather_b (
        .clk(clk), .rst(rst),
        .s_axis_tdata(s_data), .s_axis_tlast(s_last), .s_axis_tvalid(s_valid), .s_axis_tready(s_ready),
        .m_axis_tdata(wout_axis_tdata), .m_axis_tkeep(wout_axis_tkeep), .m_axis_tlast(wout_axis_tlast),
        .m_axis_tvalid(wout_axis_tvalid), .m_axis_tready(wout_axis_tready), .error(error_b));

    assign error = error_a | error_b;
endmodule
