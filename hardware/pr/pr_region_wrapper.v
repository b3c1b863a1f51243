`timescale 1ns / 1ps
// Static wrapper of the reconfigurable partition: decoupler + the partition cell u_rm.
// Every reconfigurable module (one per stage) is a module named stage_rm with these
// ports, a DATA_W-bit AXI4-Stream in and out, one output packet per input packet.
module pr_region_wrapper #(
    parameter integer DATA_W = 32
) (
    input clk,
    input rst,
    input decouple_req,
    output decouple_ack,
    input [DATA_W-1:0] s_axis_tdata,
    input s_axis_tvalid,
    output s_axis_tready,
    input s_axis_tlast,
    output [DATA_W-1:0] m_axis_tdata,
    output m_axis_tvalid,
    input m_axis_tready,
    output m_axis_tlast
);
    wire rm_reset;
    wire [DATA_W-1:0] to_rm_tdata, from_rm_tdata;
    wire to_rm_tvalid, to_rm_tready, to_rm_tlast;
    wire from_rm_tvalid, from_rm_tready, from_rm_tlast;

    pr_decoupler #(.DATA_W(DATA_W)) u_decoupler (
        .clk(clk), .rst(rst), .decouple_req(decouple_req), .decouple_ack(decouple_ack), .rm_reset(rm_reset),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .s_axis_tlast(s_axis_tlast),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready),
        .m_axis_tlast(m_axis_tlast),
        .rp_m_axis_tdata(to_rm_tdata), .rp_m_axis_tvalid(to_rm_tvalid), .rp_m_axis_tready(to_rm_tready),
        .rp_m_axis_tlast(to_rm_tlast),
        .rp_s_axis_tdata(from_rm_tdata), .rp_s_axis_tvalid(from_rm_tvalid), .rp_s_axis_tready(from_rm_tready),
        .rp_s_axis_tlast(from_rm_tlast)
    );

    stage_rm #(.DATA_W(DATA_W)) u_rm (
        .clk(clk), .rst(rst || rm_reset),
        .s_axis_tdata(to_rm_tdata), .s_axis_tvalid(to_rm_tvalid), .s_axis_tready(to_rm_tready),
        .s_axis_tlast(to_rm_tlast),
        .m_axis_tdata(from_rm_tdata), .m_axis_tvalid(from_rm_tvalid), .m_axis_tready(from_rm_tready),
        .m_axis_tlast(from_rm_tlast)
    );
endmodule
