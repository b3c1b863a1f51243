`timescale 1ns / 1ps
// Testbench wrapper of stream_fork.v: output i on its own bus m<i>_axis_* (N = 1..3),
// so cocotbext-axi sinks can drive each tready. Unused buses are tied off.
module stream_fork_tb #(
    parameter integer W = 8,
    parameter integer N = 2
) (
    input clk,
    input rst,
    input [W-1:0] s_axis_tdata,
    input s_axis_tlast,
    input s_axis_tvalid,
    output s_axis_tready,
    output [W-1:0] m0_axis_tdata, output m0_axis_tlast, output m0_axis_tvalid, input m0_axis_tready,
    output [W-1:0] m1_axis_tdata, output m1_axis_tlast, output m1_axis_tvalid, input m1_axis_tready,
    output [W-1:0] m2_axis_tdata, output m2_axis_tlast, output m2_axis_tvalid, input m2_axis_tready
);
    wire [N*W-1:0] data;
    wire [N-1:0] last, valid;
    // With N < 3 the fork reads only ready[N-1:0]; the spare buses' tready are tied-off bench inputs.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [2:0] ready = {m2_axis_tready, m1_axis_tready, m0_axis_tready};
    /* verilator lint_on UNUSEDSIGNAL */
    wire [3*W-1:0] data3;
    wire [2:0] last3, valid3;

    stream_fork #(.W(W), .N(N)) dut (
        .clk(clk), .rst(rst),
        .s_axis_tdata(s_axis_tdata), .s_axis_tlast(s_axis_tlast), .s_axis_tvalid(s_axis_tvalid),
        .s_axis_tready(s_axis_tready),
        .m_axis_tdata(data), .m_axis_tlast(last), .m_axis_tvalid(valid), .m_axis_tready(ready[N-1:0]));

    generate
        if (N < 3) begin : g_pad
            assign data3 = {{(3 - N) * W{1'b0}}, data};
            assign last3 = {{(3 - N){1'b0}}, last};
            assign valid3 = {{(3 - N){1'b0}}, valid};
        end else begin : g_full
            assign data3 = data;
            assign last3 = last;
            assign valid3 = valid;
        end
    endgenerate

    assign {m2_axis_tdata, m1_axis_tdata, m0_axis_tdata} = data3;
    assign {m2_axis_tlast, m1_axis_tlast, m0_axis_tlast} = last3;
    assign {m2_axis_tvalid, m1_axis_tvalid, m0_axis_tvalid} = valid3;
endmodule
